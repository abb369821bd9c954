"""Streaming text metrics over batches of documents: vocabulary size, unigram entropy, distinct-n."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.text import (
    NgramState,
    Tokenizer,
    distinct_from_state,
    entropy_from_counts,
    merge_ngram_states,
    merge_token_counters,
    ngram_state,
    token_counter,
    tokenize_documents,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric


class _StreamingText(StreamingMetric):
    """Text metrics remember how many documents they saw: none at all is an error, not a value."""

    def __init__(self, *, tokenizer: Tokenizer | str | None = None) -> None:
        self.tokenizer = tokenizer
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.tokenizer,)

    def _tokenize(self, batch: Any) -> list[list[str]]:
        # Empty batches are fine in a stream (an idle shard); compute() checks the total.
        return tokenize_documents(batch, self.tokenizer, min_docs=0)

    def _check_docs(self, n_docs: int) -> None:
        if n_docs == 0:
            raise DataError(f"{self.name}: expected at least 1 document, got 0")


class _StreamingUnigrams(_StreamingText):
    """State: (number of documents, token Counter)."""

    def _empty_state(self) -> tuple[int, Counter[str]]:
        return 0, Counter()

    def _batch_state(self, batch: Any) -> tuple[int, Counter[str]]:
        tokenized = self._tokenize(batch)
        return len(tokenized), token_counter(tokenized)

    def _merge_states(
        self, a: tuple[int, Counter[str]], b: tuple[int, Counter[str]]
    ) -> tuple[int, Counter[str]]:
        return a[0] + b[0], merge_token_counters(a[1], b[1])


class StreamingVocabSize(_StreamingUnigrams):
    """Number of distinct tokens in all documents seen (:func:`vocab_size`)."""

    name: ClassVar[str] = "vocab_size"

    def _compute(self, state: tuple[int, Counter[str]]) -> int:
        self._check_docs(state[0])
        return len(state[1])


class StreamingUnigramEntropy(_StreamingUnigrams):
    """Unigram entropy (nats) of all documents seen (:func:`unigram_entropy`)."""

    name: ClassVar[str] = "entropy"

    def _compute(self, state: tuple[int, Counter[str]]) -> float:
        self._check_docs(state[0])
        return entropy_from_counts(state[1])


class StreamingDistinctN(_StreamingText):
    """Distinct-n (Li et al. 2016) of all documents seen (:func:`distinct_n`)."""

    name: ClassVar[str] = "distinct_n"

    def __init__(self, *, n: int = 2, tokenizer: Tokenizer | str | None = None) -> None:
        self.n = check_int("n", n, low=1)
        super().__init__(tokenizer=tokenizer)

    def _config(self) -> tuple[Any, ...]:
        return (self.n, self.tokenizer)

    def _empty_state(self) -> tuple[int, NgramState]:
        return 0, NgramState(self.n, set(), 0)

    def _batch_state(self, batch: Any) -> tuple[int, NgramState]:
        tokenized = self._tokenize(batch)
        return len(tokenized), ngram_state(tokenized, self.n)

    def _merge_states(
        self, a: tuple[int, NgramState], b: tuple[int, NgramState]
    ) -> tuple[int, NgramState]:
        return a[0] + b[0], merge_ngram_states(a[1], b[1])

    def _compute(self, state: tuple[int, NgramState]) -> float:
        self._check_docs(state[0])
        return distinct_from_state(state[1])


class StreamingDistinct2(StreamingDistinctN):
    """Distinct-2: distinct bigrams / total bigrams within documents (Li et al. 2016)."""

    name: ClassVar[str] = "distinct_2"

    def __init__(self, *, tokenizer: Tokenizer | str | None = None) -> None:
        super().__init__(n=2, tokenizer=tokenizer)
