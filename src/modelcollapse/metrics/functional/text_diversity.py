"""Corpus diversity of text: n-gram diversity and gzip compression ratio (Shaib et al. 2024).

Shaib, Barrow, Sun, Siu, Wallace & Nenkova 2024, "Standardizing the measurement of text
diversity: a tool and a comparative analysis of scores" (arXiv:2403.00553), recommend reporting
the compression ratio, n-gram diversity and self-repetition (see ``repetition.py``) of a corpus;
their package is ``diversity`` on PyPI. A collapsing model repeats itself, so its corpus
compresses better (higher ratio) and has fewer distinct n-grams (lower diversity).

**N-gram diversity** ``NGD = Σ_{n=1..max_n} (#distinct n-grams / #n-grams)``, ``max_n = 4``.
By default n-grams are counted within documents, so ``ngram_diversity(docs) ==
Σ_n distinct_n(docs, n)`` and the value does not depend on the order of the documents (shards
merge in any order). ``across_documents=True`` instead treats the corpus as one token stream, as
the ``diversity`` package does (``' '.join(docs).split(' ')``); that adds the ``n - 1`` n-grams
spanning each boundary between consecutive documents. With ``tokenizer=lambda s: s.split(' ')``
and ``across_documents=True`` we reproduce ``diversity.ngram_diversity_score`` exactly (the
package rounds to 3 decimals; we do not). The value lies in ``(0, max_n]``; it is NaN when some
order ``n <= max_n`` has no n-gram at all (every document shorter than ``n`` tokens; the
package raises ZeroDivisionError there).

**Compression ratio** ``CR = len(b) / len(gzip(b))`` where ``b`` is the UTF-8 encoding of the
documents joined by a single space (as ``diversity`` joins them) and ``gzip(b)`` is exactly
``gzip.compress(b, compresslevel=9)``: a 10-byte header, the raw DEFLATE stream at level 9 and
an 8-byte CRC/size trailer. We compress incrementally (``zlib.compressobj``, no flush until the
end, which zlib makes independent of how the input is chunked), so any iterable of documents is
consumed lazily in O(32 KiB) memory. NaN when ``b`` is empty.

The ``diversity`` package (0.3.1, ``compression.py``) compresses twice: it writes
``gzip.GzipFile('compressed.gz').write(gzip.compress(b))``, i.e. it gzips the already gzipped
bytes again, and divides the size of the text file by the size of that outer file. Its
denominator is therefore ``10 + 11 + len(deflate_9(gzip.compress(b))) + 8`` (the outer header
carries the file name ``compressed`` plus a NUL byte), a few tens of bytes more than
``len(gzip.compress(b))`` because deflating already compressed data cannot shrink it. Its ratio
is slightly below ours (visible on small corpora, about 0.1% on 20,000 KJV verses) and rounded
to 3 decimals. The compressed size of a concatenation is not a function of the compressed sizes
of its parts (the DEFLATE window spans the boundary), so there is no mergeable streaming state
and no streaming class; the function itself streams.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.ngram_table import encode_documents, iter_ngram_ids
from modelcollapse.metrics.functional.text import (
    NgramState,
    Tokenizer,
    merge_ngram_states,
    ngram_state,
)
from modelcollapse.metrics.functional.validation import check_int

GZIP_LEVEL = 9
_GZIP_FRAME_BYTES = 18  # 10-byte gzip header + 8-byte trailer (CRC-32, size mod 2**32)


# -- n-gram diversity -----------------------------------------------------------------------
def ngram_diversity_from_counts(distinct: Iterable[int], total: Iterable[int]) -> float:
    """``Σ_n distinct_n / total_n``; NaN when some order has no n-gram."""
    distinct, total = list(distinct), list(total)
    if not total or min(total) == 0:
        return float("nan")
    return float(sum(d / t for d, t in zip(distinct, total, strict=True)))


def ngram_diversity(
    docs: Any,
    max_n: int = 4,
    tokenizer: Tokenizer | str | None = None,
    *,
    across_documents: bool = False,
) -> float:
    """N-gram diversity (Shaib et al. 2024): the sum over ``n = 1..max_n`` of distinct n-grams
    over total n-grams. See the module docstring for the exact definition and how it relates to
    the ``diversity`` package."""
    max_n = check_int("max_n", max_n, low=1)
    corpus = encode_documents(docs, tokenizer)
    tables = iter_ngram_ids(corpus, max_n, across_documents=bool(across_documents))
    return ngram_diversity_from_counts(
        (t.n_distinct for t in tables), (t.ids.shape[0] for t in tables)
    )


def ngram_diversity_state(tokenized: Iterable[list[str]], max_n: int = 4) -> list[NgramState]:
    """The mergeable state of n-gram diversity: one :class:`NgramState` (the set of distinct
    n-grams and the n-gram count, within documents) per order ``n = 1..max_n``."""
    max_n = check_int("max_n", max_n, low=1)
    tokenized = list(tokenized)
    return [ngram_state(tokenized, n) for n in range(1, max_n + 1)]


def merge_ngram_diversity_states(a: list[NgramState], b: list[NgramState]) -> list[NgramState]:
    """Merge per-order states (``a`` is updated in place, ``b`` untouched)."""
    if len(a) != len(b):
        raise InvalidParameterError(
            f"cannot merge n-gram diversity states: expected {len(a)} orders, got {len(b)}"
        )
    return [merge_ngram_states(x, y) for x, y in zip(a, b, strict=True)]


def ngram_diversity_from_states(states: list[NgramState]) -> float:
    """N-gram diversity from per-order states."""
    return ngram_diversity_from_counts((len(s.distinct) for s in states), (s.total for s in states))


# -- compression ratio ----------------------------------------------------------------------
def _check_level(level: Any) -> int:
    level = check_int("level", level)
    if level > 9:
        raise InvalidParameterError(f"level: expected a gzip level in 0..9, got {level}")
    return level


def compression_sizes(
    docs: Iterable[str], *, level: int = GZIP_LEVEL, separator: str = " "
) -> tuple[int, int]:
    """``(original bytes, gzip bytes)`` of the documents joined by ``separator``, where gzip bytes
    equals ``len(gzip.compress(joined.encode('utf-8'), compresslevel=level))``."""
    level = _check_level(level)
    if isinstance(docs, (str, bytes)) or not hasattr(docs, "__iter__"):
        raise DataError(f"documents: expected a list of documents, got {type(docs).__name__}")
    if not isinstance(separator, str):
        raise InvalidParameterError(f"separator: expected a str, got {type(separator).__name__}")
    # wbits=-15: a raw DEFLATE stream, exactly what gzip.compress wraps in its header/trailer.
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    sep = separator.encode("utf-8")
    original = compressed = 0
    n_docs = 0
    for i, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise DataError(
                f"documents: expected str documents, got {type(doc).__name__} at item {i}"
            )
        try:
            data = doc.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates cannot be written as UTF-8
            raise DataError(
                f"documents: expected text encodable as UTF-8, got {exc.reason} at item {i}"
            ) from None
        if i:
            data = sep + data
        original += len(data)
        compressed += len(comp.compress(data))
        n_docs += 1
    if n_docs == 0:
        raise DataError("documents: expected at least 1 document(s), got 0")
    compressed += len(comp.flush()) + _GZIP_FRAME_BYTES
    return original, compressed


def compression_ratio(
    docs: Iterable[str], *, level: int = GZIP_LEVEL, separator: str = " "
) -> float:
    """Gzip compression ratio ``original bytes / gzip bytes`` of the corpus (Shaib et al. 2024).

    The documents are joined by ``separator`` (a single space, as in the ``diversity``
    package), encoded as UTF-8 and compressed as by ``gzip.compress`` at ``level`` (9, gzip's
    and Python's default). Higher means more redundant text. NaN when the joined text is empty.
    Unlike ``diversity.compression_ratio`` we compress once (the package compresses twice; see
    the module docstring). ``docs`` may be any iterable (a generator over a file): it is
    consumed lazily.
    """
    original, compressed = compression_sizes(docs, level=level, separator=separator)
    if original == 0:
        return float("nan")
    return original / compressed
