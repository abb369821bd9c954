"""Read a user's data file into Documents (text) or arrays (numeric, discrete).

Formats, by extension: ``.jsonl``/``.ndjson`` (one JSON object per line), ``.csv`` (with a header
row for text), ``.parquet``, ``.txt`` (one document per line) and ``.npy`` (numeric or label
arrays only); ``.jsonl``, ``.ndjson``, ``.csv`` and ``.txt`` may be gzipped (``.jsonl.gz``).

A record becomes ``Document(id, text, metadata)``:

- ``text`` is the ``text_field`` value, which must be a string;
- ``id`` is the ``id_field`` value (a string or an integer), else ``"<file stem>:<line>"``;
- ``metadata`` holds every other field. ``metadata["provenance"]`` is kept when present (a JSON
  object, or a string holding one, with ``source`` in human/synthetic/unknown; missing keys are
  filled in) and is otherwise set with source ``"unknown"``. In Parquet, a ``metadata`` column
  holding a JSON object (what :func:`modelcollapse.data.writers.write_parquet` writes) is merged
  back into the metadata.

Bad records (invalid UTF-8, invalid JSON, not a JSON object, a missing or non-string text field,
a bad id, wrong number of CSV fields) follow ``on_error``; see :mod:`modelcollapse.data.quarantine`.
A file without any record raises DataError "no records". Errors from the JSON, CSV and Parquet
libraries never escape as raw tracebacks: they become :class:`DataError` with ``file:line``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from modelcollapse.data.array_readers import read_array
from modelcollapse.data.document import Document, provenance
from modelcollapse.data.label_readers import read_labels
from modelcollapse.data.quarantine import Quarantine, check_on_error
from modelcollapse.data.records import (
    Bad,
    ReadResult,
    Rec,
    check_header,
    detect_format,
    iter_csv,
    iter_json,
    iter_parquet,
    iter_text,
    json_type,
    parquet_file,
    require_file,
)
from modelcollapse.errors import DataError, InvalidParameterError, did_you_mean

__all__ = ["ReadResult", "read_array", "read_data", "read_documents", "read_labels"]

ReadKind = Literal["auto", "numeric", "text", "discrete"]
_SOURCES = ("human", "synthetic", "unknown")


def _provenance(value: Any, text: str) -> dict[str, Any] | str:
    """The record's provenance, completed, or the reason it is invalid."""
    if value is None:
        return provenance(text, source="unknown")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return "expected field 'provenance' to be a JSON object, got a string that is not JSON"
    if not isinstance(value, dict):
        return f"expected field 'provenance' to be an object, got {json_type(value)}"
    source = value.get("source", "unknown")
    if source not in _SOURCES:
        return f"expected provenance source in {list(_SOURCES)}, got {source!r}"
    filled = provenance(text, source=source)
    filled.update(value)
    return filled


def to_document(obj: Any, line: int, stem: str, text_field: str, id_field: str) -> Document | str:
    """Build a Document from one parsed record, or return the reason it is bad."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {json_type(obj)}"
    if text_field not in obj:
        hint = did_you_mean(text_field, [str(k) for k in obj])
        return f"missing text field {text_field!r}{hint}"
    text = obj[text_field]
    if not isinstance(text, str):
        return f"expected field {text_field!r} to be a string, got {json_type(text)}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A JSON "\ud800" escape decodes to a lone surrogate that no UTF-8 writer can store.
        return f"text contains an unpaired surrogate at character {exc.start}"
    raw_id = obj.get(id_field)
    if raw_id is None:
        doc_id = f"{stem}:{line}"
    elif isinstance(raw_id, str):
        doc_id = raw_id
    elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
        doc_id = str(raw_id)
    else:
        return f"expected field {id_field!r} to be a string or integer, got {json_type(raw_id)}"
    metadata = {k: v for k, v in obj.items() if k not in (text_field, id_field)}
    prov = _provenance(metadata.get("provenance"), text)
    if isinstance(prov, str):
        return prov
    metadata["provenance"] = prov
    return Document(id=doc_id, text=text, metadata=metadata)


def _csv_objects(path: Path, gz: bool, text_field: str) -> Iterator[Rec | Bad]:
    """CSV records as dicts keyed by the header row (which must name ``text_field``)."""
    header: list[str] | None = None
    for rec in iter_csv(path, gz):
        if isinstance(rec, Bad):
            yield rec
        elif header is None:
            header = rec.value
            check_header(path, header, rec.line, text_field)
        elif len(rec.value) != len(header):
            yield Bad(rec.line, f"expected {len(header)} fields, got {len(rec.value)}", rec.raw)
        else:
            yield Rec(rec.line, rec.raw, dict(zip(header, rec.value, strict=True)))


def _parquet_objects(path: Path, text_field: str) -> Iterator[Rec]:
    """Parquet rows, with the JSON ``metadata`` column our writer uses merged back in."""
    names = parquet_file(path).schema_arrow.names
    if text_field not in names:
        hint = did_you_mean(text_field, names)
        raise DataError(
            f"expected a {text_field!r} column{hint}, got columns {names}", path=str(path)
        )
    for rec in iter_parquet(path):
        row = rec.value
        meta = row.get("metadata")
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except (ValueError, RecursionError):
                meta = None
        if isinstance(meta, dict):
            row = {k: v for k, v in row.items() if k != "metadata"} | meta
        yield Rec(rec.line, rec.raw, row)


def text_records(path: Path, text_field: str = "text") -> Iterator[Rec | Bad]:
    """The raw records of a text data file (JSONL, CSV, Parquet or TXT, gzipped too), bad ones
    as :class:`Bad`; DataError for ``.npy``, before anything is read."""
    fmt, gz = detect_format(path)
    if fmt == "jsonl":
        return iter_json(path, gz)
    if fmt == "csv":
        return _csv_objects(path, gz, text_field)
    if fmt == "parquet":
        return _parquet_objects(path, text_field)
    if fmt == "txt":
        return (
            Rec(r.line, r.raw, {text_field: r.value}) if isinstance(r, Rec) else r
            for r in iter_text(path, gz)
        )
    raise DataError(
        "expected a text format (.jsonl, .ndjson, .csv, .parquet, .txt), got .npy", path=str(path)
    )


def iter_documents(
    path: Path,
    q: Quarantine,
    text_field: str = "text",
    id_field: str = "id",
    *,
    prepare: Callable[[Any], Any] | None = None,
) -> Iterator[tuple[Rec, Document]]:
    """The good records of a text data file, streamed, as ``(record, Document)``; bad ones go
    to ``q``. ``prepare`` may rewrite a record's object before it becomes a Document (the
    record itself keeps the original, for the quarantine)."""
    records = text_records(path, text_field)
    stem = Path(path.name.removesuffix(".gz").removesuffix(".GZ")).stem
    for rec in records:
        if isinstance(rec, Bad):
            q.reject(rec.line, rec.reason, rec.raw)
            continue
        value = rec.value if prepare is None else prepare(rec.value)
        doc = to_document(value, rec.line, stem, text_field, id_field)
        if isinstance(doc, str):
            q.reject(rec.line, doc, rec.raw, rec.value)
        else:
            yield rec, doc


def read_documents(
    path: str | Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    on_error: str = "fail",
    quarantine: str | Path | None = None,
) -> ReadResult:
    """Read a text data file into Documents (see the module docstring for the rules)."""
    src = require_file(path)
    check_on_error(on_error)
    with Quarantine(src, on_error, quarantine) as q:
        docs = [doc for _, doc in iter_documents(src, q, text_field, id_field)]
    q.check_found(len(docs))
    return ReadResult(
        path=src,
        n_good=len(docs),
        n_bad=q.n_bad,
        quarantine_path=q.written,
        documents=docs,
        data_kind="text",
    )


def _has_text_field(src: Path, text_field: str) -> bool:
    """Whether the file's records carry ``text_field`` (decides ``kind="auto"``)."""
    fmt, gz = detect_format(src)
    if fmt == "txt":
        return True
    if fmt == "npy":
        return False
    if fmt == "parquet":
        return text_field in parquet_file(src).schema_arrow.names
    records = iter_json(src, gz) if fmt == "jsonl" else iter_csv(src, gz)
    for rec in records:
        if isinstance(rec, Rec):
            value = rec.value
            return (text_field in value) if isinstance(value, (dict, list)) else False
    return False


def read_data(
    path: str | Path,
    kind: ReadKind = "auto",
    *,
    text_field: str = "text",
    id_field: str = "id",
    columns: list[str] | list[int] | str | None = None,
    on_error: str = "fail",
    quarantine: str | Path | None = None,
) -> tuple[Any, ReadResult]:
    """Read any supported file as one data kind; returns ``(data, result)``.

    - ``"text"``: ``list[str]`` of document texts (the Documents are in ``result.documents``);
    - ``"numeric"``: float64 array (n, d), see :func:`read_array`;
    - ``"discrete"``: int64 array (n,), see :func:`read_labels` (``columns`` names the label column);
    - ``"auto"``: text when the records have ``text_field`` (and for ``.txt``), else numeric.
    """
    src = require_file(path)
    check_on_error(on_error)
    if kind not in ("auto", "numeric", "text", "discrete"):
        hint = did_you_mean(str(kind), ["auto", "numeric", "text", "discrete"])
        raise InvalidParameterError(
            f"kind: expected 'auto', 'numeric', 'text' or 'discrete', got {kind!r}{hint}"
        )
    if isinstance(columns, str):
        columns = [columns]
    if kind == "auto":
        kind = "text" if _has_text_field(src, text_field) else "numeric"
    if kind == "text":
        result = read_documents(
            src, text_field=text_field, id_field=id_field, on_error=on_error, quarantine=quarantine
        )
        return [d.text for d in result.documents], result
    if kind == "numeric":
        return read_array(src, columns=columns, on_error=on_error, quarantine=quarantine)
    if columns is not None and len(columns) != 1:
        raise InvalidParameterError(f"columns: expected one label column, got {columns!r}")
    column = None if columns is None else columns[0]
    return read_labels(src, column=column, on_error=on_error, quarantine=quarantine)
