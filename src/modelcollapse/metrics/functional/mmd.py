"""Maximum mean discrepancy with an RBF kernel: the unbiased estimator MMD²_u.

For samples ``X = {x_i}_{i≤m}``, ``Y = {y_j}_{j≤n}`` and kernel ``k``, Gretton, Borgwardt,
Rasch, Schölkopf & Smola 2012 ("A kernel two-sample test", JMLR 13, Lemma 6) define

``MMD²_u = 1/(m(m−1)) Σ_{i≠i'} k(x_i, x_i') + 1/(n(n−1)) Σ_{j≠j'} k(y_j, y_j')
          − 2/(mn) Σ_{i,j} k(x_i, y_j)``,

an unbiased estimate of ``MMD² = ‖μ_P − μ_Q‖²_H``. It can be slightly negative when the two
distributions are equal; it is 0 in expectation then.

Kernel: ``k(a, b) = exp(−‖a − b‖² / (2σ²))``. Bandwidth by the median heuristic (Gretton et
al. 2012, Sec. 8): ``σ`` = the median of the Euclidean distances ``‖z_i − z_j‖`` over distinct
pairs ``i < j`` of the pooled sample ``Z = X ∪ Y``. When ``|Z| > max_points`` (default 1,000),
the median is taken over a uniform subsample of ``max_points`` pooled points drawn without
replacement from ``rng`` (a Generator or an int seed, default 0); the heuristic is a scale
estimate, and 1,000 points (≈500,000 pairs) pin the median down to well under 1%. If the median
is 0 (more than half the pairs are duplicates) the median of the non-zero distances is used; if
every point is the same, any σ gives MMD²_u = 0 and σ = 1 is used.

Memory: the kernel sums are accumulated over row blocks of ``chunk_size`` rows, so at most a
``chunk_size × max(m, n)`` block is held at once (O(chunk·n), never the full kernel matrix).
The within-sample sums use symmetry and only visit blocks on or above the diagonal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import pdist

from modelcollapse.errors import InvalidParameterError
from modelcollapse.metrics.functional.two_sample import (
    as_two_samples,
    check_chunk,
    check_rng,
    distance_factors,
    squared_distance_block,
)
from modelcollapse.metrics.functional.validation import check_int


def _scale(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute value of the pooled sample (1 for all-zero data). Distances are
    computed on data divided by it, so squares neither overflow nor drop into subnormals."""
    s = max(float(np.abs(a).max()), float(np.abs(b).max()))
    return s if s > 0.0 else 1.0


def _median_distance(a: np.ndarray, b: np.ndarray, max_points: int, rng: Any) -> float:
    """Median heuristic of the module docstring, for data already scaled by :func:`_scale`."""
    z = np.vstack([a, b])
    if z.shape[0] > max_points:
        z = z[check_rng(rng).choice(z.shape[0], size=max_points, replace=False)]
    if z.shape[0] < 2:
        raise InvalidParameterError(
            f"median_heuristic: expected at least 2 pooled points, got {z.shape[0]}"
        )
    dist = pdist(z)
    med = float(np.median(dist))
    if med > 0.0:
        return med
    positive = dist[dist > 0.0]
    return float(np.median(positive)) if positive.size else 1.0


def median_heuristic(
    x: Any, y: Any, *, max_points: int = 1000, rng: np.random.Generator | int = 0
) -> float:
    """Median pairwise Euclidean distance of the pooled sample (see the module docstring)."""
    max_points = check_int("max_points", max_points, low=2)
    a, b = as_two_samples(x, y, ("X", "Y"))
    s = _scale(a, b)
    return _median_distance(a / s, b / s, max_points, rng) * s


def _check_bandwidth(bandwidth: Any) -> float:
    ok = isinstance(bandwidth, (int, float, np.integer, np.floating)) and not isinstance(
        bandwidth, bool
    )
    if not ok or not np.isfinite(bandwidth) or bandwidth <= 0:
        raise InvalidParameterError(f"bandwidth: expected a positive number, got {bandwidth!r}")
    return float(bandwidth)


def _self_kernel_sum(a: np.ndarray, gamma: float, chunk: int) -> float:
    """``Σ_{i≠j} exp(−γ ‖a_i − a_j‖²)`` over blocks on or above the diagonal."""
    left, right = distance_factors(a)
    n = a.shape[0]
    upper = 0.0
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        block = squared_distance_block(left[s:e], right[s:])
        block *= -gamma
        np.exp(block, out=block)
        # Strictly upper triangle of the diagonal block, then everything right of it.
        upper += float(np.triu(block[:, : e - s], k=1).sum()) + float(block[:, e - s :].sum())
    return 2.0 * upper


def _cross_kernel_sum(a: np.ndarray, b: np.ndarray, gamma: float, chunk: int) -> float:
    """``Σ_{i,j} exp(−γ ‖a_i − b_j‖²)``."""
    left = distance_factors(a)[0]
    right = distance_factors(b)[1]
    total = 0.0
    for s in range(0, a.shape[0], chunk):
        block = squared_distance_block(left[s : s + chunk], right)
        block *= -gamma
        np.exp(block, out=block)
        total += float(block.sum())
    return total


def mmd(
    x: Any,
    y: Any,
    *,
    bandwidth: float | None = None,
    chunk_size: int = 1024,
    max_points: int = 1000,
    rng: np.random.Generator | int = 0,
) -> float:
    """Unbiased ``MMD²_u`` (Gretton et al. 2012, Lemma 6) between the rows of ``x`` (m, d) and
    ``y`` (n, d) with the RBF kernel ``exp(−‖a − b‖²/(2σ²))``.

    ``σ = bandwidth`` when given, else the median heuristic (:func:`median_heuristic`, using
    ``max_points`` and ``rng``). Each sample needs at least 2 rows. Computed in row blocks of
    ``chunk_size``: memory O(chunk_size · max(m, n)).
    """
    chunk = check_chunk(chunk_size)
    max_points = check_int("max_points", max_points, low=2)
    a, b = as_two_samples(x, y, ("X", "Y"), min_rows=2)
    # Work in units of σ, k = exp(-‖a/σ - b/σ‖² / 2), reached through the data's own scale s:
    # 1/(2σ²) itself under- or overflows for data at extreme scales (σ ~ 1e-160 or 1e160).
    s = _scale(a, b)
    a, b = a / s, b / s
    if bandwidth is None:
        sigma = _median_distance(a, b, max_points, rng)
    else:
        sigma = _check_bandwidth(bandwidth) / s
    a, b, gamma = a / sigma, b / sigma, 0.5
    m, n = a.shape[0], b.shape[0]
    kxx = _self_kernel_sum(a, gamma, chunk) / (m * (m - 1))
    kyy = _self_kernel_sum(b, gamma, chunk) / (n * (n - 1))
    kxy = _cross_kernel_sum(a, b, gamma, chunk) / (m * n)
    return float(kxx + kyy - 2.0 * kxy)
