"""Self-repetition (vs the diversity package) and seq-rep-n (hand values, streaming)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.bundled import kjv_split
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import StreamingRepN, rep_n, self_repetition
from modelcollapse.metrics.functional.repetition import self_repetition_per_document
from tests.metrics.references import diversity_module
from tests.metrics.test_streaming import close, shard_and_merge, split


def test_self_repetition_hand_computed():
    # 2-grams: "a b" is in documents 0 and 1, "c d" only in 2.
    docs = ["a b", "a b a b", "c d"]
    assert self_repetition_per_document(docs, n=2).tolist() == pytest.approx(
        [math.log(2), math.log(2), 0.0]
    )
    assert self_repetition(docs, n=2) == pytest.approx(2 * math.log(2) / 3)
    # Each n-gram counts the other documents that contain it, once per document.
    assert self_repetition(["x y", "x y", "x y"], n=2) == pytest.approx(math.log(3))
    assert math.isnan(self_repetition(["one two", "three"], n=3))  # no 3-gram anywhere
    with pytest.raises(InvalidParameterError, match="n"):
        self_repetition(["a"], n=0)


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text(alphabet="ab c\n\t", max_size=24), min_size=1, max_size=12))
def test_self_repetition_equals_the_diversity_package(docs):
    peer = diversity_module("self_repetition").self_repetition_score
    ours = self_repetition(docs, n=2, tokenizer="whitespace")
    theirs = peer(docs, n=2, verbose=False)
    if math.isnan(ours):  # no 2-gram at all: the package says 0
        assert theirs == 0
    else:
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)


def test_self_repetition_equals_the_package_on_kjv():
    train, _ = kjv_split()
    rng = np.random.default_rng(5)
    docs = [train[i].text for i in rng.choice(len(train), 500, replace=False)]
    peer = diversity_module("self_repetition").self_repetition_score
    assert self_repetition(docs, tokenizer="whitespace") == pytest.approx(
        peer(docs, verbose=False), rel=1e-12
    )


def test_rep_n_hand_computed():
    # 2-grams of "a b a b a": ab ba ab ba -> 2 distinct of 4.
    assert rep_n(["a b a b a"], n=2) == 0.5
    # A document shorter than n has no n-gram: left out, not counted as 0.
    assert rep_n(["a b a b a", "x"], n=2) == 0.5
    assert rep_n(["a b a b a", "x y"], n=2) == 0.25
    assert rep_n(["the cat sat on the mat"]) == 0.0  # default n = 4, no repeated 4-gram
    assert math.isnan(rep_n(["a b c"]))
    with pytest.raises(DataError, match="at least 1 document"):
        rep_n([])


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text(max_size=40), min_size=1, max_size=20), n=st.integers(1, 4))
def test_rep_n_matches_its_definition_on_arbitrary_unicode(docs, n):
    per_doc = []
    for doc in docs:
        toks = doc.split()  # the default tokenizer, "whitespace"
        grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
        if grams:
            per_doc.append(1 - len(set(grams)) / len(grams))
    value = rep_n(docs, n)
    if per_doc:
        assert value == pytest.approx(sum(per_doc) / len(per_doc), rel=1e-12, abs=1e-15)
        assert 0 <= value < 1
    else:
        assert math.isnan(value)


@settings(max_examples=40, deadline=None)
@given(
    docs=st.lists(st.text(alphabet="ab .", max_size=30), min_size=1, max_size=20),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_streaming_rep_n_merges(docs, cuts):
    assert close(
        shard_and_merge(lambda: StreamingRepN(n=2), split(docs, cuts)).compute(), rep_n(docs, 2)
    )
    with pytest.raises(InvalidParameterError, match="different settings"):
        StreamingRepN(n=2).merge(StreamingRepN(n=3))
