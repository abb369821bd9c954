"""Test error of a fitted linear model: excess risk against the true coefficients.

Recursive training of linear regression on its own predictions: with replacement, the test
error grows linearly in the number of generations; with accumulation of real and synthetic data
it stays bounded (Dohmatob, Feng & Kempe 2024, "Model collapse demystified: the case of
regression"; Gerstgrasser et al. 2024, "Is model collapse inevitable?", Theorems 1 and 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.validation import as_points, model_attr


def excess_risk(
    coef: Any, intercept: Any, true_coef: Any, true_intercept: Any = 0.0, cov: Any = None
) -> np.ndarray:
    """``(ŵ-w*)ᵀ Σ (ŵ-w*) + (b̂-b*)²`` for a centred design with covariance ``Σ`` (identity by
    default, the standard normal design of the synthetic linear source).

    This is the expected squared prediction error minus the irreducible noise. Batch dims of
    ``coef`` (..., d) and ``intercept`` (...) broadcast.
    """
    coef = np.asarray(coef, dtype=np.float64)
    true_coef = np.asarray(true_coef, dtype=np.float64)
    if coef.shape[-1:] != true_coef.shape[-1:]:
        raise DataError(
            f"expected coefficients of the same length, got {coef.shape} and {true_coef.shape}"
        )
    diff = coef - true_coef
    if cov is None:
        quad = (diff**2).sum(axis=-1)
    else:
        quad = np.einsum("...i,...ij,...j->...", diff, np.asarray(cov, dtype=np.float64), diff)
    return (
        quad
        + (np.asarray(intercept, dtype=np.float64) - np.asarray(true_intercept, dtype=np.float64))
        ** 2
    )


def prediction_mse(coef: Any, intercept: float, data: Any) -> float:
    """Mean squared error ``mean_i (y_i - x_iᵀŵ - b̂)²`` on ``data`` (n, d+1), last column y."""
    xy = as_points(data, "heldout")
    coef = np.asarray(coef, dtype=np.float64).ravel()
    if xy.shape[1] != coef.shape[0] + 1:
        raise DataError(
            f"heldout: expected {coef.shape[0] + 1} columns (d features + y), got {xy.shape[1]}"
        )
    residual = xy[:, -1] - xy[:, :-1] @ coef - float(intercept)
    return float(np.mean(residual**2))


def test_error(
    model: Any, heldout: Any = None, truth: Mapping[str, np.ndarray] | None = None
) -> float:
    """Test error of a linear model (``coef_``, ``intercept_``).

    With a known truth (``truth["coef"]``, optionally ``truth["intercept"]``, default 0): the
    excess risk ``‖ŵ-w*‖² + (b̂-b*)²`` under the standard normal design (Σ = I), the quantity the
    regression collapse theorems predict. Without one: the plain mean squared prediction error on
    the held-out real data; the noise variance is *not* subtracted (it is unknown), so this is
    the excess risk plus a constant.
    """
    coef = np.asarray(model_attr(model, "coef_", "test_error"), dtype=np.float64).ravel()
    intercept = float(getattr(model, "intercept_", 0.0))
    if truth is not None and "coef" in truth:
        true_intercept = float(np.asarray(truth.get("intercept", 0.0)))
        return float(
            excess_risk(coef, intercept, np.asarray(truth["coef"]).ravel(), true_intercept)
        )
    if heldout is None:
        raise DataError("test_error: expected held-out data or a truth with 'coef', got neither")
    return prediction_mse(coef, intercept, heldout)


# The name starts with "test": stop pytest from collecting it where tests import it.
test_error.__test__ = False  # type: ignore[attr-defined]
