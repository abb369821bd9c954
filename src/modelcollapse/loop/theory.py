"""Closed-form predictions for recursive training, used as oracles for the simulations.

Indexing: ``n`` counts *fits*. The run store's generation ``g`` is the model fitted ``g + 1``
times (generation 0 is fitted on the real data), so pass ``n = g + 1`` when comparing with the
true distribution and ``n = g`` when comparing with generation 0 (``variance_ratio`` divides by
the maximum-likelihood variance of the real sample, which is exactly generation 0's variance
under the MLE estimator).

Gaussian results (1-D, ``M`` samples per generation, Shumailov et al. 2024, Nature, Sec. 3 and
supplement): each refit multiplies the variance by an independent ``χ²_{M-1} / c`` with
``c = M`` (MLE) or ``c = M - 1`` (unbiased estimator), so

- MLE: ``E[σ²_n] = σ² ((M-1)/M)^n``;
- ``E[ln σ²_n/σ²] = n [ψ((M-1)/2) + ln(2/c)]`` and ``Var[ln σ²_n/σ²] = n ψ'((M-1)/2)``;
- unbiased: ``E[σ²_n] = σ²`` for every n, yet ``E[ln σ²_n/σ²] → -∞`` linearly: the mean is
  carried by ever rarer large values while the median collapses to zero.

Linear regression on a fixed isotropic Gaussian design (Gerstgrasser et al. 2024, "Is model
collapse inevitable?", Theorems 1 and 2; Dey & Donoho 2024), ``T`` rows, ``d`` features,
noise standard deviation ``σ``, first fit ``E_1 = σ² d / (T - d - 1)``:

- replace: ``E_n = n E_1`` (test error grows linearly);
- accumulate: ``E_n = E_1 Σ_{i=1..n} 1/i² < (π²/6) E_1`` (bounded).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma, polygamma

from modelcollapse.errors import InvalidParameterError


def _check(n: int | np.ndarray, m: int) -> np.ndarray:
    n = np.asarray(n)
    if np.any(n < 0):
        raise InvalidParameterError(f"n (number of fits) must be >= 0, got {n}")
    if m < 2:
        raise InvalidParameterError(f"M (samples per generation) must be >= 2, got {m}")
    return n


def _divisor(m: int, estimator: str) -> int:
    if estimator == "mle":
        return m
    if estimator == "unbiased":
        return m - 1
    raise InvalidParameterError(f"estimator: expected 'mle' or 'unbiased', got {estimator!r}")


def gaussian_variance(n, m: int, *, estimator: str = "mle", sigma2: float = 1.0) -> np.ndarray:
    """``E[σ²_n]``: ``σ²((M-1)/M)^n`` for MLE, ``σ²`` for the unbiased estimator."""
    n = _check(n, m)
    return sigma2 * ((m - 1) / _divisor(m, estimator)) ** n


def gaussian_log_variance(n, m: int, *, estimator: str = "mle") -> np.ndarray:
    """``E[ln σ²_n / σ²] = n [ψ((M-1)/2) + ln(2/c)]``, c = M (MLE) or M - 1 (unbiased)."""
    n = _check(n, m)
    return n * (digamma((m - 1) / 2) + math.log(2 / _divisor(m, estimator)))


def gaussian_log_variance_var(n, m: int) -> np.ndarray:
    """``Var[ln σ²_n / σ²] = n ψ'((M-1)/2)`` (the same for both estimators)."""
    n = _check(n, m)
    return n * polygamma(1, (m - 1) / 2)


def gaussian_median_variance(n, m: int, *, estimator: str = "mle") -> np.ndarray:
    """Approximate median of ``σ²_n/σ²``: ``exp(E[ln σ²_n/σ²])``.

    ``ln σ²_n`` is a sum of n i.i.d. terms, so it is close to normal for moderate n and its
    median is close to its mean.
    """
    return np.exp(gaussian_log_variance(n, m, estimator=estimator))


def linear_first_error(d: int, t: int, noise: float) -> float:
    """``E_1 = σ² d / (T - d - 1)``: OLS excess risk with an isotropic Gaussian design."""
    if t <= d + 1:
        raise InvalidParameterError(f"need T > d + 1 rows for a finite error, got T={t}, d={d}")
    return noise**2 * d / (t - d - 1)


def linear_replace_error(n, d: int, t: int, noise: float) -> np.ndarray:
    """Test error after n fits under replace: ``n E_1``."""
    return np.asarray(n) * linear_first_error(d, t, noise)


def linear_accumulate_error(n, d: int, t: int, noise: float) -> np.ndarray:
    """Test error after n fits under accumulate: ``E_1 Σ_{i<=n} 1/i²``, below ``(π²/6) E_1``."""
    n_arr = np.atleast_1d(np.asarray(n, dtype=int))
    harmonic2 = np.array([np.sum(1.0 / np.arange(1, k + 1) ** 2) for k in n_arr])
    out = harmonic2 * linear_first_error(d, t, noise)
    return out if np.ndim(n) else out[0]


ACCUMULATE_BOUND = math.pi**2 / 6
