"""Precision, recall, density and coverage of a generated sample against a real one.

Naeem, Oh, Uh, Choi & Yoo 2020, "Reliable fidelity and diversity metrics for generative
models" (ICML), building on Kynkäänniemi et al. 2019 ("Improved precision and recall metric for
assessing generative models"). With ``B(x, r)`` the ball of radius ``r`` around ``x`` and
``NND_k(x)`` the distance from ``x`` to its k-th nearest neighbour within its own set (the point
itself excluded, as in the ``prdc`` package: the (k+1)-th smallest distance counting the 0 to
itself), for real points ``X_i`` (N of them) and fake points ``Y_j`` (M):

- precision = (1/M) Σ_j 1[∃ i: ‖Y_j − X_i‖ < NND_k(X_i)]  (fake points on the real manifold)
- recall    = (1/N) Σ_i 1[∃ j: ‖X_i − Y_j‖ < NND_k(Y_j)]  (real points on the fake manifold)
- density   = 1/(kM) Σ_j Σ_i 1[‖Y_j − X_i‖ < NND_k(X_i)]   (how many real balls hold each fake)
- coverage  = (1/N) Σ_i 1[min_j ‖X_i − Y_j‖ < NND_k(X_i)]  (real balls that hold any fake)

These are the exact definitions (strict inequalities) of the reference package ``prdc`` 0.2.

Memory. The package builds three full distance matrices (O(N² + M² + NM)). Here distances are
computed in row blocks of ``chunk_size``: the radii come from ``ndarray.partition`` on each
block (O(N + M) kept), and one more blocked pass over real × fake counts everything, because
coverage's ``min_j d_ij < r_i`` is the same event as ``∃ j: d_ij < r_i`` and density only needs
the total count. Peak memory is O(chunk_size · max(N, M) + N·d + M·d). Comparisons are made on
squared distances against squared radii (the same order, no square roots).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.two_sample import (
    as_two_samples,
    check_chunk,
    distance_factors,
    squared_distance_block,
)
from modelcollapse.metrics.functional.validation import as_points, check_int


@dataclass(frozen=True)
class PRDC:
    """The four numbers of :func:`prdc`."""

    precision: float
    recall: float
    density: float
    coverage: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def knn_sq_radii(x: Any, k: int = 5, *, chunk_size: int = 256) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row: ``NND_k(x_i)²``.

    That is the (k+1)-th smallest squared distance in row ``i`` counting the 0 to itself (a
    duplicate of ``x_i`` counts as a neighbour at distance 0, as in ``prdc``). Needs ``k + 1``
    rows. Blocked: memory O(chunk_size · n).
    """
    k = check_int("k", k, low=1)
    chunk = check_chunk(chunk_size)
    a = as_points(x, "data", min_rows=k + 1)
    return _knn_sq_radii(*distance_factors(a), k, chunk)


def _knn_sq_radii(left: np.ndarray, right: np.ndarray, k: int, chunk: int) -> np.ndarray:
    out = np.empty(left.shape[0])
    for s in range(0, left.shape[0], chunk):
        block = squared_distance_block(left[s : s + chunk], right)
        block.partition(k, axis=1)  # in place: no second block-sized array
        out[s : s + chunk] = block[:, k]
    return out


def prdc(real: Any, fake: Any, k: int = 5, *, chunk_size: int = 256) -> PRDC:
    """Precision, recall, density and coverage (Naeem et al. 2020) of ``fake`` (M, d) against
    ``real`` (N, d) with ``k`` nearest neighbours, equal to ``prdc.compute_prdc(real, fake, k)``
    but blocked (module docstring). Each set needs at least ``k + 1`` rows."""
    k = check_int("k", k, low=1)
    chunk = check_chunk(chunk_size)
    x, y = as_two_samples(real, fake, ("real", "fake"))
    for name, arr in (("real", x), ("fake", y)):
        if arr.shape[0] < k + 1:
            raise DataError(f"{name}: expected at least k + 1 = {k + 1} rows, got {arr.shape[0]}")
    lx, rx = distance_factors(x)
    ly, ry = distance_factors(y)
    r_real = _knn_sq_radii(lx, rx, k, chunk)
    r_fake = _knn_sq_radii(ly, ry, k, chunk)
    n, m = x.shape[0], y.shape[0]
    fake_in_real = np.zeros(m, dtype=bool)  # precision: fake j inside some real ball
    in_count = 0  # density: number of (real ball, fake point) incidences
    real_in_fake = 0  # recall: real i inside some fake ball
    covered = 0  # coverage: real ball i holds some fake point
    for s in range(0, n, chunk):
        d2 = squared_distance_block(lx[s : s + chunk], ry)
        inside = d2 < r_real[s : s + chunk, None]
        fake_in_real |= inside.any(axis=0)
        in_count += int(np.count_nonzero(inside))
        covered += int(np.count_nonzero(inside.any(axis=1)))
        real_in_fake += int(np.count_nonzero((d2 < r_fake[None, :]).any(axis=1)))
    return PRDC(
        precision=float(fake_in_real.mean()),
        recall=real_in_fake / n,
        density=in_count / (k * m),
        coverage=covered / n,
    )
