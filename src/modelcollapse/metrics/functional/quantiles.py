"""Extreme-quantile ratios: how much of the reference's tail spread survives in a candidate.

Early-stage model collapse removes the tails first (Shumailov et al. 2024, "AI models collapse
when trained on recursively generated data", Nature 631): the extreme quantiles of the model's
data move towards the median while the bulk stays put. These ratios measure that per coordinate
and complement :func:`~modelcollapse.metrics.functional.tail.tail_coverage` (which asks whether
the real tail points lie inside the model's high-density region).

Definitions, for coordinate ``j``, ``Q_j(u)`` the ``u``-quantile and ``med_j = Q_j(0.5)``
(``numpy.quantile``'s default linear interpolation, Hyndman & Fan 1996 type 7; candidate ``c``,
reference ``r``):

- quantile ratio at level ``u``: ``ρ_j(u) = (Q^c_j(u) − med^c_j) / (Q^r_j(u) − med^r_j)``.
  For ``u < 0.5`` both differences are negative, so ``ρ`` is positive either side: 1 means the
  candidate reaches as far out as the reference, < 1 a shrunken tail, > 1 a heavier one.
- spread ratio between ``lo`` and ``hi``: ``(Q^c_j(hi) − Q^c_j(lo)) / (Q^r_j(hi) − Q^r_j(lo))``.

The aggregates are means over coordinates. Coordinates where the reference difference is 0 (a
constant or point-mass coordinate) have no ratio and are left out of the mean; NaN when no
coordinate is left. Coordinates are the data's own axes; to measure along other directions
(principal axes of an embedding, a projection of interest) pass ``directions`` (k, d): both
samples are then projected on its rows first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.two_sample import as_two_samples
from modelcollapse.metrics.functional.validation import check_level

DEFAULT_QUANTILES: tuple[float, ...] = (0.001, 0.01, 0.05, 0.95, 0.99, 0.999)


def _project(a: np.ndarray, b: np.ndarray, directions: Any) -> tuple[np.ndarray, np.ndarray]:
    if directions is None:
        return a, b
    try:
        w = np.atleast_2d(np.asarray(directions, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"directions: expected a (k, d) array ({exc})") from None
    if w.ndim != 2 or w.shape[1] != a.shape[1] or w.shape[0] < 1 or not np.isfinite(w).all():
        raise InvalidParameterError(
            f"directions: expected a finite (k, {a.shape[1]}) array, got shape {w.shape}"
        )
    return a @ w.T, b @ w.T


def _levels(quantiles: Sequence[float]) -> list[float]:
    if isinstance(quantiles, (str, bytes)) or not hasattr(quantiles, "__iter__"):
        raise InvalidParameterError(f"quantiles: expected a list of levels, got {quantiles!r}")
    levels = [check_level("quantile", u) for u in quantiles]
    if not levels:
        raise InvalidParameterError("quantiles: expected at least one level, got none")
    if any(u == 0.5 for u in levels):
        raise InvalidParameterError("quantiles: expected levels other than the median 0.5, got 0.5")
    return levels


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = den != 0.0
    out[ok] = num[ok] / den[ok]
    return out


def _mean_defined(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else float("nan")


def quantile_ratios(
    candidate: Any,
    reference: Any,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    directions: Any = None,
) -> dict[float, np.ndarray]:
    """Per-coordinate ``ρ_j(u)`` for each level ``u`` (module docstring): ``{u: array (d,)}``,
    NaN where the reference has no spread on that side."""
    levels = _levels(quantiles)
    c, r = as_two_samples(candidate, reference, ("candidate", "reference"))
    c, r = _project(c, r, directions)
    qs = [0.5, *levels]
    qc = np.quantile(c, qs, axis=0)
    qr = np.quantile(r, qs, axis=0)
    return {u: _ratio(qc[i + 1] - qc[0], qr[i + 1] - qr[0]) for i, u in enumerate(levels)}


def extreme_quantile_ratios(
    candidate: Any,
    reference: Any,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    directions: Any = None,
) -> dict[float, float]:
    """``{u: mean_j ρ_j(u)}`` for each level ``u`` (default 0.001, 0.01, 0.05, 0.95, 0.99,
    0.999): 1 when the candidate's tails reach as far as the reference's, < 1 when shrunken."""
    per = quantile_ratios(candidate, reference, quantiles, directions=directions)
    return {u: _mean_defined(v) for u, v in per.items()}


def extreme_quantile_ratio(
    candidate: Any,
    reference: Any,
    lo: float = 0.01,
    hi: float = 0.99,
    *,
    directions: Any = None,
) -> float:
    """Mean over coordinates of the spread ratio
    ``(Q^c(hi) − Q^c(lo)) / (Q^r(hi) − Q^r(lo))``: the registered summary (1 = tails intact)."""
    lo, hi = check_level("lo", lo), check_level("hi", hi)
    if not lo < hi:
        raise InvalidParameterError(f"lo, hi: expected lo < hi, got lo={lo}, hi={hi}")
    c, r = as_two_samples(candidate, reference, ("candidate", "reference"))
    c, r = _project(c, r, directions)
    qc = np.quantile(c, [lo, hi], axis=0)
    qr = np.quantile(r, [lo, hi], axis=0)
    if not (np.isfinite(qc).all() and np.isfinite(qr).all()):
        raise DataError("extreme_quantile_ratio: expected finite quantiles, got overflow")
    return _mean_defined(_ratio(qc[1] - qc[0], qr[1] - qr[0]))
