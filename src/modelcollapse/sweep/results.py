"""``results.parquet``: every run's metrics in one long table, with the swept keys as columns.

Columns: ``run_id``, one column per swept key (dotted name, e.g. ``policy.kind``; the value
the run's resolved config has there), then the run store's ``generation``, ``replicate``,
``metric``, ``value``. One row per (run, generation, replicate, metric), runs in expansion
order, each run's rows in the run store's order. The schema metadata holds the swept keys
(``modelcollapse.swept_keys``, JSON) so readers can tell them from the metric columns.

The table is assembled from the run stores on disk in a fixed order, so it is byte-for-byte
the same whichever executor ran the runs, with how many workers, and across resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.store import METRICS_SCHEMA, atomic_file
from modelcollapse.sweep.expand import Run, value_at

SWEPT_KEYS_META = b"modelcollapse.swept_keys"
RESERVED = ("run_id", *METRICS_SCHEMA.names)


def _column(values: list[Any]) -> pa.Array:
    """One value per run, typed by Arrow; mixed types (e.g. 0.5 and "auto") become strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else json.dumps(v, sort_keys=True) for v in values])


def build_results(runs: list[Run], swept_keys: list[str], runs_dir: Path) -> pa.Table:
    """Concatenate ``runs_dir/<run_id>/metrics.parquet`` with run and swept-key columns."""
    clash = [k for k in swept_keys if k in RESERVED]
    if clash:  # pragma: no cover - no config key has these names today
        raise InvalidParameterError(
            f"swept keys {clash} clash with results columns; expected none of {RESERVED}"
        )
    tables, counts = [], []
    for run in runs:
        path = runs_dir / run.run_id / "metrics.parquet"
        if not path.is_file():
            raise InvalidParameterError(
                f"{path}: expected the metrics of finished run {run.run_id}, got no file"
            )
        table = pq.read_table(path).select(METRICS_SCHEMA.names).cast(METRICS_SCHEMA)
        tables.append(table)
        counts.append(table.num_rows)
    metrics = pa.concat_tables(tables).combine_chunks() if tables else METRICS_SCHEMA.empty_table()
    # Row i belongs to run owner[i]; per-run constants become columns by a single take.
    owner = pa.array(np.repeat(np.arange(len(runs), dtype=np.int64), counts))
    columns = {"run_id": pa.array([r.run_id for r in runs], pa.string()).take(owner)}
    dumped = [r.config.model_dump(mode="json") for r in runs]
    for key in swept_keys:
        columns[key] = _column([value_at(d, key) for d in dumped]).take(owner)
    for name in METRICS_SCHEMA.names:
        columns[name] = metrics.column(name)
    table = pa.table(columns)
    meta = {SWEPT_KEYS_META: json.dumps(swept_keys).encode()}
    return table.replace_schema_metadata(meta)


def write_results(table: pa.Table, path: Path) -> Path:
    """Write the results table atomically (a reader never sees half a file)."""
    with atomic_file(path) as fh:
        pq.write_table(table, fh)
    return path


def read_results(path: str | Path) -> tuple[pa.Table, list[str]]:
    """A ``results.parquet`` and its swept keys."""
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    keys = json.loads(meta[SWEPT_KEYS_META]) if SWEPT_KEYS_META in meta else []
    return table, keys
