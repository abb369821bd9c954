"""Write Documents to JSON lines or Parquet, atomically, keeping metadata and provenance.

- ``write_jsonl``: one flat JSON object per line, ``{"id", "text", **metadata}``, which is what
  :func:`modelcollapse.data.readers.read_documents` reads back into the same Documents.
  Metadata keys ``"id"`` and ``"text"`` would collide with the record fields and are refused.
- ``write_parquet``: string columns ``id``, ``text`` and ``metadata`` (the metadata dict as a JSON
  string, so heterogeneous metadata needs no common schema); the reader merges it back.

Both write to a temporary file in the target folder and ``os.replace`` it into place, so a
crash never leaves a half-written file under the final name. Metadata values must be
JSON-serialisable; numpy scalars and arrays are converted to Python numbers and lists.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from modelcollapse.data.document import Document
from modelcollapse.errors import DataError, InvalidParameterError

_RESERVED = ("id", "text")


def _default(value: Any) -> Any:
    """JSON fallback for numpy values (the usual non-JSON types in metadata)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"expected JSON-serialisable metadata, got {type(value).__name__}")


def _dumps(obj: Any, doc_id: str, *, ensure_ascii: bool) -> str:
    try:
        return json.dumps(obj, ensure_ascii=ensure_ascii, default=_default)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"document {doc_id!r}: {exc}") from None


def _encode_line(obj: dict[str, Any], doc_id: str) -> bytes:
    try:
        return _dumps(obj, doc_id, ensure_ascii=False).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8; ASCII escapes keep them exactly.
        return _dumps(obj, doc_id, ensure_ascii=True).encode("ascii") + b"\n"


def _check(doc: Any) -> Document:
    if not isinstance(doc, Document):
        raise InvalidParameterError(f"expected Document objects, got {type(doc).__name__}")
    if not isinstance(doc.text, str) or not isinstance(doc.id, str):
        raise InvalidParameterError(
            f"document {doc.id!r}: expected string id and text, got "
            f"{type(doc.id).__name__} and {type(doc.text).__name__}"
        )
    for name, value in (("id", doc.id), ("text", doc.text)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            # The readers refuse such text too: no UTF-8 consumer downstream could handle it.
            raise DataError(
                f"document {doc.id!r}: expected {name} encodable as UTF-8, got an unpaired "
                f"surrogate at character {exc.start}"
            ) from None
    clash = [k for k in _RESERVED if k in doc.metadata]
    if clash:
        raise InvalidParameterError(
            f"document {doc.id!r}: metadata key {clash[0]!r} collides with the record field"
        )
    return doc


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed onto ``path`` when the block succeeds."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise InvalidParameterError(f"expected a file path, got directory {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_lines(fh: IO[bytes], docs: Iterable[Document]) -> int:
    n = 0
    for doc in docs:
        doc = _check(doc)
        record = {"id": doc.id, "text": doc.text, **doc.metadata}
        fh.write(_encode_line(record, doc.id))
        n += 1
    return n


def write_jsonl(docs: Iterable[Document], path: str | Path) -> int:
    """Write Documents as JSON lines (``.jsonl``, or gzipped when ``path`` ends in ``.gz``).

    Returns the number of documents written.
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        if target.suffix.lower() == ".gz":
            import gzip

            with gzip.open(tmp, "wb") as fh:
                return _write_lines(fh, docs)
        with open(tmp, "wb") as fh:
            return _write_lines(fh, docs)


def write_parquet(docs: Iterable[Document], path: str | Path) -> int:
    """Write Documents as Parquet with string columns id, text and metadata (JSON).

    Returns the number of documents written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids: list[str] = []
    texts: list[str] = []
    metas: list[str] = []
    for doc in docs:
        doc = _check(doc)
        ids.append(doc.id)
        texts.append(doc.text)
        # ASCII escapes keep any lone surrogate in metadata representable in UTF-8.
        metas.append(_dumps(doc.metadata, doc.id, ensure_ascii=True))
    schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("metadata", pa.string())])
    table = pa.table({"id": ids, "text": texts, "metadata": metas}, schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return len(ids)
