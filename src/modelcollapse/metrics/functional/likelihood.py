"""Likelihood of held-out real data under the model: mean NLL and perplexity.

Fidelity to the real distribution is measured on held-out human data: a collapsing model
assigns it ever lower likelihood (Shumailov et al. 2024, Nature 631, Fig. 1 and Sec. 4 report
the perplexity of the original test set for OPT-125m retrained on its own text).

Perplexity state is ``(Σ -log p(doc), Σ tokens)``; it merges by addition, so shards on
different workers give the same perplexity as one pass (up to floating-point summation order).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.validation import as_documents, model_attr


def _log_probs(values: Any, name: str = "log_probs") -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected a 1-D array of log-probabilities ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array (one value per item), got shape {arr.shape}")
    if np.isnan(arr).any() or np.isposinf(arr).any():
        raise DataError(f"{name}: expected log-probabilities in [-inf, inf), got NaN or +inf")
    return arr


def nll(model: Any, data: Any) -> float:
    """Mean negative log-likelihood ``-(1/m) Σ_i log p_model(x_i)`` (nats) of held-out ``data``.

    Uses ``model.log_prob`` (per row or per document). ``+inf`` when some point has zero
    density under the model.
    """
    lp = _log_probs(model_attr(model, "log_prob", "nll")(data), "model.log_prob(data)")
    if lp.shape[0] == 0:
        raise DataError("nll: expected at least 1 held-out item, got 0")
    return float(-lp.mean())


class PerplexityState(NamedTuple):
    """Total negative log-likelihood (nats) and total number of predicted tokens."""

    total_nll: float
    total_tokens: int


def perplexity_state(log_probs: Any, token_counts: Any) -> PerplexityState:
    """The :class:`PerplexityState` of per-document log-probabilities and token counts."""
    lp = _log_probs(log_probs)
    try:
        tc = np.asarray(token_counts)
    except (TypeError, ValueError) as exc:
        raise DataError(f"token_counts: expected a 1-D integer array ({exc})") from None
    if tc.shape != lp.shape:
        raise DataError(
            f"token_counts: expected one count per document, shape {lp.shape}, got shape {tc.shape}"
        )
    if tc.size and (
        tc.dtype.kind not in "biuf"
        or not np.isfinite(tc).all()
        or (tc < 0).any()
        or (tc != np.round(tc)).any()
    ):
        raise DataError("token_counts: expected non-negative integers")
    return PerplexityState(float(-lp.sum()), int(tc.sum()))


def merge_perplexity_states(a: PerplexityState, b: PerplexityState) -> PerplexityState:
    """Add totals."""
    return PerplexityState(a.total_nll + b.total_nll, a.total_tokens + b.total_tokens)


def perplexity_from_state(state: PerplexityState) -> float:
    """``exp(Σ NLL / Σ tokens)``; DataError when no token was counted."""
    if state.total_tokens == 0:
        raise DataError("perplexity: expected at least 1 token in the held-out documents, got 0")
    try:
        return math.exp(state.total_nll / state.total_tokens)
    except OverflowError:  # a model that gives the data (near) zero probability
        return float("inf")


def perplexity(log_probs: Any, token_counts: Any) -> float:
    """Perplexity ``exp(-Σ_i log p(doc_i) / Σ_i T_i)`` with ``T_i`` the predicted tokens of
    document ``i`` (its end-of-document token included): the per-token perplexity of the whole
    corpus (Jelinek et al. 1977, "Perplexity: a measure of the difficulty of speech recognition
    tasks"), not an average of per-document perplexities.
    """
    return perplexity_from_state(perplexity_state(log_probs, token_counts))


def model_perplexity(model: Any, docs: Any) -> float:
    """Perplexity of held-out documents under a text model (``log_prob`` and ``token_counts``)."""
    log_prob = model_attr(model, "log_prob", "perplexity")
    counts = model_attr(model, "token_counts", "perplexity")
    docs = as_documents(docs, "heldout")
    return perplexity(log_prob(docs), counts(docs))
