"""N-gram diversity and compression ratio: hand values, the diversity package, direct gzip."""

from __future__ import annotations

import gzip
import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.bundled import kjv_split
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import (
    StreamingNgramDiversity,
    compression_ratio,
    distinct_n,
    ngram_diversity,
)
from tests.metrics.references import diversity_module
from tests.metrics.test_streaming import close, shard_and_merge, split


def space_split(text: str) -> list[str]:
    return text.split(" ")


@pytest.fixture(scope="module")
def kjv_docs() -> list[str]:
    train, _ = kjv_split()
    rng = np.random.default_rng(3)
    return [train[i].text for i in rng.choice(len(train), 400, replace=False)]


def test_ngram_diversity_hand_computed():
    # "a b a b": unigrams 2/4, bigrams {ab, ba} 2/3, trigrams 2/2, 4-grams 1/1.
    assert ngram_diversity(["a b a b"]) == pytest.approx(0.5 + 2 / 3 + 1 + 1, rel=1e-15)
    # Within documents "b c" is not an n-gram; across documents it is.
    assert ngram_diversity(["a b", "c d"], max_n=2) == pytest.approx(1 + 2 / 2)
    assert ngram_diversity(["a b", "c d"], max_n=2, across_documents=True) == 2.0
    assert math.isnan(ngram_diversity(["a b", "c"]))  # no 3-gram: undefined
    assert ngram_diversity(["a b", "c"], max_n=2) == pytest.approx(1.0 + 1.0)
    assert math.isnan(ngram_diversity(["", "  "], max_n=1))
    with pytest.raises(InvalidParameterError, match="max_n"):
        ngram_diversity(["a"], max_n=0)


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text(max_size=50), min_size=1, max_size=15))
def test_ngram_diversity_is_the_sum_of_distinct_n(docs):
    value = ngram_diversity(docs)
    parts = [distinct_n(docs, n) for n in range(1, 5)]
    if any(math.isnan(p) for p in parts):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(sum(parts), rel=1e-12)
        assert 0 < value <= 4


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text(alphabet="ab  c\n", max_size=30), min_size=1, max_size=10))
def test_ngram_diversity_equals_the_diversity_package(docs):
    peer = diversity_module("ngram_diversity").ngram_diversity_score
    ours = ngram_diversity(docs, tokenizer=space_split, across_documents=True)
    try:
        theirs = peer(docs)
    except ZeroDivisionError:  # the package fails where an order has no n-gram; we give NaN
        assert math.isnan(ours)
        return
    assert round(ours, 3) == theirs


def test_ngram_diversity_equals_the_package_on_kjv(kjv_docs):
    peer = diversity_module("ngram_diversity").ngram_diversity_score
    ours = ngram_diversity(kjv_docs, tokenizer=space_split, across_documents=True)
    assert round(ours, 3) == peer(kjv_docs)


@settings(max_examples=40, deadline=None)
@given(
    docs=st.lists(st.text(max_size=40), min_size=1, max_size=20),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_streaming_ngram_diversity_merges_exactly(docs, cuts):
    merged = shard_and_merge(StreamingNgramDiversity, split(docs, cuts)).compute()
    assert close(merged, ngram_diversity(docs))
    two = shard_and_merge(
        lambda: StreamingNgramDiversity(max_n=2, tokenizer="whitespace"), split(docs, cuts)
    )
    assert close(two.compute(), ngram_diversity(docs, 2, "whitespace"))


def test_streaming_ngram_diversity_needs_documents():
    m = StreamingNgramDiversity()
    m.update([])
    with pytest.raises(DataError, match="at least 1 document"):
        m.compute()
    with pytest.raises(InvalidParameterError, match="different settings"):
        m.merge(StreamingNgramDiversity(max_n=3))


def direct_ratio(docs: list[str], level: int = 9) -> float:
    data = " ".join(docs).encode("utf-8")
    return len(data) / len(gzip.compress(data, compresslevel=level))


@settings(max_examples=80, deadline=None)
@given(docs=st.lists(st.text(max_size=200), min_size=1, max_size=20), level=st.integers(0, 9))
def test_compression_ratio_equals_direct_gzip(docs, level):
    ours = compression_ratio(docs, level=level)
    if not "".join(docs) and len(docs) == 1:
        assert math.isnan(ours)
    else:
        assert ours == direct_ratio(docs, level)


def test_compression_ratio_hand_values_and_streaming_input(kjv_docs):
    assert compression_ratio(["aaaa"]) == 4 / len(gzip.compress(b"aaaa"))
    assert compression_ratio(["ab", "cd"]) == 5 / len(gzip.compress(b"ab cd"))
    assert compression_ratio(iter(kjv_docs)) == direct_ratio(kjv_docs)  # a generator is fine
    assert compression_ratio(kjv_docs * 2) > compression_ratio(kjv_docs)  # repetition compresses
    assert compression_ratio(["a", "b"], separator="\n") == 3 / len(gzip.compress(b"a\nb"))
    assert math.isnan(compression_ratio([""]))


def test_the_diversity_package_compresses_twice(kjv_docs):
    peer = diversity_module("compression").compression_ratio
    data = " ".join(kjv_docs).encode("utf-8")
    inner = gzip.compress(data)
    # gzip.GzipFile("compressed.gz") around the gzip bytes: header with the file name, raw
    # deflate of the (already compressed) bytes, trailer.
    outer = 10 + len(b"compressed\0") + len(zlib.compress(inner, 9, wbits=-15)) + 8
    theirs = peer(kjv_docs)
    assert theirs == pytest.approx(len(data) / outer, abs=1e-3)  # it rounds to 3 decimals
    assert compression_ratio(kjv_docs) == len(data) / len(inner) > theirs


def test_compression_ratio_bad_input():
    with pytest.raises(DataError, match="at least 1 document"):
        compression_ratio([])
    with pytest.raises(DataError, match="list of documents"):
        compression_ratio("one string")
    with pytest.raises(DataError, match="got bytes at item 1"):
        compression_ratio(["ok", b"raw"])
    with pytest.raises(DataError, match=r"UTF-8.*item 0"):
        compression_ratio(["lone surrogate \ud800"])
    with pytest.raises(InvalidParameterError, match="level"):
        compression_ratio(["a"], level=10)
