"""Numeric rows from JSON values and Parquet rows, chunk by chunk (see :mod:`.array_readers`).

A record is a JSON array of numbers, or an object. For objects ``columns`` names the fields (a
single field may hold an array of numbers); without it the fields are taken from the first good
record: its number-valued (or null) fields in order, or, when it has none, its first field
holding a non-empty array of numbers. Parquet rows are read like objects (the numeric columns,
or one list column). A record is bad when a value is missing, not a number, NaN or infinite, or
when it has a different width from the first good row; an empty array is not a row.

Each chunk of records is first tried whole (a type check and one ``np.array`` call; for Parquet,
Arrow's own column buffers); only a chunk holding something wrong goes through the record rules
one record at a time, which name the reason and keep the file order of the rejections. Both
routes give the same rows: the fast one only takes chunks in which every value is a plain JSON
number (or an integer or floating Arrow value) and every row is finite and of the known width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.quarantine import Quarantine
from modelcollapse.data.records import Bad, Rec, json_type, parquet_file
from modelcollapse.errors import DataError, did_you_mean

_NUMBER_TYPES = frozenset({int, float})


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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


def record_row(
    value: Any, columns: Sequence[Any] | None, fields: list[str] | None
) -> tuple[list[float] | str, list[str] | None]:
    """One JSON/Parquet record as a row, or the reason it is bad; also returns the field names
    used for objects."""
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
    if not items:  # a row of width 0 would make every other row bad
        return "expected at least one number, got an empty array", fields
    reason = next((x for x in items if isinstance(x, str)), None)
    return (reason if reason is not None else items), fields  # type: ignore[return-value]


def _finite_or_none(rows: Any, width: int) -> np.ndarray | None:
    """``rows`` as a finite float64 array (n, width), or None when that is not exactly it."""
    try:
        arr = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 2 or arr.shape[1] != width or not np.isfinite(arr).all():
        return None
    return arr


@dataclass
class ObjectRows:
    """The record rules of a JSON/Parquet file with their state: the width and the fields of the
    first good row. ``fields`` may be fixed up front (Parquet, or ``columns`` of names)."""

    q: Quarantine
    columns: Sequence[Any] | None = None
    fields: list[str] | None = None
    width: int | None = None
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        names_given = self.columns is not None and all(isinstance(c, str) for c in self.columns)
        if self.fields is None and names_given:
            self.fields = [str(c) for c in self.columns]  # type: ignore[union-attr]

    def _set_names(self) -> None:
        width = self.width or 0
        if self.fields and len(self.fields) == width:
            self.names = list(self.fields)
        elif self.fields:
            self.names = [f"{self.fields[0]}[{j}]" for j in range(width)]
        elif self.columns is not None:
            self.names = [str(c) for c in self.columns]
        else:
            self.names = [str(j) for j in range(width)]

    def fast(self, values: list[Any]) -> np.ndarray | None:
        """The rows of a chunk of parsed values when every one is good, else None."""
        if self.width is None or not values:
            return None
        if self.fields is None:  # arrays of numbers
            if self.columns is not None or not all(type(v) is list for v in values):
                return None
            rows: Any = values
        else:
            if not all(type(v) is dict for v in values):
                return None
            try:
                if len(self.fields) == 1:
                    name = self.fields[0]
                    rows = [v[name] for v in values]
                    if all(type(r) in _NUMBER_TYPES for r in rows):
                        rows = [[r] for r in rows]
                    elif not all(type(r) is list for r in rows):
                        return None
                else:
                    rows = [[v[f] for f in self.fields] for v in values]
            except KeyError:
                return None
        if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
            return None  # booleans, nulls, strings, nested values: the record rules say why
        return _finite_or_none(rows, self.width)

    def slow(self, records: Iterable[Rec | Bad]) -> tuple[np.ndarray, int | None]:
        """The good rows of ``records`` and the line of the first, rejecting the bad ones in
        file order."""
        rows: list[list[float]] = []
        first: int | None = None
        for rec in records:
            if isinstance(rec, Bad):
                self.q.reject(rec.line, rec.reason, rec.raw)
                continue
            row, chosen = record_row(rec.value, self.columns, self.fields)
            if isinstance(row, list) and self.width is not None and len(row) != self.width:
                row = f"expected {self.width} values, got {len(row)}"
            if isinstance(row, str):
                self.q.reject(rec.line, row, rec.raw, rec.value)
                continue
            if self.width is None:
                self.width = len(row)
                if isinstance(rec.value, dict):
                    self.fields = chosen
                self._set_names()
            if first is None:
                first = rec.line
            rows.append(row)
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), self.width or 0), first


def object_chunks(
    records: Iterator[Rec | Bad], rules: ObjectRows, chunk_size: int
) -> Iterator[tuple[np.ndarray, int]]:
    """``(rows, line of the first row)`` for each chunk of ``chunk_size`` JSON records."""
    while block := list(islice(records, chunk_size)):
        if not any(isinstance(r, Bad) for r in block):
            arr = rules.fast([r.value for r in block])  # type: ignore[union-attr]
            if arr is not None:
                yield arr, block[0].line
                continue
        rows, first = rules.slow(block)
        if first is not None:
            yield rows, first


def parquet_fields(src: Path, columns: Sequence[Any] | None) -> list[str]:
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


def _arrow_rows(batch: Any, fields: list[str], width: int | None) -> np.ndarray | None:
    """A record batch's rows straight from Arrow's buffers when all are good, else None."""
    import pyarrow as pa

    def plain(t: Any) -> bool:
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t))

    if width is None or batch.num_rows == 0:
        return None
    cols = [batch.column(f) for f in fields]
    if any(c.null_count for c in cols):
        return None
    if len(cols) == 1 and not plain(cols[0].type):
        col = cols[0]
        is_list = pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
        if not (is_list or pa.types.is_fixed_size_list(col.type)):
            return None
        if not plain(col.type.value_type):
            return None
        values = col.flatten()  # the values of the rows in this batch only
        if values.null_count or len(values) != width * batch.num_rows:
            return None
        if is_list and not np.all(np.diff(col.offsets.to_numpy()) == width):
            return None
        arr = values.to_numpy(zero_copy_only=False).astype(np.float64)
        arr = arr.reshape(batch.num_rows, width)
    else:
        if not all(plain(c.type) for c in cols) or len(cols) != width:
            return None
        arr = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols]).astype(np.float64)
    return arr if np.isfinite(arr).all() else None


def parquet_chunks(
    src: Path, rules: ObjectRows, chunk_size: int
) -> Iterator[tuple[np.ndarray, int]]:
    """``(rows, row number of the first row)`` for each record batch of ``chunk_size`` rows.

    Memory: one batch, plus the pages of the row group Arrow decodes it from.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    assert rules.fields is not None, "Parquet reads fixed fields"
    parquet_file(src)  # DataError when unreadable
    # Without pre-buffering: it reads ahead whole coalesced byte ranges (tens of MiB at once).
    pf = pq.ParquetFile(src, pre_buffer=False)
    names = pf.schema_arrow.names
    missing = [c for c in rules.fields if c not in names]
    if missing:
        raise DataError(
            f"expected column(s) {missing} in the Parquet file, got columns {names}", path=str(src)
        )
    row = 0
    batches = pf.iter_batches(batch_size=chunk_size, columns=rules.fields, use_threads=False)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(
                f"could not read Parquet data ({exc})", path=str(src), line=row + 1
            ) from None
        if batch is None:
            return
        start = row + 1
        row += batch.num_rows
        arr = _arrow_rows(batch, rules.fields, rules.width)
        if arr is not None:
            yield arr, start
            continue
        recs = (Rec(start + i, "", v) for i, v in enumerate(batch.to_pylist()))
        rows, first = rules.slow(recs)
        if first is not None:
            yield rows, first
