"""A cache of de-quantised GGUF models, stored as safetensors.

De-quantising SmolLM2-135M's Q4_1 GGUF to float32 and converting its tokenizer takes ~25 s on
2 cores; reading the same weights back from safetensors takes well under a second. The first load
of a GGUF file writes ``model.safetensors`` + ``config.json`` + ``generation_config.json``
(``save_pretrained``) and ``tokenizer.json`` to

    <root>/dequantized/<sha256 of the GGUF file, 20 hex digits>-transformers-<version>/

where ``<root>`` is ``$MODELCOLLAPSE_CACHE``, else ``$XDG_CACHE_HOME/modelcollapse``, else
``~/.cache/modelcollapse``. The key changes whenever the GGUF bytes or the transformers version
(which does the de-quantisation) change, so a stale entry is never read. Entries are written to a
temporary directory and renamed into place, so a crash never leaves a half-written entry under
the final name; an entry that still fails to load (e.g. a truncated file) is deleted with a
warning and rebuilt from the GGUF file. Nothing here is pickled: safetensors and JSON only.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from modelcollapse.generators.hf_loading import require_transformers
from modelcollapse.generators.torch_utils import require_torch

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from tokenizers import Tokenizer

_TOKENIZER = "tokenizer.json"
_WEIGHTS = "model.safetensors"


def cache_root() -> Path:
    """The directory under which this toolkit caches derived files."""
    env = os.environ.get("MODELCOLLAPSE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "modelcollapse"


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the memo key, so an edited file is hashed again
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (memoised per path, size and modification time)."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


def dequantized_dir(gguf: Path) -> Path:
    """The cache entry of a GGUF file for the installed transformers version."""
    transformers = require_transformers()
    key = f"{file_sha256(gguf)[:20]}-transformers-{transformers.__version__}"
    return cache_root() / "dequantized" / key


def _read(entry: Path) -> tuple[torch.nn.Module, Tokenizer]:
    torch = require_torch()
    transformers = require_transformers()
    from tokenizers import Tokenizer

    if not (entry / _WEIGHTS).is_file() or not (entry / _TOKENIZER).is_file():
        raise FileNotFoundError(f"expected {_WEIGHTS} and {_TOKENIZER} in {entry}")
    with torch.random.fork_rng(devices=[]):
        model = transformers.AutoModelForCausalLM.from_pretrained(
            entry, local_files_only=True, use_safetensors=True, dtype=torch.float32
        )
    return model.eval(), Tokenizer.from_file(str(entry / _TOKENIZER))


def _write(entry: Path, model: torch.nn.Module, tok: Tokenizer) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=entry.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save(str(tmp / _TOKENIZER))
        try:
            os.rename(tmp, entry)  # atomic; fails if another process finished first
        except OSError:
            if not (entry / _WEIGHTS).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_dequantized(
    gguf: Path, load_gguf: Callable[[], tuple[torch.nn.Module, Tokenizer]]
) -> tuple[torch.nn.Module, Tokenizer]:
    """The model and tokenizer of ``gguf``: from the cache, else ``load_gguf()`` (then cached).

    A cache that cannot be written (read-only home, full disk) only costs a warning.
    """
    entry = dequantized_dir(gguf)
    if entry.is_dir():
        try:
            return _read(entry)
        except Exception as exc:  # any unreadable entry is a cache miss; the GGUF is the truth
            warnings.warn(
                f"ignoring the unreadable model cache {entry} ({exc}); rebuilding it",
                RuntimeWarning,
                stacklevel=2,
            )
            shutil.rmtree(entry, ignore_errors=True)
    model, tok = load_gguf()
    try:
        _write(entry, model, tok)
    except OSError as exc:
        warnings.warn(
            f"could not write the model cache {entry} ({exc})", RuntimeWarning, stacklevel=2
        )
    return model, tok
