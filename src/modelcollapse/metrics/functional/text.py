"""Sample-based text metrics: vocabulary size, unigram entropy, distinct-n, rare-word recall.

Collapsing language models narrow their output: vocabulary and entropy fall, repetition rises
(distinct-n falls) and rare words vanish first (Shumailov et al. 2024, Nature 631, Sec. 4;
Guo et al. 2024, "The curious decline of linguistic diversity: training language models on
synthetic text", NAACL Findings). Every text metric takes ``tokenizer``: a name resolved by
:func:`modelcollapse.data.tokenize.get_tokenizer` (``"whitespace"``, ``str.split()``, the
default; ``"words"``, words and single punctuation characters; ``"regex:PATTERN"``;
``"lower:SPEC"``) or any callable ``str -> list[str]``. ``None`` means the default,
``"whitespace"``: ``distinct_2(["Word, word"])`` sees the tokens ``Word,`` and ``word``.

Mergeable states for the streaming classes: a token :class:`~collections.Counter` (vocabulary
and entropy) and an :class:`NgramState` (distinct-n). Empty input (no documents) raises
DataError; documents without any token give NaN for the ratio metrics, which are undefined then.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from modelcollapse.data.tokenize import Tokenizer, get_tokenizer
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.discrete import entropy
from modelcollapse.metrics.functional.validation import as_documents, check_int

if TYPE_CHECKING:
    from modelcollapse.metrics.functional.ngram_table import EncodedCorpus


class TokenizedDocs(list):  # type: ignore[type-arg]
    """A batch of documents tokenized once for several metrics: a list of token lists, the
    tokenizer that made them, and their unigram counts (counted on first use, then shared).

    The text metrics take it in place of the documents (:func:`tokenize_documents` returns it
    as it is), so a stream of seven text metrics tokenizes and counts each chunk once, not
    seven and four times; the integer encoding (:meth:`encoded`) is shared the same way. It must
    not be modified after it is made.
    """

    def __init__(self, tokenized: Iterable[list[str]], tokenizer: Tokenizer | str | None) -> None:
        super().__init__(tokenized)
        self.tokenizer = tokenizer
        self._counts: Counter[str] | None = None
        self._encoded: tuple[EncodedCorpus, list[str]] | None = None

    @classmethod
    def of(cls, docs: Any, tokenizer: Tokenizer | str | None = None) -> TokenizedDocs:
        """Tokenize ``docs`` (any number, none included) with ``tokenizer``."""
        tok = get_tokenizer(tokenizer)
        return cls(
            (as_token_list(tok(doc), i) for i, doc in enumerate(as_documents(docs, min_docs=0))),
            tokenizer,
        )

    def encoded(self) -> tuple[EncodedCorpus, list[str]]:
        """The batch as integer arrays (ids in first-seen order) and the words of the ids
        (shared: callers must not modify them)."""
        if self._encoded is None:
            from modelcollapse.metrics.functional.ngram_table import encode_tokenized

            vocab: dict[Any, int] = {}
            self._encoded = encode_tokenized(self, vocab=vocab), list(vocab)
        return self._encoded

    def counts(self) -> Counter[str]:
        """Token frequencies of the batch (shared: callers must not modify it)."""
        if self._counts is None:
            self._counts = Counter()
            for tokens in self:
                self._counts.update(tokens)
        return self._counts


def as_token_list(tokens: Any, index: int) -> list[Any]:
    """A tokenizer's output for document ``index`` as a list (any iterable; a list, the usual
    case, as it is), or DataError."""
    if isinstance(tokens, list):
        return tokens
    try:
        return list(tokens)
    except TypeError:
        raise DataError(
            f"tokenizer: expected a list of tokens, got {type(tokens).__name__} for document {index}"
        ) from None


def tokenize_documents(
    docs: Any, tokenizer: Tokenizer | str | None = None, *, min_docs: int = 1
) -> list[list[str]]:
    """Each document as its list of tokens (``tokenizer``: see the module docstring).

    A :class:`TokenizedDocs` made with the same tokenizer is returned as it is.
    """
    if isinstance(docs, TokenizedDocs):
        if docs.tokenizer is not tokenizer and docs.tokenizer != tokenizer:
            raise InvalidParameterError(
                f"expected documents tokenized with {tokenizer!r}, got tokens from "
                f"{docs.tokenizer!r}"
            )
        if len(docs) < min_docs:
            raise DataError(f"documents: expected at least {min_docs} document(s), got {len(docs)}")
        return docs
    tok = get_tokenizer(tokenizer)
    return [tok(doc) for doc in as_documents(docs, min_docs=min_docs)]


# -- unigrams -------------------------------------------------------------------------------
def token_counter(tokenized: Iterable[list[str]]) -> Counter[str]:
    """Token frequencies over tokenized documents (the mergeable unigram state).

    For a :class:`TokenizedDocs` this is its shared count: merge it into another counter,
    never modify it.
    """
    if isinstance(tokenized, TokenizedDocs):
        return tokenized.counts()
    counts: Counter[str] = Counter()
    for tokens in tokenized:
        counts.update(tokens)
    return counts


def merge_token_counters(a: Counter[str], b: Counter[str]) -> Counter[str]:
    """Add ``b``'s frequencies to ``a`` in place (never modifies ``b``); returns ``a``."""
    a.update(b)
    return a


def unigram_counts(docs: Any, tokenizer: Tokenizer | str | None = None) -> Counter[str]:
    """Token frequencies of the documents."""
    return Counter(token_counter(tokenize_documents(docs, tokenizer)))  # never the shared one


def entropy_from_counts(counts: Mapping[str, int]) -> float:
    """Shannon entropy (nats) of the frequency distribution ``counts``; NaN when it is empty."""
    values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if values.sum() <= 0:
        return float("nan")
    return entropy(values)


def vocab_size(docs: Any, tokenizer: Tokenizer | str | None = None) -> int:
    """Number of distinct tokens in the documents."""
    return len(unigram_counts(docs, tokenizer))


def unigram_entropy(docs: Any, tokenizer: Tokenizer | str | None = None) -> float:
    """Shannon entropy ``-Σ_w f(w) ln f(w)`` (nats) of the documents' unigram frequencies ``f``.

    Lower entropy means a narrower, more repetitive vocabulary (Guo et al. 2024). NaN when the
    documents contain no token.
    """
    return entropy_from_counts(unigram_counts(docs, tokenizer))


# -- distinct-n -----------------------------------------------------------------------------
class NgramState(NamedTuple):
    """The distinct n-grams seen and the total number of n-grams (within documents)."""

    n: int
    distinct: set[tuple[str, ...]]
    total: int


def ngram_state(tokenized: Iterable[list[str]], n: int = 2) -> NgramState:
    """The :class:`NgramState` of tokenized documents; n-grams never cross documents."""
    n = check_int("n", n, low=1)
    distinct: set[tuple[str, ...]] = set()
    total = 0
    for tokens in tokenized:
        grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
        distinct.update(grams)
        total += len(grams)
    return NgramState(n, distinct, total)


def merge_ngram_states(a: NgramState, b: NgramState) -> NgramState:
    """Union of the distinct sets, sum of the totals (exact).

    Updates ``a.distinct`` in place (a stream of batches would otherwise copy the whole set at
    every batch) and never modifies ``b``.
    """
    if a.n != b.n:
        raise InvalidParameterError(
            f"cannot merge {a.n}-gram and {b.n}-gram states: expected equal n"
        )
    a.distinct.update(b.distinct)
    return NgramState(a.n, a.distinct, a.total + b.total)


def distinct_from_state(state: NgramState) -> float:
    """``#distinct n-grams / #n-grams``; NaN when there is no n-gram."""
    return len(state.distinct) / state.total if state.total else float("nan")


def distinct_n(docs: Any, n: int = 2, tokenizer: Tokenizer | str | None = None) -> float:
    """Distinct-n: distinct n-grams / total n-grams, counting n-grams within documents.

    Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation Models"
    (NAACL). Li et al. scale by the number of generated tokens; we divide by the number of
    n-grams, as most later work does, so that the value lies in [0, 1] and is 1 exactly when no
    n-gram repeats. NaN when no document has ``n`` tokens.
    """
    return distinct_from_state(ngram_state(tokenize_documents(docs, tokenizer), n))


def distinct_2(docs: Any, tokenizer: Tokenizer | str | None = None) -> float:
    """Distinct-2 (Li et al. 2016): distinct bigrams / total bigrams within documents."""
    return distinct_n(docs, 2, tokenizer)


# -- rare words -----------------------------------------------------------------------------
def rare_words(
    reference: Any, fraction: float = 0.5, tokenizer: Tokenizer | str | None = None
) -> list[str]:
    """The reference's rare words: the ``ceil(fraction * V)`` least frequent of its ``V`` words.

    Sorted by (frequency, word), so ties are broken deterministically by the word itself.
    """
    if (
        not isinstance(fraction, (int, float))
        or isinstance(fraction, bool)
        or not 0 < fraction <= 1
    ):
        raise InvalidParameterError(f"fraction: expected a number in (0, 1], got {fraction!r}")
    counts = unigram_counts(reference, tokenizer)
    ranked = sorted(counts.items(), key=lambda item: (item[1], item[0]))
    k = math.ceil(fraction * len(ranked))
    return [word for word, _ in ranked[:k]]


def rare_recall(
    reference: Any, samples: Any, fraction: float = 0.5, tokenizer: Tokenizer | str | None = None
) -> float:
    """Share of the reference's rare words (bottom ``fraction`` of its vocabulary by frequency,
    see :func:`rare_words`) that occur at least once in ``samples``.

    Rare words are the tails of a text distribution, the first thing collapse removes
    (Shumailov et al. 2024, Sec. 4). NaN when the reference has no token.
    """
    rare = rare_words(reference, fraction, tokenizer)
    seen = unigram_counts(samples, tokenizer)
    if not rare:
        return float("nan")
    return sum(1 for word in rare if word in seen) / len(rare)
