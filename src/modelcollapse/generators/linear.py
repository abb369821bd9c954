"""Linear regression on a fixed design, the analytic model of collapse in regression.

Each generation fits ordinary least squares to ``(X, y)`` and relabels the SAME design rows with
its own predictions plus Gaussian noise, ``y' = X coef_ + intercept_ + noise_ * eps``. With
replacement the test error grows linearly in the number of generations; with accumulation it
stays bounded (Dohmatob, Feng & Kempe 2024, "Model collapse demystified: the case of
regression"; Gerstgrasser et al. 2024, "Is model collapse inevitable? Breaking the curse of
recursion by accumulating real and synthetic data"; Dey & Donoho 2024, "Universality of the
pi^2/6 pathway in avoiding model collapse"). Those analyses assume the noise level is known,
hence the ``noise`` hyperparameter.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import (
    check_fitted_finite,
    check_float,
    check_log_prob,
    check_numeric,
    check_state,
)

_LOG_2PI = float(np.log(2.0 * np.pi))


@register
class LinearRegression(Generator):
    """``y | x ~ N(x @ coef_ + intercept_, noise_^2)`` on the stored design ``X_``.

    Data are (n, d + 1) float arrays whose last column is the label ``y``.

    Hyperparameters:
        fit_intercept: also fit an intercept (``intercept_`` is 0 otherwise).
        noise: known noise standard deviation. ``None`` estimates it as the unbiased residual
            std ``sqrt(RSS / (n - rank))``.

    Learned: ``coef_`` (d,), ``intercept_`` (float), ``noise_`` (float), ``X_`` (n, d) the
    training design. ``sample(n)`` relabels ``X_[i % len(X_)]`` for ``i < n``; when the training
    set is an accumulated pool the design is the whole pool, through which sampling cycles.
    """

    kind = "linear"
    data_kind = "regression"

    def __init__(self, *, fit_intercept: bool = False, noise: float | None = None):
        self.fit_intercept = fit_intercept
        self.noise = noise

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Ordinary least squares (minimum-norm when rank deficient); ``rng`` is unused."""
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            raise InvalidParameterError(
                f"fit_intercept: expected a bool, got {self.fit_intercept!r}"
            )
        noise = None if self.noise is None else check_float("noise", self.noise)
        arr = check_numeric(data, min_features=2)
        x, y = arr[:, :-1], arr[:, -1]
        design = np.column_stack([x, np.ones(len(x))]) if self.fit_intercept else x
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked below
                beta, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
        except np.linalg.LinAlgError as exc:  # SVD fails on overflowing values
            raise DataError(f"linear.fit: least squares failed on this data ({exc})") from None
        coef, intercept = (beta[:-1], float(beta[-1])) if self.fit_intercept else (beta, 0.0)
        if noise is None:
            dof = len(y) - int(rank)
            if dof <= 0:
                raise DataError(
                    f"linear.fit: expected more rows than the {int(rank)} fitted parameter(s) to "
                    f"estimate the noise, got {len(y)}; set the `noise` hyperparameter"
                )
            with np.errstate(over="ignore", invalid="ignore"):
                resid = y - design @ beta
                noise = float(np.sqrt(resid @ resid / dof))
        check_fitted_finite("linear", coef=coef, intercept=intercept, noise=noise)
        self.coef_, self.intercept_, self.noise_, self.X_ = coef, intercept, noise, x
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The regression mean ``x @ coef_ + intercept_`` for a design (m, d)."""
        self._check_fitted()
        x = check_numeric(x, name="x", n_features=self.coef_.shape[0], min_rows=0)
        return x @ self.coef_ + self.intercept_

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Relabel the fixed design cyclically: rows ``X_[i % len(X_)]``, float64 (n, d + 1)."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        x = self.X_[np.arange(n) % self.X_.shape[0]]
        y = x @ self.coef_ + self.intercept_ + self.noise_ * rng.standard_normal(n)
        return np.column_stack([x, y])

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """Gaussian log-density of ``y`` given ``x`` per row, in nats."""
        self._check_fitted()
        arr = check_numeric(data, n_features=self.coef_.shape[0] + 1, min_rows=0)
        if self.noise_ <= 0:
            raise InvalidParameterError(
                "log_prob: expected a noise std > 0, got 0 (the fit was exact); set `noise`"
            )
        with np.errstate(over="ignore", invalid="ignore"):  # huge rows: -inf, or NaN caught below
            r = (arr[:, -1] - arr[:, :-1] @ self.coef_ - self.intercept_) / self.noise_
            lp = -0.5 * (r * r + _LOG_2PI) - np.log(self.noise_)
        return check_log_prob(lp, "linear")

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {
            "coef_": self.coef_.copy(),
            "intercept_": np.asarray(self.intercept_),
            "noise_": np.asarray(self.noise_),
            "X_": self.X_.copy(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        s = check_state(
            state, ("coef_", "X_"), "LinearRegression", scalars=("intercept_", "noise_")
        )
        coef, x = s["coef_"].astype(np.float64), s["X_"].astype(np.float64)
        if coef.ndim != 1 or x.ndim != 2 or x.shape[1] != coef.shape[0] or x.shape[0] == 0:
            raise DataError(
                "LinearRegression state: expected coef_ (d,) and X_ (n, d), "
                f"got {coef.shape} and {x.shape}"
            )
        self.coef_, self.X_ = coef, x
        self.intercept_, self.noise_ = float(s["intercept_"]), float(s["noise_"])
        return self
