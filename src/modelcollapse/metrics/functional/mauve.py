"""MAUVE between two feature sets (Pillutla et al. 2021), computed as ``mauve-text`` does.

Pillutla, Swayamdipta, Zellers, Thickstun, Welleck, Choi & Harchaoui 2021, "MAUVE: Measuring the
gap between neural text and human text using divergence frontiers" (NeurIPS); Pillutla et al.
2023 (JMLR) for the estimator details. Given features of a human sample P and a model sample Q:

1. Quantize. Stack ``[Q; P]``, scale every row to unit L2 norm, project on the leading
   principal components that explain ``explained_variance`` (0.9) of the variance (PCA *without*
   whitening: ``mauve-text`` 0.4.0 calls ``cluster_feats(..., norm='l2', whiten=False)``), and
   cluster the pooled projections with k-means into ``num_buckets`` clusters (``'auto'``:
   ``max(2, round(min(|P|, |Q|) / 10))``), keeping the best of ``num_redo`` runs. The cluster
   frequencies of P and of Q are the histograms ``p`` and ``q``.
2. Divergence curve. For mixture weights ``λ`` in ``linspace(1e-6, 1 − 1e-6, 25)`` and
   ``r_λ = λp + (1 − λ)q``, the points ``(exp(−c KL(q‖r_λ)), exp(−c KL(p‖r_λ)))`` with scaling
   factor ``c = 5``, plus the end points (1, 0) and (0, 1).
3. MAUVE is the area under that curve, computed as ``mauve-text`` does: the mean of the
   trapezoid areas with the points sorted by x and sorted by y (ties broken along the frontier,
   see :func:`mauve_from_histograms`).

Differences from ``mauve-text``: k-means is scikit-learn's Lloyd in float32 (``mauve-text``
uses faiss), started from ``num_redo`` sets of distinct data points drawn from the ``rng``
argument (faiss also starts from random data points), and PCA is an eigendecomposition of the
d×d covariance (the same subspace as ``sklearn.decomposition.PCA``). k-means has no unique
optimum, so values agree within sampling noise of the quantization (about 0.01), not exactly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.two_sample import as_two_samples, check_rng, row_norms
from modelcollapse.metrics.functional.validation import check_int, check_level


def _check_positive(name: str, value: Any) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value <= 0:
        raise InvalidParameterError(f"{name}: expected a positive number, got {value!r}")
    return float(value)


def auto_buckets(n_p: int, n_q: int) -> int:
    """``mauve-text``'s default quantization size: ``max(2, round(min(n_p, n_q) / 10))``."""
    return max(2, round(min(n_p, n_q) / 10))


def _pca_project(z: np.ndarray, explained_variance: float) -> np.ndarray:
    """Centred projection of ``z`` on the fewest leading principal axes whose explained-variance
    ratio reaches ``explained_variance`` (``mauve-text``: ``argmax(cumsum >= ev) + 1`` axes)."""
    centred = z - z.mean(axis=0)
    n, d = centred.shape
    if d <= n:  # d x d covariance: the cheap side for embeddings (d = 384, n = 10,000)
        w, v = np.linalg.eigh(centred.T @ centred)
        w, axes = w[::-1], v[:, ::-1]
    else:  # n x n Gram matrix: same nonzero spectrum, axes recovered as Cᵀu / sqrt(λ)
        w, u = np.linalg.eigh(centred @ centred.T)
        w, u = w[::-1], u[:, ::-1]
        keep = w > w[0] * n * np.finfo(np.float64).eps if w[0] > 0 else w > 0
        w, u = w[keep], u[:, keep]
        axes = (centred.T @ u) / np.sqrt(w)
    w = np.clip(w, 0.0, None)
    total = w.sum()
    if total <= 0.0:  # every pooled point is the same: one (constant) coordinate suffices
        return np.zeros((n, 1))
    ratio = np.cumsum(w) / total
    dims = int(np.argmax(ratio >= explained_variance)) + 1
    return centred @ axes[:, :dims]


def mauve_histograms(
    p_features: Any,
    q_features: Any,
    *,
    num_buckets: int | str = "auto",
    explained_variance: float = 0.9,
    num_redo: int = 5,
    max_iter: int = 500,
    rng: np.random.Generator | int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Step 1 of the module docstring: the cluster histograms ``(p, q)`` (each sums to 1)."""
    p, q = as_two_samples(p_features, q_features, ("p_features", "q_features"))
    explained_variance = check_level("explained_variance", explained_variance)
    num_redo = check_int("num_redo", num_redo, low=1)
    max_iter = check_int("max_iter", max_iter, low=1)
    rng = check_rng(rng)
    n_p, n_q = p.shape[0], q.shape[0]
    if num_buckets == "auto":
        k = auto_buckets(n_p, n_q)
    else:
        k = check_int("num_buckets", num_buckets, low=1)
    if k > n_p + n_q:
        raise DataError(
            f"mauve: expected at least num_buckets = {k} pooled points, got {n_p + n_q}"
        )
    z = np.vstack([q, p])
    norms = row_norms(z)[:, None]
    z = z / np.where(norms > 0.0, norms, 1.0)  # sklearn.preprocessing.normalize leaves 0 rows
    data = np.ascontiguousarray(_pca_project(z, explained_variance), dtype=np.float32)
    # imported here: scikit-learn's clustering costs ~0.4 s to import, and every process that
    # imports the metrics package (each sweep or replicate worker) would pay it
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    best_labels, best_inertia = None, np.inf
    with warnings.catch_warnings():
        # Fewer distinct points than clusters leaves empty buckets, which is harmless here.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(num_redo):
            init = data[rng.choice(data.shape[0], size=k, replace=False)]
            km = KMeans(k, init=init, n_init=1, max_iter=max_iter, tol=0.0, random_state=0)
            km.fit(data)
            if km.inertia_ < best_inertia:
                best_labels, best_inertia = km.labels_, km.inertia_
    labels = np.asarray(best_labels)
    q_hist = np.bincount(labels[:n_q], minlength=k) / n_q
    p_hist = np.bincount(labels[n_q:], minlength=k) / n_p
    return p_hist, q_hist


def _kl_rows(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``KL(a ‖ r_w)`` for each row ``r_w`` of ``r`` (terms with ``a = 0`` are 0)."""
    support = a > 0
    a_s, r_s = a[support], r[:, support]
    # a * log(a / r), the same floating-point operations as mauve-text's kl_multinomial.
    with np.errstate(divide="ignore"):
        return (a_s * np.log(a_s / r_s)).sum(axis=1)


def divergence_curve(
    p_hist: Any, q_hist: Any, *, num_points: int = 25, scaling_factor: float = 5.0
) -> np.ndarray:
    """Points (num_points + 2, 2) ``(exp(−c KL(q‖r_λ)), exp(−c KL(p‖r_λ)))`` in the order of
    ``mauve-text`` (end point (1, 0), the ``λ`` grid ascending, end point (0, 1))."""
    num_points = check_int("num_points", num_points, low=1)
    c = _check_positive("scaling_factor", scaling_factor)
    p = np.asarray(p_hist, dtype=np.float64)
    q = np.asarray(q_hist, dtype=np.float64)
    if p.ndim != 1 or p.shape != q.shape or p.size == 0:
        raise DataError(
            f"expected two histograms of the same length, got shapes {p.shape} and {q.shape}"
        )
    if not (np.isfinite(p).all() and np.isfinite(q).all()) or (p < 0).any() or (q < 0).any():
        raise DataError("expected finite, non-negative histograms, got NaN, inf or negatives")
    if p.sum() <= 0 or q.sum() <= 0:
        raise DataError("expected histograms with a positive total, got an all-zero histogram")
    p, q = p / p.sum(), q / q.sum()
    lam = np.linspace(1e-6, 1 - 1e-6, num_points)[:, None]
    r = lam * p + (1.0 - lam) * q
    inner = np.column_stack([_kl_rows(q, r), _kl_rows(p, r)])
    pts = np.vstack([[0.0, np.inf], inner, [np.inf, 0.0]])
    return np.exp(-c * pts)


def mauve_from_histograms(
    p_hist: Any, q_hist: Any, *, num_points: int = 25, scaling_factor: float = 5.0
) -> float:
    """Area under :func:`divergence_curve` (steps 2-3 of the module docstring), in [0, 1]."""
    x, y = divergence_curve(p_hist, q_hist, num_points=num_points, scaling_factor=scaling_factor).T
    # Sorted by x (then by y descending, the direction the frontier runs in), and vice versa.
    # mauve-text sorts by x alone, so tied x values (p = q makes every inner point (1, 1), tied
    # with the end point (1, 0)) come in arbitrary order and its area can be anything from 0.5
    # to 1; the tie-break gives the frontier's area, 1 for p = q, and changes nothing else.
    ix, iy = np.lexsort((-y, x)), np.lexsort((-x, y))
    return float(0.5 * (np.trapezoid(y[ix], x[ix]) + np.trapezoid(x[iy], y[iy])))


def mauve(
    p_features: Any,
    q_features: Any,
    *,
    num_buckets: int | str = "auto",
    explained_variance: float = 0.9,
    num_redo: int = 5,
    max_iter: int = 500,
    num_points: int = 25,
    scaling_factor: float = 5.0,
    rng: np.random.Generator | int = 0,
) -> float:
    """MAUVE (Pillutla et al. 2021) between human features ``p_features`` (n, d) and model
    features ``q_features`` (m, d): 1 for indistinguishable samples, towards 0 as they diverge.

    Defaults are ``mauve.compute_mauve``'s (``num_buckets='auto'``, ``kmeans_explained_var=0.9``,
    ``kmeans_num_redo=5``, ``kmeans_max_iter=500``, ``divergence_curve_discretization_size=25``,
    ``mauve_scaling_factor=5``). ``rng`` (a Generator or an int seed, default 0) draws the k-means starts.
    """
    p_hist, q_hist = mauve_histograms(
        p_features,
        q_features,
        num_buckets=num_buckets,
        explained_variance=explained_variance,
        num_redo=num_redo,
        max_iter=max_iter,
        rng=rng,
    )
    return mauve_from_histograms(
        p_hist, q_hist, num_points=num_points, scaling_factor=scaling_factor
    )
