"""``summary.json``: each metric's distribution over replicates at the first and last generation.

For every metric, at generation 0 and at the last generation: ``mean``, ``std`` (sample standard
deviation over replicates, ddof 1; 0 for a single replicate), ``median`` and ``n`` (replicates
with a finite value; non-finite values are left out of the statistics and counted as
``n_nonfinite``). Non-finite results are written as ``null`` so the file is strict JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from modelcollapse.loop.config import ExperimentConfig


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def describe(values: np.ndarray) -> dict[str, Any]:
    """mean, std (ddof 1), median and counts of the finite values."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    n = int(finite.size)
    if n == 0:
        stats: dict[str, Any] = {"mean": None, "std": None, "median": None}
    else:
        stats = {
            "mean": _finite_or_none(finite.mean()),
            "std": _finite_or_none(finite.std(ddof=1)) if n > 1 else 0.0,
            "median": _finite_or_none(float(np.median(finite))),
        }
    return {**stats, "n": n, "n_nonfinite": int(values.size - n)}


def summarise(
    table: pa.Table,
    cfg: ExperimentConfig,
    *,
    engine: str,
    wall_time_s: float,
    resumed: bool,
    data_kind: str,
    policy_counts: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The content of ``summary.json`` for a finished run.

    ``policy_counts`` are the mean training-set provenance counts (``n_real``, ``n_synthetic``,
    ...) over replicates at the last generation.
    """
    gen = table.column("generation").to_numpy()
    value = table.column("value").to_numpy()
    metric_col = table.column("metric").combine_chunks().dictionary_encode()
    names = metric_col.dictionary.to_pylist()
    codes = metric_col.indices.to_numpy()
    last = int(gen.max()) if gen.size else 0
    metrics: dict[str, Any] = {}
    for code in np.argsort(names):
        sel = codes == code
        metrics[names[code]] = {
            "generation_0": describe(value[sel & (gen == 0)]),
            f"generation_{last}": describe(value[sel & (gen == last)]),
        }
    return {
        "name": cfg.name,
        "seed": cfg.seed,
        "engine": engine,
        "model": cfg.model.kind,
        "policy": cfg.policy.kind,
        "data": cfg.data.source,
        "data_kind": data_kind,
        "generations": cfg.generations,
        "last_generation": last,
        "wall_time_s": round(float(wall_time_s), 3),
        "resumed": bool(resumed),
        "counts": {
            "replicates": cfg.replicates,
            "fitted_models_per_replicate": cfg.generations + 1,
            "samples_per_generation": cfg.samples_per_generation,
            "rows": int(table.num_rows),
        },
        "policy_counts_last_generation": {
            k: _finite_or_none(float(v)) for k, v in sorted((policy_counts or {}).items())
        },
        "metrics": metrics,
    }
