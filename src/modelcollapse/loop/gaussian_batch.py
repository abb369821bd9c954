"""Batched Gaussian fitting, sampling and metrics for the vectorised engine.

Everything here works on a leading replicate axis ``b`` and repeats, operation for operation,
what :class:`modelcollapse.generators.gaussian.Gaussian` does for one replicate, so the two paths
agree to rounding:

- fit: ``mean = x.mean(axis=-2)``, ``cov = (x - mean)ᵀ (x - mean) / (n - ddof) + reg I``;
- sample: ``mean + sqrt(scale) · z Lᵀ`` with ``L`` the Cholesky factor of ``cov`` (the generator's
  :func:`~modelcollapse.generators.gaussian.cov_factor`, eigen-factor when singular) and ``z``
  standard normal;
- model moments: ``(mean, scale · cov)``.

Sufficient statistics ``(n, mean, m2 = Σ (x - mean)(x - mean)ᵀ)`` merge exactly with the pairwise
update of Chan, Golub & LeVeque (1979), so ``accumulate`` never stores its growing pool.

The batched metrics have the registry's definitions (``metrics/numeric.py``): ``mean`` (average
over coordinates of the model mean), ``variance`` (trace of the model covariance),
``variance_ratio`` (over the ML variance of the real training data), ``w2`` (to the real
distribution), ``nll`` (held-out real data) and ``tail_coverage`` (held-out tail points inside
the model's 99% HDR). ``nll`` is evaluated from the held-out data's sufficient statistics:
``mean_i (x_i-μ)ᵀ Σ⁻¹ (x_i-μ) = tr(Σ⁻¹ S) + (x̄-μ)ᵀ Σ⁻¹ (x̄-μ)`` with ``S`` the held-out ML
covariance, which costs O(d³) per replicate instead of O(m d²); a singular model covariance gives
``+inf`` (zero density), as in :func:`~modelcollapse.metrics.functional.gaussian.gaussian_nll`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelcollapse.generators.gaussian import cov_factor
from modelcollapse.metrics.functional.gaussian import (
    TAIL_HDR_LEVEL,
    gaussian_tail_coverage,
    gaussian_w2,
)

_LOG_2PI = float(np.log(2.0 * np.pi))
_EPS = float(np.finfo(np.float64).eps)

METRICS = ("mean", "nll", "tail_coverage", "variance", "variance_ratio", "w2")
"""The metrics the vectorised engine computes in batch."""


@dataclass
class Stats:
    """Sufficient statistics per replicate: count ``n`` (shared), ``mean`` (b, d), ``m2`` (b, d, d)."""

    n: int
    mean: np.ndarray
    m2: np.ndarray

    def take(self, rows: slice) -> Stats:
        return Stats(self.n, self.mean[rows], self.m2[rows])


def stats_of(x: np.ndarray) -> Stats:
    """Statistics of ``x`` (b, n, d): the same operations as ``Gaussian.fit``."""
    mean = x.mean(axis=-2)
    centred = x - mean[..., None, :]
    return Stats(x.shape[-2], mean, np.swapaxes(centred, -1, -2) @ centred)


def merge(a: Stats, b: Stats) -> Stats:
    """Statistics of the union of two samples (Chan et al. 1979, eq. 2.1b)."""
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.n / n)
    m2 = a.m2 + b.m2 + delta[..., :, None] * delta[..., None, :] * (a.n * b.n / n)
    return Stats(n, mean, m2)


def fit_from_stats(stats: Stats, ddof: int, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """Model parameters ``(mean_, cov_)`` (unscaled, with ``reg``) as ``Gaussian.fit`` sets them."""
    cov = stats.m2 / (stats.n - ddof)
    if reg:
        d = cov.shape[-1]
        cov = cov.copy()
        cov[..., np.arange(d), np.arange(d)] += reg
    return stats.mean.copy(), cov


def fit(x: np.ndarray, ddof: int, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """``Gaussian(estimator, reg).fit`` on each ``x[i]`` (b, n, d) at once."""
    return fit_from_stats(stats_of(x), ddof, reg)


def factor(cov: np.ndarray) -> np.ndarray:
    """Cholesky factors (b, d, d); singular matrices get the generator's eigen-factor.

    The fallback is decided per replicate, so a replicate's factor never depends on which other
    replicates share its block.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return np.stack([cov_factor(c) for c in cov]) if len(cov) else cov.copy()


def sample(mean: np.ndarray, chol: np.ndarray, scale: float, z: np.ndarray) -> np.ndarray:
    """Samples (b, m, d) from standard normals ``z`` (b, m, d): ``mean + sqrt(scale) z Lᵀ``."""
    if mean.shape[-1] == 1:  # the same single product as the matmul, without its overhead
        return mean[:, None, :] + np.sqrt(scale) * (z * chol[:, None, :, 0])
    return mean[:, None, :] + np.sqrt(scale) * (z @ np.swapaxes(chol, -1, -2))


@dataclass
class RealSummary:
    """What the batched metrics need from each replicate's real data (leading axis ``R``, or 1
    when every replicate shares the data).

    Attributes:
        ref_var: ML variance (trace) of the real training data (R,).
        real_mean, real_cov: the real distribution for ``w2`` (truth, or the ML moments of
            training + held-out data).
        held_mean, held_cov: held-out mean and ML covariance, for ``nll``.
        tail_x, tail_mask: held-out tail points (R, T, d), padded, with their mask (R, T).
    """

    ref_var: np.ndarray
    real_mean: np.ndarray
    real_cov: np.ndarray
    held_mean: np.ndarray
    held_cov: np.ndarray
    tail_x: np.ndarray
    tail_mask: np.ndarray


def nll_from_stats(
    mean: np.ndarray, cov: np.ndarray, held_mean: np.ndarray, held_cov: np.ndarray
) -> np.ndarray:
    """Mean NLL (nats) of held-out data with the given mean and ML covariance under N(mean, cov).

    ``½ (d ln 2π + ln det Σ + tr(Σ⁻¹ S) + (x̄-μ)ᵀ Σ⁻¹ (x̄-μ))``; ``+inf`` when Σ is singular
    (eigenvalues at or below ``d · eps · λ_max``, numpy's rank tolerance), NaN when not finite.
    """
    d = mean.shape[-1]
    bad = ~(np.isfinite(mean).all(axis=-1) & np.isfinite(cov).all(axis=(-2, -1)))
    delta = held_mean - mean
    if d == 1:
        var = cov[..., 0, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = 0.5 * (_LOG_2PI + np.log(var) + (held_cov[..., 0, 0] + delta[..., 0] ** 2) / var)
        out = np.where(var <= 0.0, np.inf, out)
        return np.where(bad, np.nan, out)
    safe = np.where(bad[..., None, None], np.eye(d), cov)
    w, v = np.linalg.eigh(0.5 * (safe + np.swapaxes(safe, -1, -2)))
    zero = (w <= d * _EPS * np.clip(w.max(axis=-1, keepdims=True), 0.0, None)).any(axis=-1)
    w = np.where(w > 0.0, w, 1.0)
    proj_s = np.einsum("...ik,...ij,...jk->...k", v, np.broadcast_to(held_cov, safe.shape), v)
    proj_d = np.einsum("...ik,...i->...k", v, delta)
    out = 0.5 * (
        d * _LOG_2PI
        + np.log(w).sum(axis=-1)
        + (proj_s / w).sum(axis=-1)
        + (proj_d**2 / w).sum(axis=-1)
    )
    out = np.where(zero, np.inf, out)
    return np.where(bad, np.nan, out)


def batched_metrics(
    names: list[str], mean: np.ndarray, cov: np.ndarray, real: RealSummary
) -> np.ndarray:
    """Metric values (R, len(names)) of the models ``N(mean, cov)`` (cov already scaled)."""
    out = np.empty((mean.shape[0], len(names)))
    for j, name in enumerate(names):
        if name == "mean":
            out[:, j] = mean.mean(axis=-1)
        elif name == "variance":
            out[:, j] = np.trace(cov, axis1=-2, axis2=-1)
        elif name == "variance_ratio":
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.trace(cov, axis1=-2, axis2=-1) / real.ref_var
            out[:, j] = np.where(real.ref_var == 0.0, np.nan, ratio)
        elif name == "w2":
            out[:, j] = gaussian_w2(mean, cov, real.real_mean, real.real_cov)
        elif name == "nll":
            out[:, j] = nll_from_stats(mean, cov, real.held_mean, real.held_cov)
        elif name == "tail_coverage":
            if real.tail_x.shape[-2] == 0:
                out[:, j] = np.nan
            else:
                out[:, j] = gaussian_tail_coverage(
                    real.tail_x, mean, cov, TAIL_HDR_LEVEL, mask=real.tail_mask
                )
        else:  # pragma: no cover - supports() admits only METRICS
            raise AssertionError(f"no batched form for metric {name!r}")
    return out
