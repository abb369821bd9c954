"""Read numeric data as a float64 array (n, d).

Numeric rules, by format (``columns`` picks and orders columns; without it):

- ``.npy``: a 1-D (becomes (n, 1)) or 2-D array of booleans, integers or floats; ``columns`` are
  integer indices. Row ``i`` is reported as line ``i + 1``.
- ``.csv``: the first row is a header when any of its fields is not a number. ``columns`` are
  header names or integer indices. Without ``columns`` a headerless file uses every column and a
  file with a header uses the columns in which more than half of the values are numbers.
- ``.jsonl``: each line is an array of numbers, or an object. For objects ``columns`` names the
  fields (a single field may hold an array of numbers); without it the fields are taken from the
  first good record: its number-valued (or null) fields in order, or, when it has none, its
  first field holding a non-empty array of numbers.
- ``.parquet``: rows are read like JSON objects (numeric columns, or one list column).

A row is bad when a value is missing, not a number, NaN or infinite, or when it has a different
width from the first good row. Bad rows follow ``on_error`` (see
:mod:`modelcollapse.data.quarantine`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
    json_type,
    parquet_file,
    require_file,
)
from modelcollapse.errors import DataError, InvalidParameterError, did_you_mean


def short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _parse_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _as_number(value: Any, where: str) -> float | str:
    """A JSON/Parquet value as a finite float, or the reason it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number in {where}, got {json_type(value)}"
    try:
        x = float(value)
    except OverflowError:
        return f"number in {where} is too large for float64"
    if not math.isfinite(x):
        return f"non-finite value {x} in {where}"
    return x


def load_npy(src: Path) -> np.ndarray:
    try:
        return np.load(src, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"not a readable .npy file ({exc})", path=str(src)) from None


def _npy_rows(
    src: Path, columns: Sequence[Any] | None, q: Quarantine
) -> tuple[np.ndarray, list[str]]:
    arr = load_npy(src)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"expected a numeric array, got dtype {arr.dtype}", path=str(src))
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DataError(f"expected a 1-D or 2-D array, got shape {arr.shape}", path=str(src))
    names = [str(j) for j in range(arr.shape[1])]
    if columns is not None:
        idx = [_column_index(c, names, has_names=False, src=src) for c in columns]
        arr, names = arr[:, idx], [names[j] for j in idx]
    X = arr.astype(np.float64)
    bad = ~np.isfinite(X)
    for i in np.flatnonzero(bad.any(axis=1)).tolist():
        j = int(np.flatnonzero(bad[i])[0])
        q.reject(
            i + 1, f"non-finite value {X[i, j]} in column {names[j]}", json.dumps(X[i].tolist())
        )
    return X[~bad.any(axis=1)], names


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


def _csv_rows(
    src: Path, gz: bool, columns: Sequence[Any] | None, q: Quarantine
) -> tuple[np.ndarray, list[str]]:
    records = list(iter_csv(src, gz))
    good = [r for r in records if isinstance(r, Rec)]
    if not good:
        for r in records:
            q.reject(r.line, r.reason, r.raw)
        return np.empty((0, 0)), []
    first = good[0]
    has_header = any(_parse_float(f) is None for f in first.value)
    if has_header:
        names = list(first.value)
        check_header(src, names, first.line, None)
        records = [r for r in records if r is not first]
    else:
        names = [str(j) for j in range(len(first.value))]
    width = len(names)
    body = [r for r in records if isinstance(r, Rec) and len(r.value) == width]
    if columns is not None:
        sel = [_column_index(c, names, has_names=has_header, src=src) for c in columns]
    elif has_header:
        # A column is numeric when most of its values are; the rest of its values are bad rows.
        sel = [
            j
            for j in range(width)
            if 2 * sum(_parse_float(r.value[j]) is not None for r in body) > len(body)
        ]
        if body and not sel:
            raise DataError(f"expected numeric columns, got none among {names}", path=str(src))
    else:
        sel = list(range(width))
    rows = []
    for r in records:
        if isinstance(r, Bad):
            q.reject(r.line, r.reason, r.raw)
        elif len(r.value) != width:
            q.reject(r.line, f"expected {width} fields, got {len(r.value)}", r.raw)
        else:
            row = _csv_row(r.value, sel, names)
            if isinstance(row, str):
                q.reject(r.line, row, r.raw)
            else:
                rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(sel)), [names[j] for j in sel]


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


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _auto_fields(value: dict[str, Any]) -> list[str] | None:
    """Fields of the first good object: its numeric (or null) fields, else its first array field.

    Null and NaN count as numeric here so that a missing value in the first record makes that
    record bad instead of silently dropping the whole column.
    """
    fields = [k for k, v in value.items() if v is None or _is_number(v)]
    if fields:
        return fields
    vec = [k for k, v in value.items() if isinstance(v, list) and v]
    return vec[:1] or None


def _record_row(
    value: Any, columns: Sequence[Any] | None, fields: list[str] | None
) -> tuple[list[float] | str, list[str] | None]:
    """One JSON/Parquet record as a row; also returns the field names used for objects."""
    if isinstance(value, list):
        if columns is not None:
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in columns):
                return f"expected an object with fields {list(columns)}, got array", fields
            if any(not -len(value) <= c < len(value) for c in columns):
                return (
                    f"expected an array with more than {max(columns)} elements, got {len(value)}",
                    fields,
                )
            value = [value[c] for c in columns]
        items = [_as_number(v, f"element {i}") for i, v in enumerate(value)]
    elif isinstance(value, dict):
        if fields is None:
            fields = _auto_fields(value)
            if fields is None:
                return f"expected numeric fields, got none among {list(value)}", None
        missing = [f for f in fields if f not in value]
        if missing:
            return f"missing field {missing[0]!r}{did_you_mean(missing[0], list(value))}", fields
        if len(fields) == 1 and isinstance(value[fields[0]], list):
            name = fields[0]
            items = [_as_number(v, f"field {name!r}[{i}]") for i, v in enumerate(value[name])]
        else:
            items = [_as_number(value[f], f"field {f!r}") for f in fields]
    else:
        return f"expected a JSON array of numbers or an object, got {json_type(value)}", fields
    reason = next((x for x in items if isinstance(x, str)), None)
    return (reason if reason is not None else items), fields  # type: ignore[return-value]


def _object_rows(
    records: Iterable[Rec | Bad],
    columns: Sequence[Any] | None,
    q: Quarantine,
    fields: list[str] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Rows from JSON values or Parquet dicts. ``fields`` fixes the object fields up front."""
    if fields is None and columns is not None and all(isinstance(c, str) for c in columns):
        fields = list(columns)  # type: ignore[arg-type]
    width: int | None = None
    rows: list[list[float]] = []
    for rec in records:
        if isinstance(rec, Bad):
            q.reject(rec.line, rec.reason, rec.raw)
            continue
        row, chosen = _record_row(rec.value, columns, fields)
        if isinstance(row, list) and width is not None and len(row) != width:
            row = f"expected {width} values, got {len(row)}"
        if isinstance(row, str):
            q.reject(rec.line, row, rec.raw, rec.value)
            continue
        if width is None:
            width = len(row)
            if isinstance(rec.value, dict):
                fields = chosen
        rows.append(row)
    width = width or 0
    if fields and len(fields) == width:
        names = list(fields)
    elif fields:
        names = [f"{fields[0]}[{j}]" for j in range(width)]
    else:
        names = [str(c) for c in columns] if columns is not None else [str(j) for j in range(width)]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width), names


def _parquet_fields(src: Path, columns: Sequence[Any] | None) -> list[str]:
    """The Parquet columns to read: ``columns``, else numeric columns, else one list column."""
    import pyarrow as pa

    schema = parquet_file(src).schema_arrow
    if columns is not None:
        return [str(c) for c in columns]
    numeric = [
        f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    ]
    if numeric:
        return numeric
    lists = [
        f.name
        for f in schema
        if pa.types.is_list(f.type)
        or pa.types.is_large_list(f.type)
        or pa.types.is_fixed_size_list(f.type)
    ]
    if not lists:
        raise DataError(f"expected numeric columns, got none among {schema.names}", path=str(src))
    return lists[:1]


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
    fmt, gz = detect_format(src)
    if fmt == "txt":
        raise DataError(
            "expected a numeric format (.npy, .csv, .jsonl, .parquet), got .txt", path=str(src)
        )
    with Quarantine(src, on_error, quarantine) as q:
        if fmt == "npy":
            X, names = _npy_rows(src, columns, q)
        elif fmt == "csv":
            X, names = _csv_rows(src, gz, columns, q)
        elif fmt == "jsonl":
            X, names = _object_rows(iter_json(src, gz), columns, q)
        else:
            fields = _parquet_fields(src, columns)
            X, names = _object_rows(iter_parquet(src, fields), None, q, fields)
    q.check_found(len(X))
    info = ReadResult(
        path=src, n_good=len(X), n_bad=q.n_bad, quarantine_path=q.written,
        data_kind="numeric", columns=names,
    )  # fmt: skip
    return X, info
