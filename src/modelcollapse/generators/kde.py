"""Gaussian kernel density estimate as a generator.

The KDE is the mixture ``(1/n) sum_i N(x_i, scale * H)`` over the training points ``x_i`` with
kernel covariance ``H = h^2 * Sigma``, where ``Sigma`` is the data covariance (ddof 1) and ``h``
the bandwidth factor. Scaling the kernel by the data covariance makes every bandwidth rule act on
the standardised data; this is the convention of ``scipy.stats.gaussian_kde`` (whose ``bw_method``
equals our ``bandwidth``), so the two agree. Rules (Scott 1992; Silverman 1986, with d dimensions
and n points):

    scott:     h = n ** (-1 / (d + 4))
    silverman: h = (n * (d + 2) / 4) ** (-1 / (d + 4))

Sampling a KDE adds kernel noise to resampled points, so (see ``moments``) its covariance is the
data covariance plus ``h^2 Sigma``: in a retraining loop the spread grows each generation instead of
shrinking as it does for a fitted Gaussian.
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.gaussian import cov_factor
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import (
    check_fitted_finite,
    check_float,
    check_log_prob,
    check_numeric,
    check_state,
)

_LOG_2PI = float(np.log(2.0 * np.pi))
# Pairwise distances are computed in blocks of at most this many (query, point) pairs: 32 MiB.
_BLOCK = 4_000_000


@register
class KDE(Generator):
    """Gaussian KDE ``(1/n) sum_i N(data_[i], scale * kernel_cov_)``.

    Hyperparameters:
        bandwidth: a positive float factor ``h``, or ``"scott"`` / ``"silverman"`` (see module doc).
        scale: sampling-bias knob multiplying the kernel covariance; ``sample``, ``log_prob``
            and ``moments`` all use the scaled kernel.

    Learned: ``data_`` (n, d), ``bandwidth_`` (the factor h), ``kernel_cov_`` (d, d) = h^2 Sigma.
    """

    kind = "kde"
    data_kind = "numeric"

    def __init__(
        self, *, bandwidth: float | Literal["scott", "silverman"] = "scott", scale: float = 1.0
    ):
        self.bandwidth = bandwidth
        self.scale = scale

    def _scale(self) -> float:
        return check_float("scale", self.scale, low_inclusive=False)

    def _factor_for(self, n: int, d: int) -> float:
        bw = self.bandwidth
        if bw == "scott":
            return float(n ** (-1.0 / (d + 4)))
        if bw == "silverman":
            return float((n * (d + 2) / 4.0) ** (-1.0 / (d + 4)))
        if isinstance(bw, str):
            raise InvalidParameterError(
                f"bandwidth: expected 'scott', 'silverman' or a number > 0, got {bw!r}"
            )
        return check_float("bandwidth", bw, low_inclusive=False)

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Store the data and the kernel covariance; ``rng`` is unused."""
        self._scale()
        x = check_numeric(data, min_rows=2)  # the data covariance (ddof 1) needs two points
        h = self._factor_for(*x.shape)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            centred = x - x.mean(axis=0)
            sigma = centred.T @ centred / (x.shape[0] - 1)
        check_fitted_finite("kde", covariance=sigma)
        self._set(x, h, h * h * sigma)
        return self

    def _set(self, data: np.ndarray, h: float, kernel_cov: np.ndarray) -> None:
        self.data_ = data
        self.bandwidth_ = float(h)
        self.kernel_cov_ = kernel_cov
        self._kfactor = cov_factor(kernel_cov)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean and covariance: data mean, data covariance (ddof 0) + scale * kernel_cov_."""
        self._check_fitted()
        mean = self.data_.mean(axis=0)
        centred = self.data_ - mean
        cov = centred.T @ centred / self.data_.shape[0]
        return mean, cov + self._scale() * self.kernel_cov_

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Pick training points uniformly with ``rng`` and add kernel noise."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        idx = rng.integers(0, self.data_.shape[0], size=n)
        z = rng.standard_normal((n, self.data_.shape[1]))
        return self.data_[idx] + np.sqrt(self._scale()) * (z @ self._kfactor.T)

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """Exact log-density per row, computed in blocks so memory stays bounded."""
        self._check_fitted()
        x = check_numeric(data, n_features=self.data_.shape[1], min_rows=0)
        cov = self._scale() * self.kernel_cov_
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise DataError(
                "log_prob: expected a positive definite kernel covariance, got a singular one "
                "(the training data had no spread in some direction)"
            ) from None
        # Whiten so the kernel becomes the standard normal; then distances are Euclidean.
        # Centring first keeps |q|^2 + |p|^2 - 2 q.p accurate when the data sit far from 0.
        centre = self.data_.mean(axis=0)
        pts = solve_triangular(chol, (self.data_ - centre).T, lower=True).T
        with np.errstate(over="ignore", invalid="ignore"):
            qs = solve_triangular(chol, (x - centre).T, lower=True, check_finite=False).T
        pts_sq = np.einsum("ij,ij->i", pts, pts)
        m, d = pts.shape
        const = -np.log(m) - 0.5 * d * _LOG_2PI - np.log(np.diag(chol)).sum()
        out = np.empty(x.shape[0])
        step = max(1, _BLOCK // m)
        for start in range(0, x.shape[0], step):
            q = qs[start : start + step]
            with np.errstate(over="ignore", invalid="ignore"):
                sq = np.einsum("ij,ij->i", q, q)[:, None] + pts_sq[None, :] - 2.0 * (q @ pts.T)
            # inf - inf from an overflowing (but well-defined) whitened query means "infinitely
            # far"; a NaN whitened query is reported as overflow by check_log_prob.
            far = np.isnan(sq) & ~np.isnan(q).any(axis=1)[:, None]
            sq = np.where(far, np.inf, np.maximum(sq, 0.0))
            out[start : start + step] = logsumexp(-0.5 * sq, axis=1)
        return check_log_prob(out + const, "kde")

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {
            "data_": self.data_.copy(),
            "bandwidth_": np.asarray(self.bandwidth_),
            "kernel_cov_": self.kernel_cov_.copy(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        s = check_state(state, ("data_", "kernel_cov_"), "KDE", scalars=("bandwidth_",))
        data, cov = s["data_"].astype(np.float64), s["kernel_cov_"].astype(np.float64)
        if data.ndim != 2 or cov.shape != (data.shape[1], data.shape[1]):
            raise DataError(
                "KDE state: expected data_ (n, d) and kernel_cov_ (d, d), "
                f"got {data.shape} and {cov.shape}"
            )
        self._set(data, float(s["bandwidth_"]), cov)
        return self
