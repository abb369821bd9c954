"""Repetition of n-grams: self-repetition across documents and seq-rep-n within documents.

**Self-repetition** (Salkar et al. 2022, "Self-repetition in abstractive neural summarizers",
AACL; the corpus score of Shaib et al. 2024, "Standardizing the measurement of text diversity",
arXiv:2403.00553, as implemented in the ``diversity`` package 0.3.1)::

    SRS = (1/N) Σ_d ln(1 + Σ_{g ∈ U_d} (df(g) - 1))

where ``U_d`` is the set of distinct n-grams of document ``d`` (default ``n = 4``) and
``df(g)`` the number of documents containing ``g``, so the inner sum counts, for each n-gram of
``d``, the *other* documents that contain it too. Natural log; documents without any n-gram
count as ``ln 1 = 0`` and stay in the average. ``diversity.self_repetition_score`` tokenizes with
``str.split()``: ``self_repetition(docs, tokenizer="whitespace")`` equals it. Ours is NaN when no
document has ``n`` tokens (the package returns 0 there). The score of one document depends on
document frequencies over the whole corpus, so its only mergeable state would be every
document's n-gram set: no streaming class.

**seq-rep-n** (Welleck et al. 2020, "Neural text generation with unlikelihood training", ICLR,
Sec. 5): for each document ``rep_n(d) = 1 - |distinct n-grams of d| / |n-grams of d|``, averaged
over documents; default ``n = 4``. 0 when no n-gram repeats within a document, towards 1 for
degenerate loops. Documents shorter than ``n`` tokens have no n-gram: the ratio is undefined for
them and they are left out of the average (not counted as 0); NaN when no document has ``n``
tokens. The state ``(Σ rep_n(d), #documents scored)`` merges by addition.

Both are computed on the integer n-gram tables of ``ngram_table.py`` in ``O(T log T)``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.metrics.functional.ngram_table import EncodedCorpus, encode_documents, ngram_ids
from modelcollapse.metrics.functional.text import Tokenizer
from modelcollapse.metrics.functional.validation import check_int


def _doc_gram_pairs(
    corpus: EncodedCorpus, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Distinct (document, n-gram) pairs: their document, n-gram id and count in that document,
    plus the number of distinct n-grams ``G``."""
    table = ngram_ids(corpus, n)
    g = max(table.n_distinct, 1)
    keys, counts = np.unique(table.docs * g + table.ids, return_counts=True)
    return keys // g, keys % g, counts.astype(np.int64), table.n_distinct


# -- self-repetition ------------------------------------------------------------------------
def self_repetition_per_document(
    docs: Any, n: int = 4, tokenizer: Tokenizer | str | None = None
) -> np.ndarray:
    """``ln(1 + Σ_{g ∈ U_d} (df(g) - 1))`` for each document ``d`` (float64 (N,))."""
    n = check_int("n", n, low=1)
    corpus = encode_documents(docs, tokenizer)
    pdoc, pgram, _, n_grams = _doc_gram_pairs(corpus, n)
    if n_grams == 0:
        return np.full(corpus.n_docs, np.nan)
    df = np.bincount(pgram, minlength=n_grams)
    others = np.bincount(pdoc, weights=df[pgram] - 1, minlength=corpus.n_docs)
    return np.log1p(others)


def self_repetition(docs: Any, n: int = 4, tokenizer: Tokenizer | str | None = None) -> float:
    """Self-repetition score (Salkar et al. 2022; Shaib et al. 2024): the mean over documents of
    ``ln(1 + number of (other document, shared n-gram) pairs)``. See the module docstring."""
    per_doc = self_repetition_per_document(docs, n, tokenizer)
    return float(per_doc.mean()) if not np.isnan(per_doc).any() else float("nan")


# -- seq-rep-n ------------------------------------------------------------------------------
class RepState(NamedTuple):
    """Sum of per-document seq-rep-n over the documents that have an n-gram, and their count."""

    n: int
    total: float
    n_scored: int


def rep_n_per_document(corpus: EncodedCorpus, n: int = 4) -> np.ndarray:
    """seq-rep-n of each document of an encoded corpus; NaN for documents shorter than ``n``."""
    n = check_int("n", n, low=1)
    pdoc, _, _, _ = _doc_gram_pairs(corpus, n)
    n_docs = corpus.n_docs
    distinct = np.bincount(pdoc, minlength=n_docs)
    total = np.maximum(corpus.lengths - (n - 1), 0)
    out = np.full(n_docs, np.nan)
    scored = total > 0
    out[scored] = 1.0 - distinct[scored] / total[scored]
    return out


def rep_state(corpus: EncodedCorpus, n: int = 4) -> RepState:
    """The :class:`RepState` of an encoded corpus (documents are independent, so any batch's
    local token ids will do)."""
    per_doc = rep_n_per_document(corpus, n)
    scored = per_doc[~np.isnan(per_doc)]
    return RepState(n, math.fsum(scored.tolist()), int(scored.shape[0]))


def merge_rep_states(a: RepState, b: RepState) -> RepState:
    """Add sums and counts."""
    if a.n != b.n:
        raise InvalidParameterError(
            f"cannot merge rep-{a.n} and rep-{b.n} states: expected equal n"
        )
    return RepState(a.n, a.total + b.total, a.n_scored + b.n_scored)


def rep_from_state(state: RepState) -> float:
    """Mean seq-rep-n over the scored documents; NaN when none has ``n`` tokens."""
    return state.total / state.n_scored if state.n_scored else float("nan")


def rep_n(docs: Any, n: int = 4, tokenizer: Tokenizer | str | None = None) -> float:
    """seq-rep-n (Welleck et al. 2020): the mean over documents with at least ``n`` tokens of
    ``1 - distinct n-grams / n-grams`` within the document. See the module docstring."""
    n = check_int("n", n, low=1)
    return rep_from_state(rep_state(encode_documents(docs, tokenizer), n))
