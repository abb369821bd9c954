"""Streaming perplexity from per-document log-probabilities and token counts."""

from __future__ import annotations

from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.likelihood import (
    PerplexityState,
    merge_perplexity_states,
    perplexity_from_state,
    perplexity_state,
)
from modelcollapse.metrics.streaming.base import StreamingMetric


class StreamingPerplexity(StreamingMetric):
    """Corpus perplexity ``exp(Σ NLL / Σ tokens)`` (:func:`perplexity`).

    ``update((log_probs, token_counts))`` takes one batch of documents as a pair of arrays, e.g.
    ``(model.log_prob(docs), model.token_counts(docs))``.
    """

    name: ClassVar[str] = "perplexity"

    def _empty_state(self) -> PerplexityState:
        return PerplexityState(0.0, 0)

    def _batch_state(self, batch: Any) -> PerplexityState:
        if not isinstance(batch, tuple) or len(batch) != 2:
            raise DataError(
                f"perplexity: expected a batch (log_probs, token_counts), got {type(batch).__name__}"
            )
        return perplexity_state(*batch)

    def _merge_states(self, a: PerplexityState, b: PerplexityState) -> PerplexityState:
        return merge_perplexity_states(a, b)

    def _compute(self, state: PerplexityState) -> float:
        return perplexity_from_state(state)
