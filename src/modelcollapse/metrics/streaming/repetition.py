"""Streaming seq-rep-n (Welleck et al. 2020) over batches of documents."""

from __future__ import annotations

from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.ngram_table import encode_tokenized
from modelcollapse.metrics.functional.repetition import (
    RepState,
    merge_rep_states,
    rep_from_state,
    rep_state,
)
from modelcollapse.metrics.functional.text import TokenizedDocs, Tokenizer, tokenize_documents
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric


class StreamingRepN(StreamingMetric):
    """seq-rep-n of all documents seen (:func:`rep_n`).

    Each document's value depends on that document alone, so the state is the number of
    documents seen and the sum and count of per-document values (:class:`RepState`); it merges
    by addition. Self-repetition and Self-BLEU compare every document with the whole corpus and
    have no such state (see their modules).
    """

    name: ClassVar[str] = "rep_n"

    def __init__(self, *, n: int = 4, tokenizer: Tokenizer | str | None = None) -> None:
        self.n = check_int("n", n, low=1)
        self.tokenizer = tokenizer
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.n, self.tokenizer)

    def _empty_state(self) -> tuple[int, RepState]:
        return 0, RepState(self.n, 0.0, 0)

    def _batch_state(self, batch: Any) -> tuple[int, RepState]:
        tokenized = tokenize_documents(batch, self.tokenizer, min_docs=0)
        if isinstance(tokenized, TokenizedDocs):  # encoded once for every metric of a stream
            return len(tokenized), rep_state(tokenized.encoded()[0], self.n)
        return len(tokenized), rep_state(encode_tokenized([list(t) for t in tokenized]), self.n)

    def _merge_states(
        self, a: tuple[int, RepState], b: tuple[int, RepState]
    ) -> tuple[int, RepState]:
        return a[0] + b[0], merge_rep_states(a[1], b[1])

    def _compute(self, state: tuple[int, RepState]) -> float:
        if state[0] == 0:
            raise DataError(f"{self.name}: expected at least 1 document, got 0")
        return rep_from_state(state[1])
