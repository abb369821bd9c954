"""Read a sweep directory (``modelcollapse sweep --out DIR``) for a report.

Layout: ``DIR/results.parquet`` (one row per run, generation, replicate and metric, with
``run_id`` and the swept config keys as columns; the schema metadata
``modelcollapse.swept_keys`` lists the keys), ``DIR/sweep.yaml`` (the resolved sweep) and
``DIR/runs/<run_id>/`` (normal run directories). Arms are the combinations of swept keys other
than ``seed``: runs that differ only in their seed pool their replicates. Without
``results.parquet`` (an interrupted sweep) the finished runs' own ``metrics.parquet`` are read
and the runs labelled by the config keys that differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modelcollapse.errors import DataError
from modelcollapse.report.load import (
    METRIC_COLUMNS,
    NOT_ARM_KEYS,
    Arm,
    Collection,
    RunData,
    differing_labels,
    families,
    family_key,
    load_run,
    metric_rows,
    read_table,
    read_yaml,
    run_subdirs,
    short_label,
)

SWEPT_KEYS_META = b"modelcollapse.swept_keys"  # schema metadata of results.parquet (JSON list)


def _sweep_keys(table: pa.Table) -> list[str]:
    """The swept keys: from the schema metadata when present, else every other column."""
    meta = table.schema.metadata or {}
    if SWEPT_KEYS_META in meta:
        try:
            keys = json.loads(meta[SWEPT_KEYS_META])
        except (json.JSONDecodeError, UnicodeDecodeError):
            keys = None
        if isinstance(keys, list) and all(
            isinstance(k, str) and k in table.column_names for k in keys
        ):
            return keys
    return [c for c in table.column_names if c not in (*METRIC_COLUMNS, "run_id")]


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def load_sweep(path: str | Path) -> Collection:
    """A sweep directory: arms are the combinations of swept keys other than ``seed``."""
    path = Path(path)
    notes: list[str] = []
    sweep_text = None
    if (path / "sweep.yaml").is_file():
        _raw, sweep_text = read_yaml(path / "sweep.yaml")
    results = path / "results.parquet"
    runs: list[RunData] = []
    if results.is_file():
        table = read_table(results, "the sweep's results")
        if "run_id" not in table.column_names:
            raise DataError(
                f"expected a run_id column, got {', '.join(table.column_names)}", path=str(results)
            )
        rows = metric_rows(table, results)
        run_ids = table.column("run_id").to_numpy(zero_copy_only=False).astype(str)
        keys = _sweep_keys(table)
        key_cols = {k: table.column(k).to_pylist() for k in keys}
        for run_id in dict.fromkeys(run_ids.tolist()):
            mask = run_ids == run_id
            first = int(np.flatnonzero(mask)[0])
            run_dir = path / "runs" / run_id
            sub = rows.select(mask)
            if not np.any(np.isfinite(sub.value)):
                notes.append(f"run {run_id}: no finite metric value; left out")
                continue
            if run_dir.is_dir() and (run_dir / "config.yaml").is_file():
                run, run_notes = load_run(run_dir, metrics=sub, run_id=run_id)
                notes.extend(run_notes)
            else:
                notes.append(
                    f"{run_dir}/config.yaml is missing: no theory or samples for run {run_id}"
                )
                run = RunData(run_dir, run_id, None, None, None, sub)
            run.keys = {k: _scalar(key_cols[k][first]) for k in keys}
            runs.append(run)
    else:
        runs_dir = path / "runs"
        subdirs = run_subdirs(runs_dir) if runs_dir.is_dir() else []
        if not subdirs:
            raise DataError(
                "expected results.parquet or runs/<run_id>/ run directories, got neither",
                path=str(path),
            )
        notes.append(
            f"{results} is missing (an unfinished sweep?): reading each run's metrics.parquet"
        )
        for sub in subdirs:
            if not (sub / "metrics.parquet").is_file():
                notes.append(f"run {sub.name} has no metrics.parquet (not finished); left out")
                continue
            run, run_notes = load_run(sub)
            notes.extend(run_notes)
            runs.append(run)
    if not runs:
        raise DataError("expected at least one finished run, got none", path=str(path))
    if results.is_file():
        labels = [
            ", ".join(short_label(k, v) for k, v in r.keys.items() if k not in NOT_ARM_KEYS)
            or "all runs"
            for r in runs
        ]
    else:  # no swept keys to go by: what differs between the runs' configs
        labels = differing_labels(runs, pool=True)
    by_family: dict[tuple[str, str], dict[str, list[RunData]]] = {}
    for run, label in zip(runs, labels, strict=True):
        by_family.setdefault(family_key(run), {}).setdefault(label, []).append(run)
    groups = [(key, [Arm(lab, rs) for lab, rs in arms.items()]) for key, arms in by_family.items()]
    return Collection(path, "sweep", families(groups), sweep_text=sweep_text, notes=notes)
