"""The Vendi score: the effective number of distinct items in a sample (Friedman & Dieng 2023).

Friedman & Dieng 2023, "The Vendi Score: A diversity evaluation metric for machine learning"
(TMLR); orders ``q`` from Pasarkar & Dieng 2024, "Cousins of the Vendi Score: a family of
similarity-based diversity metrics for science and machine learning" (AISTATS).

With the cosine-similarity kernel ``K = X̂ X̂ᵀ`` (rows of ``X`` scaled to unit norm, so
``K_ii = 1``) and ``λ_1..λ_n`` the eigenvalues of ``K / n`` (non-negative, summing to 1):

``VS_q(X) = exp(H_q(λ))``, with the Rényi entropy of order ``q``
``H_q = log(Σ_i λ_i^q) / (1 − q)`` for ``q ∉ {0, 1, ∞}``, ``H_1 = −Σ_i λ_i log λ_i`` (Shannon),
``H_∞ = −log max_i λ_i`` (so ``VS_∞ = 1 / λ_max``) and ``H_0 = log #{i: λ_i > 0}`` (so ``VS_0``
is the rank of ``K``). ``VS_q`` is non-increasing in ``q`` and lies between 1 (all items alike)
and n (mutually orthogonal items).

Dual form: ``K / n = X̂ X̂ᵀ / n`` and ``X̂ᵀ X̂ / n`` (d × d) have the same non-zero eigenvalues,
so when ``n > d`` the d × d matrix is decomposed instead: O(n d² + d³) instead of O(n³), and it
is a sum over rows, so the streaming form (:class:`VendiState`) is exact. Eigenvalues at or
below ``m · eps · λ_max``, with ``m`` the size of the decomposed matrix (numpy's numerical-rank
tolerance), count as 0; this matters only for ``q = 0`` (the rank) and ``q < 1``.

vendi-score 0.0.3's ``score_X(X, q)`` ignores ``q``: it calls ``score_K(K, q=1, ...)`` whatever
``q`` was given, so it always returns ``VS_1``. ``score_K(K, q)`` honours ``q`` (it spells
infinity as the string ``"inf"``); this module agrees with it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.two_sample import row_norms
from modelcollapse.metrics.functional.validation import as_points

_EPS = float(np.finfo(np.float64).eps)


class VendiState(NamedTuple):
    """Mergeable summary of a sample: ``n`` rows and ``gram = Σ_i x̂_i x̂_iᵀ`` (d, d)."""

    n: int
    gram: np.ndarray


def check_order(q: Any) -> float:
    """The Rényi order ``q >= 0``: a number, ``inf`` or the string ``"inf"`` (vendi-score's)."""
    if isinstance(q, str) and q.strip().lower() in {"inf", "infinity"}:
        return float("inf")
    ok = isinstance(q, (int, float, np.integer, np.floating)) and not isinstance(q, bool)
    if not ok or np.isnan(q) or q < 0:
        raise InvalidParameterError(f"q: expected a number >= 0 or 'inf', got {q!r}")
    return float(q)


def unit_rows(x: Any, name: str = "X", *, min_rows: int = 1) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm; a zero row has no cosine similarity and is refused."""
    a = as_points(x, name, min_rows=min_rows)
    norms = row_norms(a)
    if (norms == 0.0).any():
        i = int(np.flatnonzero(norms == 0.0)[0])
        raise DataError(
            f"{name}: expected rows with a non-zero norm for the cosine kernel, got a zero row {i}"
        )
    return a / norms[:, None]


def renyi_exp_entropy(eigenvalues: Any, q: Any = 1) -> float:
    """``exp(H_q(λ))`` of a spectrum ``λ`` normalised to sum 1 (see the module docstring).

    Negative round-off and values at or below ``len(λ) · eps · max λ`` count as 0.
    """
    q = check_order(q)
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64).ravel(), 0.0, None)
    if lam.size == 0 or not np.isfinite(lam).all() or lam.sum() <= 0.0:
        raise DataError("expected a finite spectrum with a positive sum, got none")
    lam = lam / lam.sum()
    lam = lam[lam > lam.size * _EPS * lam.max()]
    if q == 0.0:
        return float(lam.size)
    if q == 1.0:
        return float(np.exp(-(lam * np.log(lam)).sum()))
    if np.isinf(q):
        return float(1.0 / lam.max())
    return float(np.exp(np.log((lam**q).sum()) / (1.0 - q)))


def vendi_state(x: Any) -> VendiState:
    """The :class:`VendiState` of the rows of ``x`` (n may be 0)."""
    a = unit_rows(x, "X", min_rows=0)
    return VendiState(a.shape[0], a.T @ a)


def merge_vendi_states(a: VendiState, b: VendiState) -> VendiState:
    """Exact merge: the Gram sums add. An empty state carries no width and is skipped."""
    if b.n == 0:
        return a
    if a.n == 0:
        return b
    if a.gram.shape != b.gram.shape:
        raise DataError(
            f"cannot merge Vendi states of {a.gram.shape[0]}-D and {b.gram.shape[0]}-D data: "
            "expected the same number of columns"
        )
    return VendiState(a.n + b.n, a.gram + b.gram)


def vendi_from_state(state: VendiState, q: Any = 1) -> float:
    """``VS_q`` from the dual matrix ``gram / n``."""
    if state.n == 0:
        raise DataError("vendi_score: expected at least 1 row of data, got 0")
    dual = state.gram / state.n
    return renyi_exp_entropy(np.linalg.eigvalsh(0.5 * (dual + dual.T)), q)


def vendi_score(x: Any, q: Any = 1) -> float:
    """Vendi score ``VS_q`` of the rows of ``x`` (n, d) with the cosine-similarity kernel.

    ``exp`` of the order-``q`` Rényi entropy of the eigenvalues of ``K/n``, ``K = X̂ X̂ᵀ``
    (Friedman & Dieng 2023). ``q = 1`` (default) is Shannon, ``q = inf`` gives ``1/λ_max`` and
    ``q = 0`` the rank. Uses the d × d dual form ``X̂ᵀ X̂ / n`` when ``n > d``.
    """
    q = check_order(q)
    a = unit_rows(x, "X")
    n, d = a.shape
    if n > d:
        return vendi_from_state(VendiState(n, a.T @ a), q)
    k = (a @ a.T) / n
    return renyi_exp_entropy(np.linalg.eigvalsh(0.5 * (k + k.T)), q)
