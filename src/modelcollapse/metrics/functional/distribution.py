"""The candidate's unigram distribution against the reference's: KL, Jensen-Shannon, Zipf.

A collapsing language model concentrates its mass on frequent words and forgets rare ones
(Shumailov et al. 2024, Nature 631, Sec. 4; Guo et al. 2024, NAACL Findings): its unigram
distribution drifts from the human one (KL and JS grow) and its rank-frequency curve steepens
(the Zipf exponent grows). The candidate's unigram entropy is
:func:`~modelcollapse.metrics.functional.text.unigram_entropy`.

Unigram distributions are token frequencies (``Counter``) over the documents, tokenized as in
``text.py``. All three metrics are functions of two count tables, which merge by addition, so
their streaming forms are exact. Sums run over sorted terms, so equal counts give bit-identical
values whatever the order in which the tokens were seen.

- **KL** ``KL(P_c ‖ P_r) = Σ_w P_c(w) ln(P_c(w) / P_r(w))`` in nats (Kullback & Leibler 1951),
  with the candidate's maximum-likelihood frequencies ``P_c(w) = c(w)/N_c`` and the reference
  smoothed additively on the union vocabulary ``V`` of both:
  ``P_r(w) = (r(w) + ε) / (N_r + ε|V|)``, ``ε = 0.5`` by default (the add-half estimator of
  Krichevsky & Trofimov 1981). Only the reference needs smoothing: the candidate's zeros add
  ``0 ln 0 = 0``, while a candidate word absent from the reference would otherwise make KL
  infinite. The direction is that of the discrete ``kl`` metric (model ‖ real).
- **JS** ``JS(P_c, P_r) = ½ KL(P_c ‖ M) + ½ KL(P_r ‖ M)`` with ``M = (P_c + P_r)/2``, in nats
  (Lin 1991), unsmoothed: always finite, in ``[0, ln 2]``.
- **Zipf exponent**: ``s`` in ``f(r) ∝ r^{-s}`` (Zipf 1949), estimated by ordinary least
  squares of ``ln f(r)`` on ``ln r`` over the ranks ``r = 1..min(V, max_rank)`` of the
  frequency-sorted vocabulary (``max_rank = 1000``), ``s = -slope``. Ranks beyond 1000 are left
  out because the tail of a finite sample is a staircase of words seen once or twice that would
  dominate the fit. Tied frequencies take consecutive ranks (the fit only sees the sorted
  frequencies, so the result does not depend on how ties are ordered). English is near 1.

NaN when a needed distribution has no token (and for Zipf when fewer than 2 distinct tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.metrics.functional.text import Tokenizer, unigram_counts
from modelcollapse.metrics.functional.validation import check_int

KL_SMOOTHING = 0.5
ZIPF_MAX_RANK = 1000


def _aligned(
    p_counts: Mapping[Any, int], q_counts: Mapping[Any, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Count vectors of both tables over their union vocabulary (same word order)."""
    vocab = list(p_counts.keys() | q_counts.keys())
    p = np.fromiter((p_counts.get(w, 0) for w in vocab), dtype=np.float64, count=len(vocab))
    q = np.fromiter((q_counts.get(w, 0) for w in vocab), dtype=np.float64, count=len(vocab))
    return p, q


def check_smoothing(smoothing: Any) -> float:
    ok = isinstance(smoothing, (int, float, np.integer, np.floating)) and not isinstance(
        smoothing, bool
    )
    if not ok or not 0 < float(smoothing) < np.inf:
        raise InvalidParameterError(f"smoothing: expected a positive number, got {smoothing!r}")
    return float(smoothing)


def kl_from_counts(
    candidate: Mapping[Any, int], reference: Mapping[Any, int], smoothing: float = KL_SMOOTHING
) -> float:
    """``KL(P_c ‖ P_r)`` (nats) from token counts, the reference add-``smoothing`` smoothed on
    the union vocabulary (module docstring)."""
    return kl_from_vectors(*_aligned(candidate, reference), smoothing)


def kl_from_vectors(c: np.ndarray, r: np.ndarray, smoothing: float = KL_SMOOTHING) -> float:
    """:func:`kl_from_counts` on count vectors over the union vocabulary (same word order; no
    word both vectors count zero times, since the smoothing spreads over every word)."""
    eps = check_smoothing(smoothing)
    if c.sum() <= 0 or r.sum() <= 0:
        return float("nan")
    p = c / c.sum()
    q = (r + eps) / (r.sum() + eps * r.shape[0])
    keep = p > 0
    terms = p[keep] * (np.log(p[keep]) - np.log(q[keep]))
    return float(max(np.sort(terms).sum(), 0.0))  # KL >= 0; clip round-off below zero


def js_from_counts(candidate: Mapping[Any, int], reference: Mapping[Any, int]) -> float:
    """Jensen-Shannon divergence (nats, in ``[0, ln 2]``) of two token-count tables."""
    return js_from_vectors(*_aligned(candidate, reference))


def js_from_vectors(c: np.ndarray, r: np.ndarray) -> float:
    """:func:`js_from_counts` on count vectors over a common vocabulary (same word order)."""
    if c.sum() <= 0 or r.sum() <= 0:
        return float("nan")
    p, q = c / c.sum(), r / r.sum()
    m = 0.5 * (p + q)
    terms = []
    for x in (p, q):
        keep = x > 0
        terms.append(0.5 * x[keep] * (np.log(x[keep]) - np.log(m[keep])))
    value = np.sort(np.concatenate(terms)).sum()
    return float(min(max(value, 0.0), np.log(2.0)))


def zipf_from_counts(counts: Mapping[Any, int], max_rank: int = ZIPF_MAX_RANK) -> float:
    """Zipf exponent of a token-count table: ``-slope`` of the least-squares line of
    ``ln frequency`` on ``ln rank`` over ranks ``1..min(V, max_rank)``."""
    return zipf_from_vector(
        np.fromiter(counts.values(), dtype=np.float64, count=len(counts)), max_rank
    )


def zipf_from_vector(f: np.ndarray, max_rank: int = ZIPF_MAX_RANK) -> float:
    """:func:`zipf_from_counts` on a vector of counts (any order; zeros are ignored)."""
    max_rank = check_int("max_rank", max_rank, low=2)
    f = -np.sort(-f[f > 0])[:max_rank]
    if f.shape[0] < 2:
        return float("nan")
    x = np.log(np.arange(1, f.shape[0] + 1, dtype=np.float64))
    y = np.log(f)
    xc = x - x.mean()
    return float(-(xc @ (y - y.mean())) / (xc @ xc))


def unigram_kl(
    candidate: Any,
    reference: Any,
    *,
    smoothing: float = KL_SMOOTHING,
    tokenizer: Tokenizer | str | None = None,
) -> float:
    """``KL(candidate ‖ reference)`` of the unigram distributions, in nats, the reference
    additively smoothed on the union vocabulary (module docstring)."""
    return kl_from_counts(
        unigram_counts(candidate, tokenizer), unigram_counts(reference, tokenizer), smoothing
    )


def unigram_js(
    candidate: Any, reference: Any, *, tokenizer: Tokenizer | str | None = None
) -> float:
    """Jensen-Shannon divergence (nats) between the unigram distributions of two corpora."""
    return js_from_counts(
        unigram_counts(candidate, tokenizer), unigram_counts(reference, tokenizer)
    )


def zipf_exponent(
    docs: Any, *, max_rank: int = ZIPF_MAX_RANK, tokenizer: Tokenizer | str | None = None
) -> float:
    """Zipf exponent of the documents' rank-frequency curve (least squares on log-log over the
    top ``max_rank`` ranks; module docstring)."""
    return zipf_from_counts(unigram_counts(docs, tokenizer), max_rank)
