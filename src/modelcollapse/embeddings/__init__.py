"""Sentence embeddings for text, offline, cached on disk by content hash.

``embed_texts(texts)`` embeds documents with the packaged all-MiniLM-L6-v2 (384 dimensions, unit
length) or any local sentence-transformers folder; vectors are cached in SQLite by the sha256 of
the text and the model's weights, so each text runs through the model once. Needs the ``hf``
extra (``pip install 'modelcollapse[hf]'``); importing this package does not import torch.
"""

from modelcollapse.embeddings.cache import EmbeddingCache, cache_key
from modelcollapse.embeddings.embed import cache_root, default_cache_dir, embed_texts
from modelcollapse.embeddings.model import (
    DEFAULT_DIM,
    DEFAULT_MODEL,
    MODEL_CITATION,
    Encoder,
    SentenceTransformerEncoder,
    load_encoder,
    model_fingerprint,
    packaged_model_path,
    resolve_model_path,
)

__all__ = [
    "DEFAULT_DIM",
    "DEFAULT_MODEL",
    "MODEL_CITATION",
    "EmbeddingCache",
    "Encoder",
    "SentenceTransformerEncoder",
    "cache_key",
    "cache_root",
    "default_cache_dir",
    "embed_texts",
    "load_encoder",
    "model_fingerprint",
    "packaged_model_path",
    "resolve_model_path",
]
