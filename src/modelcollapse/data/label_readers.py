"""Read labels (``discrete`` data) as an int64 array (n,) of category codes.

Label rules: ``.txt`` has one label per line; ``.csv`` has a header and ``column`` (default
``"label"``, or the only column); ``.jsonl`` lines are scalars or objects with ``column``;
``.parquet`` is like ``.csv``; ``.npy`` is a 1-D array. Labels are integers or strings. When all
labels are integers in ``[0, 2**24)`` they are the category codes themselves (``categories`` is
None); otherwise the distinct labels, sorted as strings, are numbered from 0 and listed in
``result.categories``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.array_readers import load_npy, short
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
from modelcollapse.errors import DataError, did_you_mean

_MAX_CODE = 2**24  # integer labels above this are names, not codes: K would be absurd


def _label(value: Any, from_text: bool) -> int | str | None:
    """A label as int or str, or None when it cannot be one."""
    if isinstance(value, str):
        value = value.strip()
        if from_text:
            try:
                return int(value)
            except ValueError:
                pass
        return value if value else None
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if (
        isinstance(value, (float, np.floating))
        and math.isfinite(value)
        and float(value).is_integer()
    ):
        return int(value)
    return None


def _label_records(src: Path, gz: bool, fmt: str, column: str | None) -> Iterable[Rec | Bad]:
    """Records whose value is the raw label."""
    if fmt == "txt":
        yield from iter_text(src, gz)
        return
    if fmt == "npy":
        arr = load_npy(src)
        if arr.ndim != 1 or arr.dtype.kind not in "biufU":
            raise DataError(
                f"expected a 1-D array of labels, got shape {arr.shape} dtype {arr.dtype}",
                path=str(src),
            )
        for i, v in enumerate(arr.tolist()):
            yield Rec(i + 1, json.dumps(v, default=str), v)
        return
    if fmt == "jsonl":
        for rec in iter_json(src, gz):
            if isinstance(rec, Rec) and isinstance(rec.value, dict):
                key = column or (
                    "label"
                    if "label" in rec.value or len(rec.value) != 1
                    else next(iter(rec.value))
                )
                if key not in rec.value:
                    yield Bad(rec.line, f"missing field {key!r}", rec.raw)
                    continue
                rec = Rec(rec.line, rec.raw, rec.value[key])
            yield rec
        return
    if fmt == "parquet":
        names = parquet_file(src).schema_arrow.names
        records: Iterable[Rec | Bad] = iter_parquet(src)
    else:
        records = iter_csv(src, gz)
        names = []
    header: list[str] | None = names or None
    for rec in records:
        if isinstance(rec, Bad):
            yield rec
            continue
        if header is None:
            header = list(rec.value)
            check_header(src, header, rec.line, None)
            continue
        key = column or ("label" if "label" in header or len(header) != 1 else header[0])
        if key not in header:
            raise DataError(
                f"expected a {key!r} column{did_you_mean(key, header)}, got columns {header}",
                path=str(src),
            )
        if isinstance(rec.value, dict):
            yield Rec(rec.line, rec.raw, rec.value[key])
        elif len(rec.value) != len(header):
            yield Bad(rec.line, f"expected {len(header)} fields, got {len(rec.value)}", rec.raw)
        else:
            yield Rec(rec.line, rec.raw, rec.value[header.index(key)])


def read_labels(
    path: str | Path,
    *,
    column: str | None = None,
    on_error: str = "fail",
    quarantine: str | Path | None = None,
) -> tuple[np.ndarray, ReadResult]:
    """Read labels as int64 codes (n,); see the module docstring for the rules."""
    src = require_file(path)
    check_on_error(on_error)
    fmt, gz = detect_format(src)
    labels: list[int | str] = []
    with Quarantine(src, on_error, quarantine) as q:
        for rec in _label_records(src, gz, fmt, column):
            if isinstance(rec, Bad):
                q.reject(rec.line, rec.reason, rec.raw)
                continue
            label = _label(rec.value, from_text=fmt in ("txt", "csv"))
            if label is None:
                q.reject(
                    rec.line,
                    f"expected an integer or string label, got {json_type(rec.value)} {short(repr(rec.value))}",
                    rec.raw,
                    rec.value,
                )
            else:
                labels.append(label)
    q.check_found(len(labels))
    categories: list[str] | None = None
    if all(isinstance(v, int) and 0 <= v < _MAX_CODE for v in labels):
        y = np.asarray(labels, dtype=np.int64)
    else:
        categories = sorted({str(v) for v in labels})
        code = {c: i for i, c in enumerate(categories)}
        y = np.asarray([code[str(v)] for v in labels], dtype=np.int64)
    info = ReadResult(
        path=src, n_good=len(labels), n_bad=q.n_bad, quarantine_path=q.written,
        data_kind="discrete", categories=categories,
    )  # fmt: skip
    return y, info
