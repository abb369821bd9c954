"""Fréchet distance between two feature sets: the FID formula on any features.

``FD(X, Y) = ‖μx − μy‖² + Tr(Σx + Σy − 2 (Σx Σy)^{1/2})``

with ``μ``, ``Σ`` the sample mean and covariance of each set. This is the squared 2-Wasserstein
distance between the Gaussians ``N(μx, Σx)`` and ``N(μy, Σy)`` (Dowson & Landau 1982, "The
Fréchet distance between multivariate normal distributions"); Heusel et al. 2017 ("GANs trained
by a two time-scale update rule converge to a local Nash equilibrium", NeurIPS) applied it to
Inception features as the FID. Here it works on raw numeric data or any embedding.

Conventions, as in the reference FID implementations (TTUR, pytorch-fid): the covariance is
``np.cov`` (``ddof=1``) and the value is the *squared* distance. ``Tr (Σx Σy)^{1/2}`` is computed
as ``Tr (Σy^{1/2} Σx Σy^{1/2})^{1/2}`` (the same eigenvalues, but a symmetric PSD matrix, so no
complex round-off as with ``scipy.linalg.sqrtm`` of the non-symmetric product) through
:func:`~modelcollapse.metrics.functional.gaussian.gaussian_w2`. Round-off that would make the
result slightly negative for equal inputs is clipped to 0.

The moments are a mergeable :class:`MomentState`, so the streaming form is exact.
"""

from __future__ import annotations

from typing import Any

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.gaussian import gaussian_w2
from modelcollapse.metrics.functional.moments import (
    MomentState,
    covariance_from_state,
    moment_state,
)
from modelcollapse.metrics.functional.two_sample import as_two_samples
from modelcollapse.metrics.functional.validation import check_int


def frechet_from_moments(mean_x: Any, cov_x: Any, mean_y: Any, cov_y: Any) -> float:
    """``‖μx − μy‖² + Tr(Σx + Σy − 2 (Σx Σy)^{1/2})`` from given moments (the squared W2
    between the two Gaussians). NaN when a moment is not finite."""
    return float(gaussian_w2(mean_x, cov_x, mean_y, cov_y) ** 2)


def frechet_from_states(state_x: MomentState, state_y: MomentState, ddof: int = 1) -> float:
    """Fréchet distance from two :class:`MomentState` summaries (see :func:`frechet_distance`)."""
    ddof = check_int("ddof", ddof)
    for name, state in (("X", state_x), ("Y", state_y)):
        if state.n <= ddof:
            raise DataError(
                f"frechet_distance: {name}: expected at least {ddof + 1} rows for a covariance "
                f"with ddof={ddof}, got {state.n}"
            )
    if state_x.mean.shape != state_y.mean.shape:
        raise DataError(
            f"frechet_distance: Y: expected {state_x.mean.shape[0]} column(s) like X, "
            f"got {state_y.mean.shape[0]}"
        )
    return frechet_from_moments(
        state_x.mean,
        covariance_from_state(state_x, ddof),
        state_y.mean,
        covariance_from_state(state_y, ddof),
    )


def frechet_distance(x: Any, y: Any, *, ddof: int = 1) -> float:
    """Fréchet distance (the FID formula, squared W2 of the Gaussian fits) between the rows of
    ``x`` (n, d) and ``y`` (m, d).

    ``FD = ‖μx − μy‖² + Tr(Σx + Σy − 2 (Σx Σy)^{1/2})`` (Dowson & Landau 1982; Heusel et al.
    2017). ``ddof=1`` (the default) is the ``np.cov`` convention of the FID reference code;
    ``ddof=0`` uses the maximum-likelihood covariance. Needs ``ddof + 1`` rows per set.
    """
    ddof = check_int("ddof", ddof)
    a, b = as_two_samples(x, y, ("X", "Y"), min_rows=ddof + 1)
    return frechet_from_states(moment_state(a), moment_state(b), ddof)
