"""Streaming unigram comparisons with a reference: KL, Jensen-Shannon, Zipf exponent.

KL and JS compare two corpora, so their batches are pairs ``(candidate_docs, reference_docs)``;
either side may be empty, so the two corpora can be streamed separately
(``update((batch, []))`` then ``update(([], batch))``). The state is two token-count tables,
which merge by addition.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.distribution import (
    KL_SMOOTHING,
    ZIPF_MAX_RANK,
    check_smoothing,
    js_from_counts,
    kl_from_counts,
    zipf_from_counts,
)
from modelcollapse.metrics.functional.text import (
    Tokenizer,
    merge_token_counters,
    token_counter,
    tokenize_documents,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric

_PairState = tuple[int, Counter[Any], int, Counter[Any]]


class _StreamingUnigramPair(StreamingMetric):
    """State: (#candidate documents, candidate counts, #reference documents, reference counts)."""

    def __init__(self, *, tokenizer: Tokenizer | str | None = None) -> None:
        self.tokenizer = tokenizer
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.tokenizer,)

    def _empty_state(self) -> _PairState:
        return 0, Counter(), 0, Counter()

    def _batch_state(self, batch: Any) -> _PairState:
        if not isinstance(batch, tuple) or len(batch) != 2:
            raise DataError(
                f"{self.name}: expected a batch (candidate_docs, reference_docs), "
                f"got {type(batch).__name__}"
            )
        cand = tokenize_documents(batch[0], self.tokenizer, min_docs=0)
        ref = tokenize_documents(batch[1], self.tokenizer, min_docs=0)
        return len(cand), token_counter(cand), len(ref), token_counter(ref)

    def _merge_states(self, a: _PairState, b: _PairState) -> _PairState:
        return (
            a[0] + b[0],
            merge_token_counters(a[1], b[1]),
            a[2] + b[2],
            merge_token_counters(a[3], b[3]),
        )

    def _seen(self, state: _PairState) -> tuple[Counter[Any], Counter[Any]]:
        if state[0] == 0 or state[2] == 0:
            raise DataError(
                f"{self.name}: expected at least 1 candidate and 1 reference document, "
                f"got {state[0]} and {state[2]}"
            )
        return state[1], state[3]


class StreamingUnigramKL(_StreamingUnigramPair):
    """``KL(candidate ‖ reference)`` of unigram distributions (:func:`unigram_kl`)."""

    name: ClassVar[str] = "kl"

    def __init__(
        self, *, smoothing: float = KL_SMOOTHING, tokenizer: Tokenizer | str | None = None
    ) -> None:
        self.smoothing = check_smoothing(smoothing)
        super().__init__(tokenizer=tokenizer)

    def _config(self) -> tuple[Any, ...]:
        return (self.smoothing, self.tokenizer)

    def _compute(self, state: _PairState) -> float:
        return kl_from_counts(*self._seen(state), self.smoothing)


class StreamingUnigramJS(_StreamingUnigramPair):
    """Jensen-Shannon divergence of unigram distributions (:func:`unigram_js`)."""

    name: ClassVar[str] = "js"

    def _compute(self, state: _PairState) -> float:
        return js_from_counts(*self._seen(state))


class StreamingZipfExponent(StreamingMetric):
    """Zipf exponent of all documents seen (:func:`zipf_exponent`); state: (#documents,
    token counts)."""

    name: ClassVar[str] = "zipf_exponent"

    def __init__(
        self, *, max_rank: int = ZIPF_MAX_RANK, tokenizer: Tokenizer | str | None = None
    ) -> None:
        self.max_rank = check_int("max_rank", max_rank, low=2)
        self.tokenizer = tokenizer
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.max_rank, self.tokenizer)

    def _empty_state(self) -> tuple[int, Counter[Any]]:
        return 0, Counter()

    def _batch_state(self, batch: Any) -> tuple[int, Counter[Any]]:
        tokenized = tokenize_documents(batch, self.tokenizer, min_docs=0)
        return len(tokenized), token_counter(tokenized)

    def _merge_states(
        self, a: tuple[int, Counter[Any]], b: tuple[int, Counter[Any]]
    ) -> tuple[int, Counter[Any]]:
        return a[0] + b[0], merge_token_counters(a[1], b[1])

    def _compute(self, state: tuple[int, Counter[Any]]) -> float:
        if state[0] == 0:
            raise DataError(f"{self.name}: expected at least 1 document, got 0")
        return zipf_from_counts(state[1], self.max_rank)
