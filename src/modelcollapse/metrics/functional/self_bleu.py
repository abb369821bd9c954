"""Self-BLEU: how much each document reads like the rest of the corpus, exactly and in O(N·L).

Zhu et al. 2018, "Texygen: a benchmarking platform for text generation models" (SIGIR): the
Self-BLEU of a corpus of ``N`` documents is the mean over documents ``d`` of
``BLEU(hypothesis = d, references = every other document)``. Higher means the documents resemble
each other more (less diverse); it rises as a model collapses.

BLEU (Papineni et al. 2002) with exactly the semantics of NLTK's
``sentence_bleu(refs, hyp, weights=(1/max_n,)*max_n,
smoothing_function=SmoothingFunction(epsilon).method1)`` (Chen & Cherry 2014, method 1):

- modified precision ``p_n = Σ_g min(c_d(g), max_{e≠d} c_e(g)) / max(1, L_d - n + 1)``, with
  ``c_e(g)`` the count of n-gram ``g`` in document ``e`` and ``L_d`` the length of ``d``;
- method 1: a precision with zero matches becomes ``epsilon / denominator`` (``epsilon = 0.1``);
- brevity penalty ``BP = 1`` if ``L_d > r_d``, else ``exp(1 - r_d / L_d)``, where ``r_d`` is the
  length of the other document closest to ``L_d``, ties going to the shorter one (NLTK's
  ``closest_ref_length``);
- ``BLEU = BP · exp(Σ_n ln(p_n) / max_n)``, and ``BLEU = 0`` when no unigram matches (this
  includes an empty hypothesis).

NLTK recounts every reference for every hypothesis, ``O(N²·L)``. Here each order ``n`` is one
table of integer n-gram ids (``ngram_table.py``). The max over the *other* documents of a count
only needs, per n-gram, the largest per-document count, the document holding it and the second
largest: for document ``d`` it is the second largest when ``d`` holds the largest, else the
largest (ties are handled because the second largest then equals the largest). The closest other
length comes from the sorted array of all lengths with ``d``'s own length removed once: if
another document has the same length it is ``L_d``, otherwise the nearest smaller or larger
length. The whole computation is a few sorts: ``O(T log T)`` for ``T`` tokens in total.

Self-BLEU needs every document as a reference for every other, so it has no mergeable state
smaller than the corpus itself and no streaming class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.ngram_table import EncodedCorpus, encode_documents, ngram_ids
from modelcollapse.metrics.functional.text import Tokenizer
from modelcollapse.metrics.functional.validation import check_int

NLTK_EPSILON = 0.1  # SmoothingFunction's default epsilon for method 1


def clipped_matches(corpus: EncodedCorpus, n: int) -> np.ndarray:
    """``Σ_g min(c_d(g), max_{e≠d} c_e(g))`` for each document ``d`` (int64 (N,))."""
    n_docs = corpus.n_docs
    table = ngram_ids(corpus, n)
    if table.ids.shape[0] == 0:
        return np.zeros(n_docs, dtype=np.int64)
    g = table.n_distinct
    keys, counts = np.unique(table.docs * g + table.ids, return_counts=True)
    pdoc, pgram = keys // g, keys % g
    # Sort the (document, n-gram) pairs by n-gram, then by count descending: the first pair of
    # each n-gram holds its largest count, the second (if any) the second largest.
    order = np.lexsort((-counts, pgram))
    s_gram, s_count, s_doc = pgram[order], counts[order], pdoc[order]
    first = np.flatnonzero(np.r_[True, s_gram[1:] != s_gram[:-1]])
    group_end = np.r_[first[1:], s_gram.shape[0]]
    max1 = np.zeros(g, dtype=np.int64)
    max1_doc = np.full(g, -1, dtype=np.int64)
    max2 = np.zeros(g, dtype=np.int64)
    grams = s_gram[first]
    max1[grams] = s_count[first]
    max1_doc[grams] = s_doc[first]
    has_second = first + 1 < group_end
    max2[grams[has_second]] = s_count[first[has_second] + 1]
    other_max = np.where(max1_doc[pgram] == pdoc, max2[pgram], max1[pgram])
    clipped = np.minimum(counts, other_max)
    return np.bincount(pdoc, weights=clipped, minlength=n_docs).astype(np.int64)


def closest_other_lengths(lengths: np.ndarray) -> np.ndarray:
    """For each document, the length of the other document closest to its own, ties to the
    shorter (NLTK's ``closest_ref_length`` over all other documents). Needs N >= 2."""
    lengths = np.asarray(lengths, dtype=np.int64)
    srt = np.sort(lengths)
    n = srt.shape[0]
    lo = np.searchsorted(srt, lengths, side="left")
    hi = np.searchsorted(srt, lengths, side="right")
    # Own length removed once: another document of the same length is at distance 0.
    shared = hi - lo >= 2
    below = np.where(lo > 0, srt[np.maximum(lo - 1, 0)], np.iinfo(np.int64).min // 4)
    above = np.where(hi < n, srt[np.minimum(hi, n - 1)], np.iinfo(np.int64).max // 4)
    take_below = (lengths - below) <= (above - lengths)  # ties go to the shorter reference
    return np.where(shared, lengths, np.where(take_below, below, above))


def self_bleu_scores(
    docs: Any,
    max_n: int = 4,
    tokenizer: Tokenizer | str | None = None,
    *,
    epsilon: float = NLTK_EPSILON,
) -> np.ndarray:
    """BLEU-``max_n`` of each document against all the other documents (float64 (N,)); see the
    module docstring for the exact definition."""
    max_n = check_int("max_n", max_n, low=1)
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, (int, float, np.floating))
        or not 0 < epsilon < np.inf
    ):
        raise InvalidParameterError(f"epsilon: expected a positive number, got {epsilon!r}")
    corpus = encode_documents(docs, tokenizer)
    if corpus.n_docs < 2:
        raise DataError(
            f"self_bleu: expected at least 2 documents (each is scored against the others), "
            f"got {corpus.n_docs}"
        )
    hyp_len = corpus.lengths
    matches = [clipped_matches(corpus, n) for n in range(1, max_n + 1)]
    log_p = np.zeros(corpus.n_docs)
    for n, num in enumerate(matches, start=1):
        den = np.maximum(hyp_len - (n - 1), 1).astype(np.float64)
        p = np.where(num > 0, num / den, float(epsilon) / den)
        log_p += np.log(p) / max_n
    ref_len = closest_other_lengths(hyp_len)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(hyp_len > ref_len, 1.0, np.exp(1.0 - ref_len / hyp_len))
    scores = bp * np.exp(log_p)
    # No unigram match (which includes an empty hypothesis) is a BLEU of exactly 0 in NLTK.
    scores[matches[0] == 0] = 0.0
    return scores


def self_bleu(
    docs: Any,
    max_n: int = 4,
    tokenizer: Tokenizer | str | None = None,
    *,
    epsilon: float = NLTK_EPSILON,
) -> float:
    """Self-BLEU (Zhu et al. 2018): the mean over documents of BLEU-``max_n`` (uniform weights,
    NLTK smoothing method 1) of each document against all the others as references. Equal to the
    NLTK pairwise computation (to floating-point rounding), in ``O(T log T)``."""
    return float(self_bleu_scores(docs, max_n, tokenizer, epsilon=epsilon).mean())
