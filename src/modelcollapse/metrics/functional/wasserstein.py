"""2-Wasserstein distance between the model and the real distribution, via Gaussian moments.

``W2(N(μ_model, Σ_model), N(μ_real, Σ_real))`` with the model's exact moments
(``model.moments()``) and the real distribution's: the true mean and covariance when the source
is synthetic (``truth``), else the maximum-likelihood moments of all the real data we hold
(training reference plus held-out). The closed form (Dowson & Landau 1982) is the exact W2
between the two distributions when both are Gaussian; for other models it is the W2 between
their Gaussian approximations, a lower bound on the true W2 (Gelbrich 1990, "On a formula for
the L2 Wasserstein metric between measures on Euclidean and Hilbert spaces").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.gaussian import gaussian_w2
from modelcollapse.metrics.functional.moments import (
    covariance_from_state,
    merge_moment_states,
    moment_state,
)
from modelcollapse.metrics.functional.validation import model_moments


def real_moments(
    reference: Any, heldout: Any = None, truth: Mapping[str, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of the real distribution.

    ``truth["mean"]``/``truth["cov"]`` when given, else the ML moments of reference + heldout.
    """
    if truth is not None and "mean" in truth and "cov" in truth:
        mean = np.atleast_1d(np.asarray(truth["mean"], dtype=np.float64))
        cov = np.atleast_2d(np.asarray(truth["cov"], dtype=np.float64))
        if mean.ndim != 1 or cov.shape != (mean.shape[0],) * 2:
            raise DataError(
                f"truth: expected mean (d,) and cov (d, d), got {mean.shape} and {cov.shape}"
            )
        return mean, cov
    state = moment_state(reference)
    if heldout is not None:
        state = merge_moment_states(state, moment_state(heldout))
    return state.mean, covariance_from_state(state, ddof=0)


def w2(
    model: Any,
    reference: Any,
    heldout: Any = None,
    truth: Mapping[str, np.ndarray] | None = None,
) -> float:
    """W2 distance (not squared) between ``N(model.moments())`` and the real distribution
    (see :func:`real_moments`); exact for Gaussian models and a Gaussian truth."""
    mean, cov = model_moments(model, "w2")
    real_mean, real_cov = real_moments(reference, heldout, truth)
    if real_mean.shape != mean.shape:
        raise DataError(
            f"w2: expected real data of dimension {mean.shape[0]} like the model, got {real_mean.shape[0]}"
        )
    return float(gaussian_w2(mean, cov, real_mean, real_cov))
