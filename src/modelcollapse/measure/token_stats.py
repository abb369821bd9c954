"""Token statistics of one side of a measurement, as integer arrays: unigram counts and the
distinct bigrams, merged across shards with vectorised operations.

The metrics built on them (``vocab_size``, ``entropy``, ``zipf_exponent``, ``kl``, ``js`` from
the counts; ``distinct_2`` from the bigrams) keep Python ``Counter``s and sets of token tuples
when used alone. For a corpus cut into shards those states are what travels from the workers
and what the driver merges, and merging them was most of the driver's work: one dictionary
operation per distinct token and one tuple hash per distinct bigram of every shard, plus
unpickling and freeing millions of small objects, all on the driver while the workers needed
the same cores.

:class:`TokenStats` numbers the tokens of its documents in first-seen order (``words``), counts
them in an ``int64`` array and keeps the distinct bigrams within documents as a sorted array of
codes ``first_id * 2**31 + second_id``. A merge maps the other side's words to ids once per
distinct word, then adds counts and takes the union of the re-coded bigrams in NumPy. The values
are exactly those of the Counter and set states: the same counts in the same first-seen order,
the same number of distinct bigrams (tested against the metric functions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from collections.abc import Set as AbstractSet

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.metrics.functional.text import NgramState, TokenizedDocs

_SHIFT = 31  # bits of the second id in a bigram code
_MAX_WORDS = 1 << _SHIFT


class TokenStats:
    """Documents seen, unigram counts and distinct bigrams of one side (module docstring)."""

    def __init__(self) -> None:
        self.docs = 0
        self.ids: dict[str, int] = {}  # word -> id, in first-seen order
        self.counts = np.zeros(0, dtype=np.int64)  # by id
        self.bigrams = np.zeros(0, dtype=np.int64)  # sorted distinct codes
        self.n_bigrams = 0  # all bigrams within documents, repeats included

    @property
    def words(self) -> list[str]:
        return list(self.ids)

    def _id_array(self, words: list[str]) -> np.ndarray:
        """The ids of ``words``, numbering new ones in first-seen order."""
        ids = self.ids
        found: list[int | None] = list(map(ids.get, words))  # known words at C speed
        if None in found:
            for i in [i for i, x in enumerate(found) if x is None]:
                found[i] = ids.setdefault(words[i], len(ids))
        out = np.array(found, dtype=np.int64)
        if len(ids) > _MAX_WORDS:
            raise InvalidParameterError(
                f"token statistics: expected at most {_MAX_WORDS} distinct tokens, got more"
            )
        return out

    def _grow(self) -> None:
        if self.counts.shape[0] < len(self.ids):
            self.counts = np.concatenate(
                [self.counts, np.zeros(len(self.ids) - self.counts.shape[0], dtype=np.int64)]
            )

    def update(self, tokenized: list[list[str]]) -> TokenStats:
        """Add tokenized documents; returns self."""
        self.docs += len(tokenized)
        if isinstance(tokenized, TokenizedDocs):  # the batch's own encoding, mapped to our ids
            corpus, words = tokenized.encoded()
            lengths = corpus.lengths
            ids = self._id_array(words)[corpus.tokens]
        else:
            lengths = np.fromiter(map(len, tokenized), dtype=np.int64, count=len(tokenized))
            ids = self._id_array([w for doc in tokenized for w in doc])
        self._grow()
        self.counts += np.bincount(ids, minlength=self.counts.shape[0])
        # Bigrams within documents: consecutive tokens of the same document.
        doc_of = np.repeat(np.arange(lengths.shape[0]), lengths)
        inside = doc_of[:-1] == doc_of[1:]
        codes = (ids[:-1][inside] << _SHIFT) | ids[1:][inside]
        self.n_bigrams += int(codes.shape[0])
        self.bigrams = _union(self.bigrams, codes)
        return self

    def merge(self, other: TokenStats) -> TokenStats:
        """Fold ``other`` (left unchanged) into these statistics; returns self."""
        remap = self._id_array(other.words)
        self._grow()
        self.counts[remap] += other.counts  # ids in remap are distinct: no repeated index
        first, second = other.bigrams >> _SHIFT, other.bigrams & (_MAX_WORDS - 1)
        self.bigrams = _union(self.bigrams, (remap[first] << _SHIFT) | remap[second])
        self.docs += other.docs
        self.n_bigrams += other.n_bigrams
        return self

    def counter(self) -> Counter[str]:
        """The unigram counts as a Counter, words in first-seen order."""
        return Counter(dict(zip(self.ids, self.counts.tolist(), strict=True)))

    def bigram_state(self) -> NgramState:
        """The distinct bigrams as the :class:`NgramState` of ``distinct_2`` (its set is a
        :class:`BigramSet` view: distinct-2 needs only its size)."""
        return NgramState(2, BigramSet(self.bigrams, self.words), self.n_bigrams)  # type: ignore[arg-type]


class BigramSet(AbstractSet[tuple[str, str]]):
    """A read-only set of word pairs over sorted bigram codes, decoded only when iterated."""

    def __init__(self, codes: np.ndarray, words: list[str]) -> None:
        self.codes, self.words = codes, words

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        words = self.words
        first, second = self.codes >> _SHIFT, self.codes & (_MAX_WORDS - 1)
        for a, b in zip(first.tolist(), second.tolist(), strict=True):
            yield words[a], words[b]

    def __contains__(self, item: object) -> bool:
        if not (isinstance(item, tuple) and len(item) == 2):
            return False
        ids = {w: i for i, w in enumerate(self.words)}
        a, b = ids.get(item[0]), ids.get(item[1])  # type: ignore[call-overload]
        if a is None or b is None:
            return False
        code = (a << _SHIFT) | b
        at = int(np.searchsorted(self.codes, code))
        return at < self.codes.shape[0] and int(self.codes[at]) == code


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``a`` and ``b``. (``np.union1d`` goes through ``np.unique``,
    whose hash-based path in NumPy 2.3+ was 20x slower than this sort on int64 codes.)"""
    both = np.concatenate([a, b])
    both.sort(kind="stable")  # radix sort for integers; a and b are sorted runs
    if both.shape[0] < 2:
        return both
    return both[np.concatenate([[True], both[1:] != both[:-1]])]
