"""Metrics of categorical distributions: support size, entropy, lost mass, KL divergence.

A categorical model refitted on its own samples loses categories for good: once a category
draws zero samples its estimated probability is zero and it never comes back, so the support
shrinks and the entropy falls until the chain is absorbed in a single category (a Wright-Fisher
process; Shumailov et al. 2024, Nature 631, Sec. 3 "discrete distributions with exact
approximation"). These functions take probability vectors; count vectors are accepted too and
normalised, which makes them the empirical versions. :func:`category_counts` and
:func:`merge_counts` are the mergeable state of the streaming classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.metrics.functional.validation import as_categories, as_probs


def category_counts(x: Any, n_categories: int | None = None) -> np.ndarray:
    """Counts (K,) of each category index in ``x``; ``K = max(n_categories, max(x) + 1)``."""
    x = as_categories(x, "data", min_rows=0)
    return np.bincount(x, minlength=int(n_categories or 0)).astype(np.int64)


def merge_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum two count vectors of possibly different lengths (the shorter is zero-padded)."""
    k = max(a.shape[0], b.shape[0])
    out = np.zeros(k, dtype=np.int64)
    out[: a.shape[0]] += a
    out[: b.shape[0]] += b
    return out


def _align(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Categories beyond a vector's length have probability 0 under it.
    k = max(p.shape[0], q.shape[0])
    return np.pad(p, (0, k - p.shape[0])), np.pad(q, (0, k - q.shape[0]))


def support_size(probs: Any) -> int:
    """Number of categories with positive probability (or positive count)."""
    return int((as_probs(probs) > 0).sum())


def entropy(probs: Any) -> float:
    """Shannon entropy ``H(p) = -Σ p_k ln p_k`` in nats (Shannon 1948), with ``0 ln 0 = 0``.

    Summed over sorted terms so that equal inputs give bit-identical results in any order.
    """
    p = np.sort(as_probs(probs))
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def lost_mass(model_probs: Any, real_probs: Any) -> float:
    """Real probability mass on categories the model gives probability zero:
    ``Σ_{k: p_model(k) = 0} p_real(k)``.

    The share of the real distribution the model can never generate again: the discrete form of
    "the tails disappear" (Shumailov et al. 2024).
    """
    p, r = _align(as_probs(model_probs, "model_probs"), as_probs(real_probs, "real_probs"))
    return float(np.sort(r[p == 0]).sum())


def kl_divergence(model_probs: Any, real_probs: Any) -> float:
    """``KL(p_model ‖ p_real) = Σ_k p_model(k) ln(p_model(k) / p_real(k))`` in nats
    (Kullback & Leibler 1951).

    Direction: under collapse the model loses categories, so ``KL(p_real ‖ p_model)`` becomes
    infinite at the first lost category and then says nothing more; ``KL(p_model ‖ p_real)``
    stays finite as long as ``p_real`` has full support (lost categories contribute ``0 ln 0 =
    0``) and keeps measuring how far the collapsing model drifts. Lost support is measured by
    :func:`lost_mass` instead. ``inf`` when the model puts mass where ``p_real`` has none.
    """
    p, r = _align(as_probs(model_probs, "model_probs"), as_probs(real_probs, "real_probs"))
    keep = p > 0
    p, r = p[keep], r[keep]
    if (r == 0).any():
        return float("inf")
    terms = p * (np.log(p) - np.log(r))
    return float(max(np.sort(terms).sum(), 0.0))  # KL >= 0; clip round-off below zero
