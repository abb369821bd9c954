"""Vectorised bootstrap kernels: count-based metrics from weighted count tables.

Many text metrics are functions of token or n-gram counts. A bootstrap replicate is then a
*weight vector* over documents (how often each document was drawn,
:func:`~.bootstrap.index_weights`), and the counts of all replicates at once are one sparse
product ``W @ M`` of the weights ``W (B, n_docs)`` with the document-by-type count table
``M (n_docs, V)``. Tokenizing once instead of ``2 B`` times is what makes ``n_boot = 200``
cheap.

A kernel computes exactly what its registered metric computes on the resampled documents (the
tests check equality with the generic path on the same replicate indices), and it is used only
while the registry still holds the very function it mirrors: a metric re-registered under the
same name with another definition falls back to the generic path.

Kernels (text): ``vocab_size``, ``entropy``, ``distinct_2``, ``ngram_diversity``, ``rep_n``,
``self_repetition``, ``rare_recall``, ``kl``, ``js`` and ``zipf_exponent``. The others
(``self_bleu``, ``compression_ratio``, ``perplexity``, ...) take the generic path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from modelcollapse.metrics.functional.discrete import entropy as _entropy
from modelcollapse.metrics.functional.distribution import (
    js_from_vectors,
    kl_from_vectors,
    zipf_from_vector,
)
from modelcollapse.metrics.functional.text import Tokenizer, tokenize_documents

# Dense (replicates x types) blocks are kept under this many bytes.
BLOCK_BYTES = 32 * 2**20


class TextTables:
    """Count tables of the documents of every arm of a layout, over one shared vocabulary.

    ``arms`` maps an arm name ("candidate", "probe", "anchor") to its documents, tokenized once
    with ``tokenizer`` (None: the default, ``"whitespace"``; it must be the tokenizer of the
    metrics the kernels mirror). N-gram tables are built on first use and cached.
    """

    def __init__(
        self, arms: dict[str, list[str]], tokenizer: Tokenizer | str | None = None
    ) -> None:
        self.vocab: dict[str, int] = {}
        self.ids: dict[str, list[np.ndarray]] = {}
        for arm, docs in arms.items():
            encoded = []
            for tokens in tokenize_documents(docs, tokenizer, min_docs=0):
                encoded.append(
                    np.fromiter(
                        (self.vocab.setdefault(t, len(self.vocab)) for t in tokens),
                        dtype=np.int64,
                        count=len(tokens),
                    )
                )
            self.ids[arm] = encoded
        words = list(self.vocab)
        # Rank of each word in Python's string order: the tie-break of rare_words.
        self.word_rank = np.empty(len(words), dtype=np.int64)
        self.word_rank[
            np.array(sorted(range(len(words)), key=words.__getitem__), dtype=np.int64)
        ] = np.arange(len(words), dtype=np.int64)
        self._tables: dict[tuple[str, int], tuple[sp.csc_matrix, np.ndarray]] = {}
        self._gram_ids: dict[int, dict[tuple[int, ...], int]] = {}

    def table(self, arm: str, n: int = 1) -> tuple[sp.csc_matrix, np.ndarray]:
        """``(M.T, totals)``: the (types, docs) n-gram count table (CSC) of an arm and the number
        of n-grams of each document. N-grams never cross documents."""
        key = (arm, n)
        if key not in self._tables:
            gram_ids = self._gram_ids.setdefault(n, {})
            rows: list[int] = []
            cols: list[int] = []
            totals = np.zeros(len(self.ids[arm]), dtype=np.float64)
            for d, ids in enumerate(self.ids[arm]):
                if n == 1:
                    grams = ids.tolist()
                else:
                    seq = ids.tolist()
                    grams = [
                        gram_ids.setdefault(g, len(gram_ids))
                        for g in zip(*(seq[i:] for i in range(n)), strict=False)
                    ]
                totals[d] = len(grams)
                rows.extend(grams)
                cols.extend([d] * len(grams))
            n_types = len(self.vocab) if n == 1 else len(gram_ids)
            data = np.ones(len(rows), dtype=np.float64)
            mat = sp.csc_matrix(
                (data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
                shape=(n_types, len(self.ids[arm])),
            )
            mat.sum_duplicates()  # one entry per (type, doc): its count
            self._tables[key] = (mat, totals)
        return self._tables[key]

    def n_types(self, n: int) -> int:
        return len(self.vocab) if n == 1 else len(self._gram_ids.get(n, {}))


def weighted_counts(
    tables: TextTables, arm: str, weights: np.ndarray, n: int = 1
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Blocks ``(rows, counts (b, types), totals (b,))`` of the weighted n-gram counts."""
    mat, totals = tables.table(arm, n)
    n_types = max(mat.shape[0], 1)
    step = max(1, BLOCK_BYTES // (8 * n_types))
    for start in range(0, weights.shape[0], step):
        rows = slice(start, min(start + step, weights.shape[0]))
        w = weights[rows]
        yield rows, np.asarray((mat @ w.T).T), w @ totals


# A kernel maps (tables, arm of the samples, its weights (B, n), anchor weights or None) to (B,).
Kernel = Callable[[TextTables, str, np.ndarray, "np.ndarray | None"], np.ndarray]


def _vocab_size(tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None) -> np.ndarray:
    out = np.empty(w.shape[0])
    for rows, counts, _totals in weighted_counts(tables, arm, w):
        out[rows] = (counts > 0).sum(axis=1)
    return out


def _entropy_kernel(
    tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None
) -> np.ndarray:
    out = np.empty(w.shape[0])
    for rows, counts, _totals in weighted_counts(tables, arm, w):
        for i, row in enumerate(counts, start=rows.start):
            nz = row[row > 0]
            out[i] = _entropy(nz) if nz.size else float("nan")
    return out


def _distinct(n: int) -> Kernel:
    def kernel(tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None) -> np.ndarray:
        out = np.empty(w.shape[0])
        for rows, counts, totals in weighted_counts(tables, arm, w, n):
            distinct = (counts > 0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[rows] = np.where(totals > 0, distinct / np.maximum(totals, 1), np.nan)
        return out

    return kernel


def _rare_recall(
    tables: TextTables, arm: str, w: np.ndarray, anchor_w: np.ndarray | None
) -> np.ndarray:
    # rare_words(anchor, 0.5): the ceil(V/2) least frequent anchor words, ties by the word.
    assert anchor_w is not None, "rare_recall is a two-sample metric"
    out = np.empty(w.shape[0])
    anchor_blocks = weighted_counts(tables, "anchor", anchor_w)
    for (rows, counts, _t), (_r, anchor_counts, _a) in zip(
        weighted_counts(tables, arm, w), anchor_blocks, strict=True
    ):
        for i, (x, a) in enumerate(zip(counts, anchor_counts, strict=True), start=rows.start):
            present = np.flatnonzero(a > 0)
            if present.size == 0:
                out[i] = float("nan")
                continue
            order = np.lexsort((tables.word_rank[present], a[present]))
            k = math.ceil(0.5 * present.size)
            rare = present[order[:k]]
            out[i] = int((x[rare] > 0).sum()) / k
    return out


def _block_rows(n_types: int, n_rows: int) -> int:
    return max(1, min(n_rows, BLOCK_BYTES // (8 * max(n_types, 1))))


def _ngram_diversity(
    tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None
) -> np.ndarray:
    # Σ_{n=1..4} distinct_n / total_n within documents; NaN when some order has no n-gram.
    out = np.zeros(w.shape[0])
    for n in range(1, 5):
        out += _distinct(n)(tables, arm, w, None)
    return out


def _per_document_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean of per-document values over the documents where they are defined."""
    defined = ~np.isnan(values)
    wd = w[:, defined]
    n_scored = wd.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_scored > 0, (wd @ values[defined]) / np.maximum(n_scored, 1), np.nan)


def _rep_n(tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None) -> np.ndarray:
    # seq-rep-4: mean over documents with a 4-gram of 1 - distinct / total 4-grams.
    mat, totals = tables.table(arm, 4)
    distinct = np.diff(mat.indptr).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_doc = np.where(totals > 0, 1.0 - distinct / np.maximum(totals, 1), np.nan)
    return _per_document_mean(per_doc, w)


def _self_repetition(
    tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None
) -> np.ndarray:
    # Mean over documents of ln(1 + Σ_{g in U_d} (df(g) - 1)), df counting resampled copies.
    mat, _totals = tables.table(arm, 4)
    incidence = mat.copy()
    incidence.data[:] = 1.0
    n_distinct = np.diff(incidence.indptr).astype(np.float64)
    out = np.empty(w.shape[0])
    step = _block_rows(incidence.shape[0], w.shape[0])
    for start in range(0, w.shape[0], step):
        rows = slice(start, min(start + step, w.shape[0]))
        block = w[rows]
        df = np.asarray(incidence @ block.T)  # (G, b) weighted document frequencies
        others = np.asarray(incidence.T @ df).T - n_distinct  # (b, docs)
        scores = (block * np.log1p(np.maximum(others, 0))).sum(axis=1) / block.sum(axis=1)
        has_grams = (block @ n_distinct) > 0
        out[rows] = np.where(has_grams, scores, np.nan)
    return out


def _divergence(fn: Callable[[np.ndarray, np.ndarray], float]) -> Kernel:
    def kernel(
        tables: TextTables, arm: str, w: np.ndarray, anchor_w: np.ndarray | None
    ) -> np.ndarray:
        assert anchor_w is not None, "unigram divergences are two-sample metrics"
        out = np.empty(w.shape[0])
        anchor_blocks = weighted_counts(tables, "anchor", anchor_w)
        for (rows, counts, _t), (_r, anchor_counts, _a) in zip(
            weighted_counts(tables, arm, w), anchor_blocks, strict=True
        ):
            for i, (x, a) in enumerate(zip(counts, anchor_counts, strict=True), start=rows.start):
                union = (x > 0) | (a > 0)  # the words of the two tables, as the dict form sees
                out[i] = fn(x[union], a[union])
        return out

    return kernel


def _zipf(tables: TextTables, arm: str, w: np.ndarray, _: np.ndarray | None) -> np.ndarray:
    out = np.empty(w.shape[0])
    for rows, counts, _totals in weighted_counts(tables, arm, w):
        for i, row in enumerate(counts, start=rows.start):
            out[i] = zipf_from_vector(row)
    return out


@dataclass(frozen=True)
class KernelSpec:
    """A kernel and the registered function it reproduces."""

    kernel: Kernel
    module: str
    function: str

    def mirrors(self, fn: Callable[..., float]) -> bool:
        return getattr(fn, "__module__", None) == self.module and (
            getattr(fn, "__qualname__", None) == self.function
        )


_TEXT = "modelcollapse.metrics.text"
TEXT_KERNELS: dict[str, KernelSpec] = {
    "vocab_size": KernelSpec(_vocab_size, _TEXT, "vocab_size"),
    "entropy": KernelSpec(_entropy_kernel, _TEXT, "entropy"),
    "distinct_2": KernelSpec(_distinct(2), _TEXT, "distinct_2"),
    "rare_recall": KernelSpec(_rare_recall, _TEXT, "rare_recall"),
    "ngram_diversity": KernelSpec(_ngram_diversity, _TEXT, "ngram_diversity"),
    "rep_n": KernelSpec(_rep_n, _TEXT, "rep_n"),
    "self_repetition": KernelSpec(_self_repetition, _TEXT, "self_repetition"),
    "kl": KernelSpec(_divergence(kl_from_vectors), _TEXT, "kl"),
    "js": KernelSpec(_divergence(js_from_vectors), _TEXT, "js"),
    "zipf_exponent": KernelSpec(_zipf, _TEXT, "zipf"),
}


def text_kernel(name: str, fn: Callable[..., float]) -> Kernel | None:
    """The kernel of the registered text metric ``name``, or None (use the generic path)."""
    spec = TEXT_KERNELS.get(name)
    return spec.kernel if spec is not None and spec.mirrors(fn) else None
