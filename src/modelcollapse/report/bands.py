"""Per-generation bands of a metric across replicates: the median and a central interval.

For an arm (one or more runs compared as one), a metric and a generation ``g``, let
``v_1..v_n`` be the finite values over every replicate of every run of the arm (NaN and
infinite values are left out and counted). The band is

- ``median``: the 0.5 quantile of ``v``;
- ``low``/``high``: the 0.05 and 0.95 quantiles, a 90% band across replicates;

quantiles by ``numpy.quantile``'s default (linear interpolation between order statistics,
Hyndman & Fan 1996 definition 7). A generation without any finite value has NaN entries, drawn
as a gap. The median is the robust summary used for collapse curves: the variance of a
refitted Gaussian is heavy-tailed across chains, its mean carried by rare large values
(Shumailov et al. 2024, supplement), so the mean would hide the typical chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelcollapse.loop.results import Metrics

BAND_LOW, BAND_HIGH = 0.05, 0.95


@dataclass(frozen=True)
class Band:
    """One metric of one arm: arrays aligned on ``generation`` (ascending)."""

    metric: str
    generation: np.ndarray  # int64
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: np.ndarray  # finite values per generation
    n_nonfinite: np.ndarray  # NaN or infinite values per generation


def band(
    rows: Sequence[Metrics], metric: str, *, low: float = BAND_LOW, high: float = BAND_HIGH
) -> Band | None:
    """The band of ``metric`` over the pooled replicates of ``rows`` (None when it is absent)."""
    if not 0 <= low < 0.5 < high <= 1:
        raise ValueError(f"expected 0 <= low < 0.5 < high <= 1, got low={low}, high={high}")
    gens, vals = [], []
    for r in rows:
        sel = r.metric == metric
        gens.append(r.generation[sel])
        vals.append(r.value[sel])
    generation = np.concatenate(gens) if gens else np.zeros(0, np.int64)
    value = np.concatenate(vals) if vals else np.zeros(0)
    if generation.size == 0:
        return None
    order = np.argsort(generation, kind="stable")
    generation, value = generation[order], value[order]
    uniq, start = np.unique(generation, return_index=True)
    stop = np.append(start[1:], generation.size)
    out = np.full((3, uniq.size), np.nan)
    n = np.zeros(uniq.size, np.int64)
    for i, (a, b) in enumerate(zip(start, stop, strict=True)):
        v = value[a:b]
        v = v[np.isfinite(v)]
        n[i] = v.size
        if v.size:
            out[:, i] = np.quantile(v, [low, 0.5, high])
    return Band(metric, uniq.astype(np.int64), out[1], out[0], out[2], n, (stop - start) - n)


def metric_names(rows: Sequence[Metrics]) -> list[str]:
    """Metric names over ``rows``, in first-seen order."""
    return list(dict.fromkeys(name for r in rows for name in r.names))
