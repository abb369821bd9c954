"""Integer n-gram tables: the vectorised core of the corpus-level text metrics.

The diversity metrics (n-gram diversity, self-repetition, rep-n) and Self-BLEU all count
n-grams over a whole corpus. Doing that with Python tuples and Counters costs one object per
n-gram; here a corpus is encoded once as integer arrays and every n-gram becomes an int64 id, so
counting is a sort (``np.unique``) instead of a dictionary walk.

- :func:`encode_documents` tokenizes the documents and maps each distinct token to an integer
  (first-seen order), giving one flat ``tokens`` array and document ``offsets``.
- :func:`ngram_ids` gives every n-gram occurrence a dense id in ``[0, G)``, two occurrences
  sharing an id exactly when their token sequences are equal. It is built by induction on ``n``:
  the id of the n-gram at position ``i`` is the rank of the pair (id of the (n-1)-gram at ``i``,
  token at ``i + n - 1``), found by ``np.unique`` on ``prev * V + token``. The pair key is below
  ``G_{n-1} * V <= T**2``, so it fits in int64 for any corpus of under three billion tokens, and
  no hashing is involved: ids never collide.

N-grams never cross a document boundary unless ``across_documents=True``, which treats the corpus
as a single token stream (what the ``diversity`` package does after joining the documents).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.text import Tokenizer, as_token_list, tokenize_documents
from modelcollapse.metrics.functional.validation import check_int


class EncodedCorpus(NamedTuple):
    """A tokenized corpus as integers.

    Attributes:
        tokens: int64 (T,), the token ids of all documents, concatenated.
        offsets: int64 (N + 1,), document ``d`` is ``tokens[offsets[d]:offsets[d + 1]]``.
        vocab_size: number of distinct tokens ``V`` (ids are ``0 .. V-1``).
    """

    tokens: np.ndarray
    offsets: np.ndarray
    vocab_size: int

    @property
    def n_docs(self) -> int:
        return self.offsets.shape[0] - 1

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each document, int64 (N,)."""
        return np.diff(self.offsets)


def encode_tokenized(
    tokenized: list[list[Any]], *, vocab: dict[Any, int] | None = None
) -> EncodedCorpus:
    """Encode already tokenized documents; tokens may be any hashable values. ``vocab`` (token
    -> id), when given, is used and extended in place (new tokens get the next ids)."""
    vocab = {} if vocab is None else vocab
    lengths = np.fromiter((len(toks) for toks in tokenized), dtype=np.int64, count=len(tokenized))
    offsets = np.zeros(len(tokenized) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # One dictionary pass over the flat token list: setdefault returns the existing id or
    # assigns the next one, so ids follow first appearance.
    try:
        flat = [vocab.setdefault(tok, len(vocab)) for toks in tokenized for tok in toks]
    except TypeError as exc:
        raise DataError(f"tokenizer: expected hashable tokens (e.g. str), got {exc}") from None
    tokens = np.asarray(flat, dtype=np.int64).reshape(-1)
    return EncodedCorpus(tokens, offsets, len(vocab))


def encode_documents(
    docs: Any, tokenizer: Tokenizer | str | None = None, *, min_docs: int = 1
) -> EncodedCorpus:
    """Tokenize ``docs`` (see :func:`~modelcollapse.metrics.functional.text.tokenize_documents`)
    and encode them as integer arrays."""
    tokenized = tokenize_documents(docs, tokenizer, min_docs=min_docs)
    return encode_tokenized([as_token_list(toks, i) for i, toks in enumerate(tokenized)])


class NgramIds(NamedTuple):
    """Every n-gram occurrence of a corpus as a dense id.

    Attributes:
        n: the n-gram order.
        ids: int64 (M,), the id in ``[0, n_distinct)`` of each n-gram occurrence.
        docs: int64 (M,), the document each occurrence starts in (its only document unless the
            table was built ``across_documents``).
        n_distinct: number of distinct n-grams ``G``.
    """

    n: int
    ids: np.ndarray
    docs: np.ndarray
    n_distinct: int


def _dense(keys: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inverse = np.unique(keys, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64, copy=False), int(uniq.shape[0])


def iter_ngram_ids(
    corpus: EncodedCorpus, max_n: int, *, across_documents: bool = False
) -> list[NgramIds]:
    """The :class:`NgramIds` tables for ``n = 1 .. max_n``, built by induction on ``n``."""
    max_n = check_int("max_n", max_n, low=1)
    tokens, v = corpus.tokens, max(corpus.vocab_size, 1)
    n_tokens = tokens.shape[0]
    doc_of_token = np.repeat(np.arange(corpus.n_docs, dtype=np.int64), corpus.lengths)
    # limit[i]: the n-gram starting at i must end before this index (its document's end, or
    # the end of the stream when n-grams may cross documents).
    if across_documents:
        limit = np.full(n_tokens, n_tokens, dtype=np.int64)
    else:
        limit = corpus.offsets[1:][doc_of_token]
    starts = np.arange(n_tokens, dtype=np.int64)
    ids = tokens
    out = [NgramIds(1, ids, doc_of_token, corpus.vocab_size)]
    for n in range(2, max_n + 1):
        keep = starts + (n - 1) < limit
        starts, prev, limit = starts[keep], ids[keep], limit[keep]
        ids, n_distinct = _dense(prev * v + tokens[starts + (n - 1)])
        out.append(NgramIds(n, ids, doc_of_token[starts], n_distinct))
    return out


def ngram_ids(corpus: EncodedCorpus, n: int, *, across_documents: bool = False) -> NgramIds:
    """The :class:`NgramIds` table of order ``n``."""
    return iter_ngram_ids(corpus, n, across_documents=across_documents)[-1]
