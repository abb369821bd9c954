"""Read numeric data as a float64 array (n, d), whole or chunk by chunk.

Numeric rules, by format (``columns`` picks and orders columns; without it):

- ``.npy``: a 1-D (becomes (n, 1)) or 2-D array of booleans, integers or floats; ``columns`` are
  integer indices. Row ``i`` is reported as line ``i + 1``. The file is memory-mapped.
- ``.csv``: the first row is a header when any of its fields is not a number. ``columns`` are
  header names or integer indices. Without ``columns`` a headerless file uses every column and a
  file with a header uses the columns in which more than half of the values are numbers, among
  the first :data:`SNIFF_ROWS` rows of the right width (so that the choice is made before the
  rest of the file is read).
- ``.jsonl``: each line is an array of numbers, or an object; ``.parquet``: rows are read like
  objects (numeric columns, or one list column). See :mod:`.array_records`.

A row is bad when a value is missing, not a number, NaN or infinite, or when it has a different
width from the first good row. Bad rows follow ``on_error`` (see
:mod:`modelcollapse.data.quarantine`).

:func:`iter_array` reads ``chunk_size`` records at a time and yields the good rows of each chunk,
so memory stays bounded on inputs larger than memory (one chunk, plus a Parquet row group or the
longest line); :func:`read_array` collects its chunks. Every chunk is first converted whole
(``np.array`` on the chunk's fields, which parses strings exactly as Python's ``float`` does);
only a chunk with something wrong in it is read record by record, to name each reason and keep
the rejections in file order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.array_records import ObjectRows, object_chunks, parquet_chunks
from modelcollapse.data.array_records import parquet_fields as _parquet_fields
from modelcollapse.data.quarantine import Quarantine, check_on_error
from modelcollapse.data.records import (
    Bad,
    ReadResult,
    Rec,
    check_header,
    detect_format,
    iter_csv,
    iter_json,
    require_file,
)
from modelcollapse.errors import DataError, InvalidParameterError, did_you_mean

DEFAULT_CHUNK_ROWS = 4096
# CSV with a header and without ``columns``: the numeric columns are chosen on this many rows.
SNIFF_ROWS = 4096


@dataclass(frozen=True)
class ArrayChunk:
    """Good rows of a numeric file: ``rows`` (b, d) finite float64, the line (row number for
    ``.npy`` and Parquet) of ``rows[0]`` and the names of the ``d`` columns."""

    rows: np.ndarray
    first_line: int
    names: list[str]


def short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _parse_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def load_npy(src: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(src, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"not a readable .npy file ({exc})", path=str(src)) from None


def _column_index(c: Any, names: list[str], *, has_names: bool, src: Path) -> int:
    if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
        if not 0 <= int(c) < len(names):
            raise InvalidParameterError(f"columns: expected indices in [0, {len(names)}), got {c}")
        return int(c)
    if has_names and isinstance(c, str) and c in names:
        return names.index(c)
    if not has_names:
        raise InvalidParameterError(
            f"columns: {src.name} has no header, so expected integer column indices, got {c!r}"
        )
    raise InvalidParameterError(
        f"columns: expected names from {names}, got {c!r}{did_you_mean(str(c), names)}"
    )


def _npy_chunks(
    src: Path, columns: Sequence[Any] | None, q: Quarantine, chunk_size: int
) -> Iterator[ArrayChunk]:
    arr = load_npy(src, mmap=True)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"expected a numeric array, got dtype {arr.dtype}", path=str(src))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"expected a 1-D or 2-D array, got shape {arr.shape}", path=str(src))
    names = [str(j) for j in range(arr.shape[1])]
    idx: list[int] | None = None
    if columns is not None:
        idx = [_column_index(c, names, has_names=False, src=src) for c in columns]
        names = [names[j] for j in idx]
    for start in range(0, arr.shape[0], chunk_size):
        block = arr[start : start + chunk_size]
        X = np.asarray(block if idx is None else block[:, idx], dtype=np.float64)
        bad = ~np.isfinite(X)
        rows = bad.any(axis=1)
        for i in np.flatnonzero(rows).tolist():
            j = int(np.flatnonzero(bad[i])[0])
            q.reject(
                start + i + 1,
                f"non-finite value {X[i, j]} in column {names[j]}",
                json.dumps(X[i].tolist()),
            )
        good = np.flatnonzero(~rows)
        if good.size:
            yield ArrayChunk(X[good], start + int(good[0]) + 1, names)


def _csv_row(fields: list[str], sel: list[int], names: list[str]) -> list[float] | str:
    row = []
    for j in sel:
        x = _parse_float(fields[j])
        if x is None:
            return f"expected a number in column {names[j]!r}, got {short(fields[j])!r}"
        if not math.isfinite(x):
            return f"non-finite value {fields[j].strip()} in column {names[j]!r}"
        row.append(x)
    return row


def _csv_block(
    block: list[Rec | Bad], width: int, sel: list[int], names: list[str], q: Quarantine
) -> tuple[np.ndarray, int | None]:
    """The good rows of a chunk of CSV records and the line of the first; rejections in order."""
    recs = [r for r in block if isinstance(r, Rec) and len(r.value) == width]
    fields = (
        [r.value for r in recs]
        if sel == list(range(width))
        else [[r.value[j] for j in sel] for r in recs]
    )
    try:  # numpy parses a str as float() does (underscores, Unicode digits, "nan", ...)
        arr = np.array(fields, dtype=np.float64).reshape(len(recs), len(sel))
        ok = np.isfinite(arr).all(axis=1)
    except ValueError:
        arr, ok = None, None
    if arr is not None and ok is not None and len(recs) == len(block) and ok.all():
        return arr, (block[0].line if block else None)
    rows: list[Any] = []
    first: int | None = None
    i = 0
    for r in block:
        if isinstance(r, Bad):
            q.reject(r.line, r.reason, r.raw)
            continue
        if len(r.value) != width:
            q.reject(r.line, f"expected {width} fields, got {len(r.value)}", r.raw)
            continue
        row: Any = arr[i] if arr is not None and ok is not None and ok[i] else None
        i += 1
        if row is None:
            row = _csv_row(r.value, sel, names)
            if isinstance(row, str):
                q.reject(r.line, row, r.raw)
                continue
        first = r.line if first is None else first
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(sel)), first


def _csv_chunks(
    src: Path, gz: bool, columns: Sequence[Any] | None, q: Quarantine, chunk_size: int
) -> Iterator[ArrayChunk]:
    records = iter_csv(src, gz)
    first = None
    for rec in records:  # records before the first good one are bad: reject them in order
        if isinstance(rec, Bad):
            q.reject(rec.line, rec.reason, rec.raw)
        else:
            first = rec
            break
    if first is None:
        return
    has_header = any(_parse_float(f) is None for f in first.value)
    pending: list[Rec | Bad] = []
    if has_header:
        names = list(first.value)
        check_header(src, names, first.line, None)
    else:
        names = [str(j) for j in range(len(first.value))]
        pending.append(first)
    width = len(names)
    if columns is not None:
        sel = [_column_index(c, names, has_names=has_header, src=src) for c in columns]
    elif has_header:
        # A column is numeric when most of its values are; the rest of its values are bad rows.
        # Decided on the first SNIFF_ROWS rows of the right width (records before the first of
        # them are bad whatever the columns: they are rejected at once, keeping the order).
        body: list[Rec] = []
        for rec in records:
            if isinstance(rec, Rec) and len(rec.value) == width:
                body.append(rec)
            elif not body:
                _csv_block([rec], width, [], names, q)  # rejects it
                continue
            pending.append(rec)
            if len(body) >= SNIFF_ROWS or len(pending) >= 4 * SNIFF_ROWS:
                break
        sel = [
            j
            for j in range(width)
            if 2 * sum(_parse_float(r.value[j]) is not None for r in body) > len(body)
        ]
        if body and not sel:
            raise DataError(f"expected numeric columns, got none among {names}", path=str(src))
    else:
        sel = list(range(width))
    out_names = [names[j] for j in sel]
    stream = chain(pending, records)
    while block := list(islice(stream, chunk_size)):
        rows, line = _csv_block(block, width, sel, names, q)
        if line is not None:
            yield ArrayChunk(rows, line, out_names)


def _object_chunks(
    src: Path, fmt: str, gz: bool, columns: Sequence[Any] | None, q: Quarantine, chunk_size: int
) -> Iterator[ArrayChunk]:
    if fmt == "jsonl":
        rules = ObjectRows(q, columns)
        chunks = object_chunks(iter_json(src, gz), rules, chunk_size)
    else:
        rules = ObjectRows(q, None, fields=_parquet_fields(src, columns))
        chunks = parquet_chunks(src, rules, chunk_size)
    for rows, line in chunks:
        yield ArrayChunk(rows, line, rules.names)


def iter_array(
    path: str | Path,
    q: Quarantine,
    *,
    columns: Sequence[str | int] | None = None,
    chunk_size: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[ArrayChunk]:
    """The good rows of a numeric file, ``chunk_size`` records at a time (module docstring).

    Bad records go to ``q`` as they are met; chunks without any good row are not yielded, so an
    input can yield nothing (check ``q.check_found`` afterwards).
    """
    src = require_file(path)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InvalidParameterError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    fmt, gz = detect_format(src)
    if fmt == "txt":
        raise DataError(
            "expected a numeric format (.npy, .csv, .jsonl, .parquet), got .txt", path=str(src)
        )
    if fmt == "npy":
        return _npy_chunks(src, columns, q, chunk_size)
    if fmt == "csv":
        return _csv_chunks(src, gz, columns, q, chunk_size)
    return _object_chunks(src, fmt, gz, columns, q, chunk_size)


def read_array(
    path: str | Path,
    *,
    columns: Sequence[str | int] | None = None,
    on_error: str = "fail",
    quarantine: str | Path | None = None,
) -> tuple[np.ndarray, ReadResult]:
    """Read numeric data as a float64 array (n, d); see the module docstring for the rules."""
    src = require_file(path)
    check_on_error(on_error)
    parts: list[np.ndarray] = []
    names: list[str] = []
    with Quarantine(src, on_error, quarantine) as q:
        for chunk in iter_array(src, q, columns=columns):
            parts.append(chunk.rows)
            names = chunk.names
    n = sum(len(p) for p in parts)
    q.check_found(n)
    X = np.concatenate(parts) if len(parts) > 1 else parts[0]
    info = ReadResult(
        path=src, n_good=n, n_bad=q.n_bad, quarantine_path=q.written,
        data_kind="numeric", columns=names,
    )  # fmt: skip
    return X, info
