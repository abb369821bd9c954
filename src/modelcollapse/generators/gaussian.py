"""Multivariate normal generator, the model of the classic collapse analyses.

Fitting a Gaussian to its own samples, generation after generation, drives the covariance to
zero almost surely while the mean performs a random walk (Shumailov et al. 2024, "AI models
collapse when trained on recursively generated data", Nature 631; Alemohammad et al. 2023,
"Self-consuming generative models go MAD"). The ``estimator`` choice matters: the MLE covariance
(ddof 0) shrinks by ``(n-1)/n`` in expectation each generation, the unbiased one (ddof 1) does not,
yet both collapse.

The module also holds the Gaussian helpers that the mixture and KDE generators reuse.
"""

from __future__ import annotations

from typing import Literal, Self

import numpy as np
from scipy.linalg import solve_triangular

from modelcollapse.errors import DataError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import (
    check_choice,
    check_fitted_finite,
    check_float,
    check_log_prob,
    check_numeric,
    check_state,
)

_LOG_2PI = float(np.log(2.0 * np.pi))


def cov_factor(cov: np.ndarray) -> np.ndarray:
    """A matrix ``L`` with ``L @ L.T == cov``, for sampling.

    Cholesky when ``cov`` is positive definite; otherwise (a collapsed, singular covariance is a
    legitimate state in these loops) a symmetric eigen-factor with negative round-off clipped to 0.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v * np.sqrt(np.clip(w, 0.0, None))


def mvn_log_prob(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Exact log-density of ``N(mean, cov)`` at each row of ``x`` (n, d), in nats.

    Raises DataError when ``cov`` is singular: the density does not exist there, and a silent
    jitter would report arbitrary values. Fit with ``reg > 0`` to keep it positive definite.
    """
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise DataError(
            "log_prob: expected a positive definite covariance, got a singular one "
            "(the model has collapsed or saw <= d distinct points); set reg > 0 to regularise"
        ) from None
    with np.errstate(over="ignore", invalid="ignore"):  # huge queries: -inf, or NaN caught below
        z = solve_triangular(chol, (x - mean).T, lower=True, check_finite=False)
        sq = np.einsum("ij,ij->j", z, z)
    half_logdet = np.log(np.diag(chol)).sum()
    return check_log_prob(-0.5 * (sq + mean.shape[0] * _LOG_2PI) - half_logdet, "gaussian")


@register
class Gaussian(Generator):
    """Multivariate normal ``N(mean_, scale * cov_)`` fitted by maximum likelihood or unbiasedly.

    Hyperparameters:
        estimator: ``"mle"`` (covariance with ddof 0) or ``"unbiased"`` (ddof 1, needs n >= 2).
        scale: sampling-bias knob; the model distribution is ``N(mean_, scale * cov_)``.
            ``sample``, ``log_prob`` and ``moments`` all use this scaled distribution, so metrics
            computed from the model agree with its samples. ``scale < 1`` mimics low-temperature
            sampling.
        reg: added to the diagonal of the fitted covariance (included in ``cov_``).

    Learned: ``mean_`` (d,), ``cov_`` (d, d) (unscaled, with ``reg``).
    """

    kind = "gaussian"
    data_kind = "numeric"

    def __init__(
        self, *, estimator: Literal["mle", "unbiased"] = "mle", scale: float = 1.0, reg: float = 0.0
    ):
        self.estimator = estimator
        self.scale = scale
        self.reg = reg

    def _check_params(self) -> tuple[int, float, float]:
        ddof = {"mle": 0, "unbiased": 1}[
            check_choice("estimator", self.estimator, ("mle", "unbiased"))
        ]
        scale = check_float("scale", self.scale, low_inclusive=False)
        reg = check_float("reg", self.reg)
        return ddof, scale, reg

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Estimate mean and covariance; ``rng`` is unused (the fit is deterministic)."""
        ddof, _, reg = self._check_params()
        x = check_numeric(data, min_rows=ddof + 1)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked just below
            mean = x.mean(axis=0)
            centred = x - mean
            cov = centred.T @ centred / (x.shape[0] - ddof)
            cov[np.diag_indices_from(cov)] += reg
        check_fitted_finite("gaussian", mean=mean, cov=cov)
        self._set(mean, cov)
        return self

    def _set(self, mean: np.ndarray, cov: np.ndarray) -> None:
        self.mean_ = mean
        self.cov_ = cov
        self._factor = cov_factor(cov)  # cached: sampling is the hot path of a collapse loop

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance of the model distribution ``N(mean_, scale * cov_)``."""
        self._check_fitted()
        _, scale, _ = self._check_params()
        return self.mean_.copy(), scale * self.cov_

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, float64 (n, d): ``mean_ + sqrt(scale) * L z`` with ``L L^T = cov_``."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        _, scale, _ = self._check_params()
        z = rng.standard_normal((n, self.mean_.shape[0]))
        return self.mean_ + np.sqrt(scale) * (z @ self._factor.T)

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """Exact log-density under ``N(mean_, scale * cov_)`` per row, in nats."""
        self._check_fitted()
        _, scale, _ = self._check_params()
        x = check_numeric(data, n_features=self.mean_.shape[0], min_rows=0)
        return mvn_log_prob(x, self.mean_, scale * self.cov_)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"mean_": self.mean_.copy(), "cov_": self.cov_.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        s = check_state(state, ("mean_", "cov_"), type(self).__name__)
        mean, cov = s["mean_"].astype(np.float64), s["cov_"].astype(np.float64)
        d = mean.shape[0] if mean.ndim == 1 else -1
        if d < 1 or cov.shape != (d, d):
            raise DataError(
                "Gaussian state: expected mean_ (d,) and cov_ (d, d), "
                f"got {mean.shape} and {cov.shape}"
            )
        self._set(mean, cov)
        return self
