"""Bootstrap resampling and confidence intervals for ``measure``.

Resampling unit: one record (a document for text, a row for numeric data and embeddings). A
bootstrap replicate draws ``n`` records with replacement from the ``n`` records of an arm
(Efron 1979, "Bootstrap methods: another look at the jackknife", Annals of Statistics 7(1)).
The candidate, the reference "probe" and, for two-sample metrics, the reference "anchor" are
resampled independently; every metric of a measurement sees the *same* replicate indices
(common random numbers), so two metrics on one replicate describe the same resampled corpus and
vectorised kernels (:mod:`modelcollapse.measure.kernels`) reproduce the generic path exactly.

Interval (:func:`interval`): with at least :data:`PERCENTILE_MIN_REPLICATES` finite
replicates, the percentile interval shifted by the bootstrap estimate of bias,

    [q_{α/2}(θ*) - b, q_{1-α/2}(θ*) - b],   b = mean(θ*) - θ̂

(Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 10 (bias) and 13
(percentile intervals)). Plain percentile and BCa intervals both fail for the count statistics
that matter most here: a resample holds only about 63% of the distinct documents, so the
vocabulary size (or rare-word recall) of *every* replicate lies below the observed value and
the percentile interval does not even contain it, while BCa's bias constant ``z0 = Φ⁻¹(0)`` is
infinite. Shifting by ``b`` keeps the bootstrap's spread and puts the interval around the
observed value. For smooth statistics ``b`` is close to 0 and the interval is the percentile one.

With fewer replicates (the expensive metrics, see ``n_boot_expensive``) the 2.5% and 97.5%
quantiles are too coarse (with 30 replicates they are about the extreme values), so the
interval is the normal one, ``θ̂ ± z_{1-α/2} se``, ``se`` the bootstrap standard error
(Efron & Tibshirani 1993, ch. 12).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from modelcollapse.errors import InvalidParameterError

# A metric whose replicates are NaN more often than this has no interval (NaN): its value is
# undefined on too many resamples to be trusted.
MAX_NAN_SHARE = 0.1
# Below this many finite replicates the interval is the normal one (module docstring).
PERCENTILE_MIN_REPLICATES = 100


class Interval(NamedTuple):
    """A two-sided confidence interval; NaN bounds when it is undefined."""

    low: float
    high: float


def check_level(level: float) -> float:
    """Confidence level in (0, 1)."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidParameterError(f"level: expected a number in (0, 1), got {level!r}")
    return float(level)


def check_n_boot(n_boot: int, name: str = "n_boot") -> int:
    """Number of bootstrap replicates: an integer >= 2 (one replicate has no spread)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise InvalidParameterError(f"{name}: expected an integer >= 2, got {n_boot!r}")
    return int(n_boot)


def resample_indices(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Indices ``(n_boot, n)`` of ``n_boot`` resamples with replacement from ``range(n)``."""
    if n < 1:
        raise InvalidParameterError(f"resample_indices: expected n >= 1, got {n}")
    dtype = np.int32 if n < 2**31 else np.int64
    return rng.integers(0, n, size=(check_n_boot(n_boot), n), dtype=dtype)


def index_weights(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each record occurs in each resample: ``(n_boot, n)`` float64 counts.

    A statistic that is a function of (weighted) counts gives on these weights exactly what it
    gives on the resampled records themselves.
    """
    indices = np.asarray(indices)
    b = indices.shape[0]
    flat = (indices + (np.arange(b, dtype=np.int64) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


def shifted_percentile_interval(
    point: float, replicates: np.ndarray, level: float = 0.95
) -> Interval:
    """The bias-shifted percentile interval of ``point`` from its bootstrap ``replicates``.

    See the module docstring. NaN when ``point`` is not finite or when more than
    :data:`MAX_NAN_SHARE` of the replicates are NaN; infinite replicates are kept (they sort to
    the ends), so a statistic that sometimes diverges gets an infinite bound, not a false one.
    """
    level = check_level(level)
    reps = np.asarray(replicates, dtype=np.float64).ravel()
    nan = np.isnan(reps)
    if not np.isfinite(point) or reps.size == 0 or nan.mean() > MAX_NAN_SHARE:
        return Interval(float("nan"), float("nan"))
    reps = reps[~nan]
    alpha = 1.0 - level
    finite = reps[np.isfinite(reps)]
    # Interpolating between infinite order statistics gives NaN: take them as they are.
    method = "linear" if finite.size == reps.size else "inverted_cdf"
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], method=method)
    if finite.size < reps.size:
        # The mean of replicates with an infinite value is not a bias estimate; use the median.
        bias = float(np.median(reps)) - point if finite.size else 0.0
    else:
        bias = float(reps.mean()) - point
    if not np.isfinite(bias):
        bias = 0.0
    return Interval(float(lo - bias), float(hi - bias))


def standard_error(replicates: np.ndarray) -> float:
    """Bootstrap standard error: the standard deviation (ddof 1) of the finite replicates."""
    reps = np.asarray(replicates, dtype=np.float64).ravel()
    reps = reps[np.isfinite(reps)]
    return float(reps.std(ddof=1)) if reps.size > 1 else float("nan")


def normal_interval(point: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """``point ± z_{1-α/2} se`` with ``se`` the bootstrap standard error; NaN like
    :func:`shifted_percentile_interval` (and infinite when a replicate is infinite)."""
    level = check_level(level)
    reps = np.asarray(replicates, dtype=np.float64).ravel()
    nan = np.isnan(reps)
    if not np.isfinite(point) or reps.size == 0 or nan.mean() > MAX_NAN_SHARE:
        return Interval(float("nan"), float("nan"))
    if np.isinf(reps).any():  # no standard error: let the sorted replicates speak
        return shifted_percentile_interval(point, reps, level)
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    se = standard_error(reps)
    return Interval(point - z * se, point + z * se)


def interval(point: float, replicates: np.ndarray, level: float = 0.95) -> Interval:
    """The interval of the module docstring: shifted percentile with enough replicates, else
    normal."""
    reps = np.asarray(replicates, dtype=np.float64).ravel()
    if np.count_nonzero(~np.isnan(reps)) >= PERCENTILE_MIN_REPLICATES:
        return shifted_percentile_interval(point, reps, level)
    return normal_interval(point, reps, level)
