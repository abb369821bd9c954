"""Gaussian mixture generator (EM via scikit-learn, sampling with our own rng).

Mixtures are the second classic testbed of model collapse: Shumailov et al. 2024 (Nature 631)
fit a GMM to its own samples and watch low-weight components and the tails vanish.

scikit-learn's ``GaussianMixture.sample`` draws from ``self.random_state``, so a loop built on it
draws the same numbers every generation. Here EM only estimates the parameters (its initialisation
seed is drawn from the ``rng`` given to ``fit``) and ``sample`` draws with the ``rng`` it is given.
"""

from __future__ import annotations

import warnings
from typing import Literal, Self

import numpy as np
from scipy.special import logsumexp

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.gaussian import cov_factor, mvn_log_prob
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import (
    check_choice,
    check_fitted_finite,
    check_float,
    check_int,
    check_numeric,
    check_state,
)


@register
class GaussianMixture(Generator):
    """Mixture ``sum_k weights_[k] N(means_[k], scale * covariances_[k])``.

    Hyperparameters:
        n_components: number of mixture components (needs at least that many rows at fit).
        covariance_type: ``"full"`` or ``"diag"`` per component.
        max_iter: EM iterations.
        reg_covar: added to every component covariance diagonal by EM (keeps them invertible).
        scale: sampling-bias knob multiplying every component covariance; ``sample``,
            ``log_prob`` and ``moments`` all use the scaled mixture.

    Learned: ``weights_`` (K,), ``means_`` (K, d), ``covariances_`` (K, d, d) (full matrices
    even for ``"diag"``, so downstream code has one shape to handle).
    """

    kind = "gmm"
    data_kind = "numeric"

    def __init__(
        self,
        *,
        n_components: int = 2,
        covariance_type: Literal["full", "diag"] = "full",
        max_iter: int = 100,
        reg_covar: float = 1e-6,
        scale: float = 1.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.max_iter = max_iter
        self.reg_covar = reg_covar
        self.scale = scale

    def _scale(self) -> float:
        return check_float("scale", self.scale, low_inclusive=False)

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Run EM; its k-means initialisation is seeded from ``rng`` (required)."""
        from sklearn.mixture import GaussianMixture as _SkGMM

        k = check_int("n_components", self.n_components)
        cov_type = check_choice("covariance_type", self.covariance_type, ("full", "diag"))
        max_iter = check_int("max_iter", self.max_iter)
        reg_covar = check_float("reg_covar", self.reg_covar)
        self._scale()
        if rng is None:
            raise InvalidParameterError(
                "gmm.fit: expected rng=numpy.random.Generator (EM initialisation is random), "
                "got None"
            )
        rng = check_rng(rng)
        x = check_numeric(data)
        if x.shape[0] < k:
            raise DataError(f"gmm.fit: expected at least n_components={k} rows, got {x.shape[0]}")
        seed = int(rng.integers(0, 2**32 - 1))
        sk = _SkGMM(
            n_components=k,
            covariance_type=cov_type,
            max_iter=max_iter,
            reg_covar=reg_covar,
            random_state=seed,
        )
        with warnings.catch_warnings():
            # Collapsed data (duplicates, fewer distinct points than components) is expected in
            # these loops; sklearn's warnings about it would flood every generation.
            warnings.simplefilter("ignore")
            try:
                sk.fit(x)
            except ValueError as exc:  # e.g. ill-defined covariance with reg_covar=0
                raise DataError(
                    f"gmm.fit: EM failed on this data ({exc}); increase reg_covar"
                ) from None
        covs = sk.covariances_
        if cov_type == "diag":
            covs = np.stack([np.diag(c) for c in covs])
        check_fitted_finite("gmm", weights=sk.weights_, means=sk.means_, covariances=covs)
        self._set(sk.weights_, sk.means_, covs)
        return self

    def _set(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        self.covariances_ = np.asarray(covs, dtype=np.float64)
        self._factors = np.stack([cov_factor(c) for c in self.covariances_])

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact mixture mean and covariance: ``sum w (scale S_k + m_k m_k^T) - m m^T``."""
        self._check_fitted()
        w, m = self.weights_, self.means_
        mean = w @ m
        second = np.einsum("k,kij->ij", w, self._scale() * self.covariances_)
        second += np.einsum("k,ki,kj->ij", w, m, m)
        return mean, second - np.outer(mean, mean)

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Choose components with ``rng``, then draw each point from its component Gaussian."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        sd = np.sqrt(self._scale())
        comp = rng.choice(self.weights_.shape[0], size=n, p=self.weights_ / self.weights_.sum())
        z = rng.standard_normal((n, self.means_.shape[1]))
        out = np.empty_like(z)
        for k in range(self.weights_.shape[0]):
            idx = comp == k
            out[idx] = self.means_[k] + sd * (z[idx] @ self._factors[k].T)
        return out

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """Exact mixture log-density per row: ``logsumexp_k(log w_k + log N_k(x))``."""
        self._check_fitted()
        x = check_numeric(data, n_features=self.means_.shape[1], min_rows=0)
        scale = self._scale()
        with np.errstate(divide="ignore"):  # a zero weight is a legitimate -inf term
            log_w = np.log(self.weights_)
        terms = np.stack(
            [
                mvn_log_prob(x, m, scale * c)
                for m, c in zip(self.means_, self.covariances_, strict=True)
            ],
            axis=1,
        )
        return logsumexp(terms + log_w, axis=1)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {
            "weights_": self.weights_.copy(),
            "means_": self.means_.copy(),
            "covariances_": self.covariances_.copy(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        s = check_state(state, ("weights_", "means_", "covariances_"), type(self).__name__)
        w, m, c = s["weights_"], s["means_"], s["covariances_"]
        if (
            w.ndim != 1
            or m.ndim != 2
            or c.shape != (m.shape[0], m.shape[1], m.shape[1])
            or w.shape[0] != m.shape[0]
        ):
            raise DataError(
                "GaussianMixture state: expected weights_ (K,), means_ (K, d), covariances_ "
                f"(K, d, d), got {w.shape}, {m.shape}, {c.shape}"
            )
        self._set(w, m, c)
        return self
