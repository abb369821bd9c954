"""Sliced Wasserstein distance between two point clouds (n, d) and (m, d).

``SW_p(μ, ν) = ( ∫_{S^{d-1}} W_p^p(θ#μ, θ#ν) dσ(θ) )^{1/p}``

where ``θ#μ`` is the law of ``θᵀx`` for ``x ~ μ`` and ``σ`` the uniform measure on the unit
sphere (Rabin, Peyré, Delon & Bernot 2011, "Wasserstein barycenter and its application to
texture mixing"; Bonneel, Rabin, Peyré & Pfister 2015, "Sliced and Radon Wasserstein
barycenters of measures", JMIV 51). The integral is a Monte Carlo average over
``n_projections`` directions ``θ = g/‖g‖``, ``g ~ N(0, I_d)``, drawn from the ``rng`` argument.

Each 1-D term is exact, not a grid approximation. For empirical measures with uniform weights
the quantile functions are step functions, ``F⁻¹(t) = x_(⌈tn⌉)`` (sorted sample), so

``W_p^p = ∫_0^1 |F⁻¹(t) − G⁻¹(t)|^p dt = Σ_k w_k |x_(i_k) − y_(j_k)|^p``

over the merged breakpoints ``{i/n} ∪ {j/m}`` of the two steps (``w_k`` the width of segment
``k``, ``i_k``, ``j_k`` the sample indices on it). With ``n = m`` this is the familiar mean of
``|sorted x − sorted y|^p``; with ``n ≠ m`` it is the exact coupling of the two quantile
functions, at most ``n + m`` segments, so there is no resampling or interpolation error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.two_sample import as_two_samples, check_rng
from modelcollapse.metrics.functional.validation import check_int

# Projections are processed in blocks so that the projected, sorted copies stay near this many
# float64 values (32 MiB), whatever n_projections is.
_BLOCK_VALUES = 1 << 22


def _check_p(p: Any) -> float:
    ok = isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)
    if not ok or not np.isfinite(p) or p < 1:
        raise InvalidParameterError(f"p: expected a finite number >= 1, got {p!r}")
    return float(p)


def quantile_coupling(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment widths ``w`` and the sorted-sample indices ``(i, j)`` of the monotone coupling of
    two uniform empirical measures of sizes ``n`` and ``m`` (see the module docstring).

    ``Σ w = 1`` and ``len(w) <= n + m - 1``.
    """
    # i/n and j/m are correctly rounded divisions, so equal rationals give equal doubles and
    # union1d merges them exactly.
    ends = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    widths = np.diff(ends, prepend=0.0)
    # Segment midpoints are at least 1/(2nm) from any breakpoint: floor() is safe there.
    mid = ends - 0.5 * widths
    i = np.minimum(np.floor(mid * n).astype(np.int64), n - 1)
    j = np.minimum(np.floor(mid * m).astype(np.int64), m - 1)
    return widths, i, j


def _wp_pow_sorted(
    xs: np.ndarray, ys: np.ndarray, coupling: tuple[np.ndarray, np.ndarray, np.ndarray], p: float
) -> np.ndarray:
    """``W_p^p`` per column between column-wise sorted samples ``xs`` (n, L) and ``ys`` (m, L)."""
    w, i, j = coupling
    if xs.shape[0] == ys.shape[0]:  # identical breakpoints: no gather needed
        diff = np.abs(xs - ys)
        return (diff**p).mean(axis=0) if p != 2.0 else np.square(diff).mean(axis=0)
    diff = np.abs(xs[i] - ys[j])
    return w @ (np.square(diff) if p == 2.0 else diff**p)


def wasserstein_1d(u: Any, v: Any, p: float = 2) -> float:
    """Exact ``W_p`` between the empirical distributions of the 1-D samples ``u`` and ``v``
    (uniform weights, any sizes): ``(Σ_k w_k |u_(i_k) − v_(j_k)|^p)^{1/p}``."""
    p = _check_p(p)
    a, b = as_two_samples(u, v, ("u", "v"))
    if a.shape[1] != 1:
        raise DataError(f"u: expected a 1-D sample (n,) or (n, 1), got shape {a.shape}")
    xs, ys = np.sort(a, axis=0), np.sort(b, axis=0)
    wpp = _wp_pow_sorted(xs, ys, quantile_coupling(len(xs), len(ys)), p)
    return float(wpp[0] ** (1.0 / p))


def random_directions(d: int, n_projections: int, rng: np.random.Generator) -> np.ndarray:
    """``n_projections`` directions (n_projections, d) uniform on the unit sphere ``S^{d-1}``."""
    g = rng.standard_normal((n_projections, d))
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    # A zero Gaussian vector has probability 0; guard anyway so no NaN direction slips through.
    norms[norms == 0.0] = 1.0
    return g / norms


def sliced_wasserstein(
    x: Any,
    y: Any,
    n_projections: int = 128,
    p: float = 2,
    *,
    rng: np.random.Generator | int = 0,
) -> float:
    """Monte Carlo sliced ``W_p`` (not raised to the ``p``) between the rows of ``x`` and ``y``.

    ``SW_p ≈ ( (1/L) Σ_l W_p^p(θ_lᵀx, θ_lᵀy) )^{1/p}`` with ``L = n_projections`` directions
    uniform on the sphere, drawn from ``rng`` (a Generator or an int seed; the default seed 0 makes a
    call without ``rng`` is reproducible). Each 1-D ``W_p`` is exact for any sizes ``n``, ``m``
    (module docstring). In 1-D the directions are ±1 and the value is the exact ``W_p``.
    Expected value for ``N(0, I)`` vs ``N(δ, I)``: ``SW_2² = ‖δ‖²/d``.
    """
    n_projections = check_int("n_projections", n_projections, low=1)
    p = _check_p(p)
    rng = check_rng(rng)
    a, b = as_two_samples(x, y, ("X", "Y"))
    n, m, d = a.shape[0], b.shape[0], a.shape[1]
    coupling = quantile_coupling(n, m)
    theta = random_directions(d, n_projections, rng)
    block = max(1, _BLOCK_VALUES // (n + m + 2 * len(coupling[0])))
    total = 0.0
    for start in range(0, n_projections, block):
        t = theta[start : start + block]
        xs = np.sort(a @ t.T, axis=0)
        ys = np.sort(b @ t.T, axis=0)
        total += float(_wp_pow_sorted(xs, ys, coupling, p).sum())
    value = total / n_projections
    if not np.isfinite(value):
        raise DataError(
            f"sliced_wasserstein: expected finite projections, got {value!r} (overflow)"
        )
    return float(value ** (1.0 / p))
