"""First and second moments: the mean and the variance (trace of the covariance).

Late-stage model collapse shows first as a loss of variance: a Gaussian refitted on its own
samples has ``E[σ²_n] = σ² ((M-1)/M)^n`` under maximum likelihood, and its variance goes to zero
almost surely under either estimator (Shumailov et al. 2024, "AI models collapse when trained on
recursively generated data", Nature 631, Sec. 3).

Two families live here:

- model metrics read ``model.moments()`` (the exact mean and covariance of the model
  distribution, so they carry no sampling noise): :func:`model_mean`, :func:`model_variance`,
  :func:`variance_ratio`;
- data metrics summarise a sample through a mergeable :class:`MomentState` (count, mean, centred
  sum of outer products), combined across shards with the pairwise update of Chan, Golub &
  LeVeque (1979, "Updating formulae and a pairwise algorithm for computing sample variances"):
  :func:`data_mean`, :func:`data_variance`, used by the streaming classes as well.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.validation import as_points, check_int, model_moments


class MomentState(NamedTuple):
    """Sufficient statistics of a sample: ``n``, ``mean`` (d,) and ``m2 = Σ (x-mean)(x-mean)ᵀ``."""

    n: int
    mean: np.ndarray
    m2: np.ndarray


def moment_state(x: Any) -> MomentState:
    """The :class:`MomentState` of the rows of ``x`` (n, d) or (n,); ``n`` may be 0."""
    x = as_points(x, "data", min_rows=0)
    n, d = x.shape
    if n == 0:
        return MomentState(0, np.zeros(d), np.zeros((d, d)))
    mean = x.mean(axis=0)
    centred = x - mean
    return MomentState(n, mean, centred.T @ centred)


def merge_moment_states(a: MomentState, b: MomentState) -> MomentState:
    """Combine two shards' statistics exactly (Chan et al. 1979, eq. 2.1b)."""
    # An empty shard carries no information (its width may even be unknown): skip it.
    if b.n == 0:
        return a
    if a.n == 0:
        return b
    if a.mean.shape != b.mean.shape:
        raise DataError(
            f"cannot merge moments of {a.mean.shape[0]}-D and {b.mean.shape[0]}-D data: "
            "expected the same number of columns"
        )
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.n / n)
    m2 = a.m2 + b.m2 + np.outer(delta, delta) * (a.n * b.n / n)
    return MomentState(n, mean, m2)


def _require_rows(state: MomentState, what: str) -> None:
    if state.n == 0:
        raise DataError(f"{what}: expected at least 1 row of data, got 0")


def mean_from_state(state: MomentState) -> float:
    """Average over coordinates of the sample mean."""
    _require_rows(state, "mean")
    return float(state.mean.mean())


def covariance_from_state(state: MomentState, ddof: int = 0) -> np.ndarray:
    """Sample covariance ``m2 / (n - ddof)``; NaN when ``n <= ddof`` (undefined)."""
    _require_rows(state, "covariance")
    if state.n <= ddof:
        return np.full_like(state.m2, np.nan)
    return state.m2 / (state.n - ddof)


def variance_from_state(state: MomentState, ddof: int = 0) -> float:
    """Trace of the sample covariance; NaN when ``n <= ddof``."""
    _require_rows(state, "variance")
    if state.n <= ddof:
        return float("nan")
    # trace(m2 / n) rather than trace(m2) / n: the same operations as an MLE fit, so that
    # variance_ratio of generation 0 is 1 to the last bit.
    return float(np.trace(state.m2 / (state.n - ddof)))


# -- functional forms on data ---------------------------------------------------------------
def data_mean(x: Any) -> float:
    """Average over coordinates of the sample mean of ``x`` (n, d); the mean itself in 1-D."""
    return mean_from_state(moment_state(x))


def data_variance(x: Any, ddof: int = 0) -> float:
    """Trace of the sample covariance of ``x`` (the total variance), maximum likelihood by default.

    ``ddof=0`` divides by ``n`` (the MLE), ``ddof=1`` by ``n - 1``. NaN when ``n <= ddof``.
    """
    return variance_from_state(moment_state(x), check_int("ddof", ddof))


def data_covariance(x: Any, ddof: int = 0) -> np.ndarray:
    """Sample covariance matrix (d, d) of ``x``; ``ddof=0`` is the MLE."""
    return covariance_from_state(moment_state(x), check_int("ddof", ddof))


# -- functional forms on a model ------------------------------------------------------------
def model_mean(model: Any) -> float:
    """Average over coordinates of the model mean (``model.moments()[0]``); in 1-D the mean.

    Under recursive training the mean performs a random walk (Shumailov et al. 2024, Sec. 3).
    """
    mean, _ = model_moments(model, "mean")
    return float(mean.mean())


def model_variance(model: Any) -> float:
    """Total variance of the model: ``tr Σ_model`` from ``model.moments()``.

    Shumailov et al. 2024 (Nature 631, Sec. 3): under recursive fitting it goes to zero.
    """
    _, cov = model_moments(model, "variance")
    return float(np.trace(cov))


def variance_ratio(model: Any, reference: Any) -> float:
    """``tr Σ_model / tr Σ̂_ref`` with ``Σ̂_ref`` the maximum-likelihood (ddof 0) covariance of
    the real training data ``reference``.

    With the MLE Gaussian, generation 0 (fitted on ``reference``) has ratio exactly 1, and
    ``E[ratio_g] = ((M-1)/M)^g`` thereafter (Shumailov et al. 2024, Sec. 3): the oracle in
    ``loop/theory.py`` relies on this normalisation. NaN when the reference has zero variance.
    """
    ref_var = data_variance(reference, ddof=0)
    _, cov = model_moments(model, "variance_ratio")
    if ref_var == 0.0:
        return float("nan")
    return float(np.trace(cov) / ref_var)
