"""Streaming n-gram diversity (Shaib et al. 2024) over batches of documents."""

from __future__ import annotations

from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.text import NgramState, Tokenizer, tokenize_documents
from modelcollapse.metrics.functional.text_diversity import (
    merge_ngram_diversity_states,
    ngram_diversity_from_states,
    ngram_diversity_state,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric


class StreamingNgramDiversity(StreamingMetric):
    """N-gram diversity of all documents seen (:func:`ngram_diversity`, n-grams within
    documents).

    State: the number of documents and, per order ``n = 1..max_n``, the set of distinct n-grams
    and the n-gram count. Sets merge by union, so shards merge exactly in any order. (The
    ``across_documents`` variant depends on document order and is only offered as a function.)
    """

    name: ClassVar[str] = "ngram_diversity"

    def __init__(self, *, max_n: int = 4, tokenizer: Tokenizer | str | None = None) -> None:
        self.max_n = check_int("max_n", max_n, low=1)
        self.tokenizer = tokenizer
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.max_n, self.tokenizer)

    def _empty_state(self) -> tuple[int, list[NgramState]]:
        return 0, [NgramState(n, set(), 0) for n in range(1, self.max_n + 1)]

    def _batch_state(self, batch: Any) -> tuple[int, list[NgramState]]:
        tokenized = tokenize_documents(batch, self.tokenizer, min_docs=0)
        return len(tokenized), ngram_diversity_state(tokenized, self.max_n)

    def _merge_states(
        self, a: tuple[int, list[NgramState]], b: tuple[int, list[NgramState]]
    ) -> tuple[int, list[NgramState]]:
        return a[0] + b[0], merge_ngram_diversity_states(a[1], b[1])

    def _compute(self, state: tuple[int, list[NgramState]]) -> float:
        if state[0] == 0:
            raise DataError(f"{self.name}: expected at least 1 document, got 0")
        return ngram_diversity_from_states(state[1])
