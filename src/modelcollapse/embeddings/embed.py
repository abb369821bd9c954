"""``embed_texts``: sentence embeddings for a list of texts, computed once and cached on disk.

Each distinct text is looked up in the :class:`~modelcollapse.embeddings.cache.EmbeddingCache`
by the sha256 of the text and the model identity; only the misses run through the model, longest
first so each batch pads to similar lengths, and every batch is committed to the cache as soon as
it is computed (a killed run keeps its finished batches). A call whose texts are all cached never
loads the model.

Default cache directory: ``$MODELCOLLAPSE_CACHE/embeddings/<model-id>/`` when the environment
variable is set, else ``${XDG_CACHE_HOME:-~/.cache}/modelcollapse/embeddings/<model-id>/``, where
``<model-id>`` is the model name and the first 12 hex digits of its weights fingerprint. An
explicit ``cache_dir`` is used as is (keys include the model identity, so models can share it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.embeddings.cache import EmbeddingCache, cache_key
from modelcollapse.embeddings.model import Encoder, load_encoder, model_id
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.progress import progress_bar


def cache_root() -> Path:
    """Root of modelcollapse's caches: ``$MODELCOLLAPSE_CACHE`` or ``~/.cache/modelcollapse``."""
    env = os.environ.get("MODELCOLLAPSE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "modelcollapse"


def default_cache_dir(encoder: Encoder) -> Path:
    """``<cache root>/embeddings/<model-id>/`` for ``encoder``."""
    return cache_root() / "embeddings" / model_id(encoder)


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise DataError(f"texts: expected a list of str, got a single {type(texts).__name__}")
    if not isinstance(texts, (Sequence, np.ndarray)):
        raise DataError(f"texts: expected a list of str, got {type(texts).__name__}")
    out: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"texts: expected str at index {i}, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(
                f"texts: expected valid Unicode at index {i}, got an unpaired surrogate "
                f"{text[exc.start]!r} at character {exc.start}"
            ) from None
        out.append(str(text))  # np.str_ -> str
    return out


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise InvalidParameterError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    if batch_size < 1:
        raise InvalidParameterError(f"batch_size: expected an integer >= 1, got {batch_size}")
    return int(batch_size)


def _encode_batch(encoder: Encoder, batch: list[str], first_index: list[int]) -> np.ndarray:
    """Run the model on one batch and check what it returned."""
    out = np.asarray(encoder.encode(batch), dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != len(batch) or out.shape[1] < 1:
        raise InvalidParameterError(
            f"model {encoder.name!r}: expected embeddings of shape ({len(batch)}, d), "
            f"got shape {out.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        raise DataError(
            f"model {encoder.name!r}: expected finite embeddings, got NaN or inf for the text "
            f"at index {first_index[int(bad[0])]}"
        )
    return out


def embed_texts(
    texts: list[str],
    *,
    model: str | Path | Encoder | None = None,
    cache_dir: Path | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> np.ndarray:
    """Sentence embeddings of ``texts``, shape (len(texts), d), float32, row i for ``texts[i]``.

    Args:
        texts: the documents. Every item must be a ``str`` (DataError names the first index
            that is not, or that holds an unpaired surrogate). An empty list gives (0, d).
        model: None or ``"all-MiniLM-L6-v2"`` for the packaged model (d = 384); the path of a
            local sentence-transformers folder; or any :class:`~modelcollapse.embeddings.Encoder`
            (the seam for custom or fake models). Nothing is ever downloaded.
        cache_dir: where the cache lives; default :func:`default_cache_dir`.
        batch_size: texts per model call (and per cache transaction).
        progress: show a rich progress bar when more than one batch must be computed.

    Vectors are returned as the model produces them: the default model L2-normalises, so its
    rows have unit length; a local model whose pipeline lacks a Normalize module gives raw
    vectors. Metrics that need a normalisation (e.g. a cosine kernel) apply it themselves.
    Identical texts are embedded once; cached texts are never recomputed, and the first vector
    stored for a text is the one every later call returns.
    """
    items = _check_texts(texts)
    batch_size = _check_batch_size(batch_size)
    encoder = load_encoder(model)
    if not items:
        return np.empty((0, int(encoder.dim)), dtype=np.float32)

    name, fingerprint = str(encoder.name), str(encoder.fingerprint)
    keys = [cache_key(name, fingerprint, text) for text in items]
    first: dict[bytes, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    directory = (
        Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir(encoder)
    )

    with EmbeddingCache(directory) as cache:
        vectors = cache.get(list(first))
        missing = sorted(
            (k for k in first if k not in vectors), key=lambda k: -len(items[first[k]])
        )
        if missing:
            show = progress and len(missing) > batch_size
            with progress_bar(show, len(missing), f"embedding ({name})", stderr=True) as advance:
                for start in range(0, len(missing), batch_size):
                    batch_keys = missing[start : start + batch_size]
                    index = [first[k] for k in batch_keys]
                    out = _encode_batch(encoder, [items[i] for i in index], index)
                    cache.put(zip(batch_keys, out, strict=True))
                    vectors.update(zip(batch_keys, out, strict=True))
                    advance(len(batch_keys))

    dims = {v.shape[0] for v in vectors.values()}
    if len(dims) != 1:
        raise DataError(
            f"expected one embedding dimension for model {name!r}, got {sorted(dims)}; the cache "
            "mixes vectors of different models under one identity, delete it to rebuild",
            path=str(directory),
        )
    return np.stack([vectors[k] for k in keys]).astype(np.float32, copy=False)
