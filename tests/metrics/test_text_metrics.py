"""Text metrics: hand-computed values, the tokenizer contract and arbitrary unicode."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import (
    MetricContext,
    compute,
    distinct_2,
    distinct_n,
    model_perplexity,
    perplexity,
    rare_recall,
    rare_words,
    unigram_entropy,
    vocab_size,
)
from tests.metrics.fakes import UniformTextModel


def test_hand_computed_values():
    docs = ["the cat sat", "the cat ran"]
    assert vocab_size(docs) == 4
    # Frequencies: the 2, cat 2, sat 1, ran 1 over 6 tokens.
    want = -(2 * (2 / 6) * math.log(2 / 6) + 2 * (1 / 6) * math.log(1 / 6))
    assert unigram_entropy(docs) == pytest.approx(want, rel=1e-12)
    # Bigrams within documents: (the cat) x2, (cat sat), (cat ran): 3 distinct of 4.
    assert distinct_2(docs) == 0.75
    # No bigram crosses the document boundary ("sat the" is not counted).
    assert distinct_2(["a b", "c d"]) == 1.0
    assert distinct_n(["a a a a"], 1) == 0.25
    assert vocab_size(["Hello, world!"]) == 2  # default "whitespace": "Hello," and "world!"
    assert vocab_size(["Hello, world!"], tokenizer="words") == 4  # punctuation is a token


def test_tokenizer_can_be_replaced():
    assert vocab_size(["The the THE"], tokenizer=lambda t: tokenize(t, lowercase=True)) == 1
    assert vocab_size(["The the THE"]) == 3


def test_undefined_values_are_nan_and_bad_input_is_an_error():
    assert vocab_size(["", "   "]) == 0
    assert math.isnan(unigram_entropy([""]))
    assert math.isnan(distinct_2(["one", "two"]))  # no document has two tokens
    with pytest.raises(DataError, match="at least 1 document"):
        distinct_2([])
    with pytest.raises(DataError, match="single str"):
        vocab_size("a string is not a list of documents")
    with pytest.raises(DataError, match="str documents, got int at item 1"):
        vocab_size(["ok", 3])
    with pytest.raises(DataError, match="got bytes at item 0"):
        unigram_entropy([b"undecoded bytes \xff"])
    with pytest.raises(DataError, match="list of str"):
        vocab_size(None)
    with pytest.raises(InvalidParameterError, match="n"):
        distinct_n(["a b"], 0)


def test_rare_words_ties_are_broken_by_the_word():
    ref = ["b a c c d d d", "e"]  # counts: a1 b1 e1 c2 d3 -> bottom ceil(5/2)=3: a, b, e
    assert rare_words(ref) == ["a", "b", "e"]
    assert rare_recall(ref, ["a e zzz"]) == pytest.approx(2 / 3)
    assert rare_recall(ref, ["c d"]) == 0.0
    assert math.isnan(rare_recall([""], ["a"]))
    with pytest.raises(InvalidParameterError, match="fraction"):
        rare_words(ref, fraction=0)


def test_perplexity_definition():
    # exp(-(sum log p) / (sum tokens)), not the mean of per-document perplexities.
    assert perplexity([-2.0, -4.0], [1, 2]) == pytest.approx(math.exp(2.0))
    model = UniformTextModel(vocab=50)
    assert model_perplexity(model, ["a b c", "d"]) == pytest.approx(50.0, rel=1e-12)
    assert perplexity([-1e6], [1]) == math.inf
    with pytest.raises(DataError, match="one count per document"):
        perplexity([-1.0, -2.0], [1])
    with pytest.raises(DataError, match="NaN"):
        perplexity([np.nan], [1])
    with pytest.raises(DataError, match="non-negative integers"):
        perplexity([-1.0], [-1])
    with pytest.raises(InvalidParameterError, match="token_counts"):
        model_perplexity(object.__new__(type("NoCounts", (), {"log_prob": lambda s, d: d})), ["a"])


def test_registered_text_metrics():
    ref = ["the cat sat on the mat", "a dog ran"]
    samples = ["the cat sat", "the cat sat"]
    ctx = MetricContext(
        "text", UniformTextModel(20), samples, ref, ["the mat"], None, np.random.default_rng(0)
    )
    out = compute(["vocab_size", "entropy", "distinct_2", "perplexity", "rare_recall"], ctx)
    assert out == {
        "vocab_size": 3.0,
        "entropy": pytest.approx(math.log(3)),
        "distinct_2": 0.5,
        "perplexity": pytest.approx(20.0),
        "rare_recall": pytest.approx(1 / 4),  # rare: a, cat, dog, mat (ties by word); cat seen
    }


@settings(max_examples=150, deadline=None)
@given(
    ref=st.lists(st.text(max_size=60), min_size=1, max_size=12),
    samples=st.lists(st.text(max_size=60), min_size=1, max_size=12),
)
def test_arbitrary_unicode_never_crashes_and_stays_in_range(ref, samples):
    tokens = [t for d in samples for t in d.split()]  # the default tokenizer
    v = vocab_size(samples)
    assert v == len(set(tokens))
    h = unigram_entropy(samples)
    if tokens:
        assert -1e-12 <= h <= math.log(v) + 1e-9
        counts = np.array(list(Counter(tokens).values()), dtype=float)
        p = counts / counts.sum()
        assert h == pytest.approx(-(p * np.log(p)).sum(), rel=1e-9, abs=1e-12)
    else:
        assert math.isnan(h)
    d2 = distinct_2(samples)
    assert math.isnan(d2) or 0 < d2 <= 1
    r = rare_recall(ref, samples)
    assert math.isnan(r) or 0 <= r <= 1
    if not math.isnan(r):
        assert rare_recall(ref, ref) == 1.0


def test_the_tokenizer_changes_the_values():
    docs = ["Word, word", "word word"]
    # whitespace (default): "Word," "word" | "word" "word": unigrams 2 distinct of 4
    assert distinct_n(docs, 1) == 0.5
    assert distinct_n(docs, 1, tokenizer="whitespace") == 0.5
    # words: "Word" "," "word" | "word" "word": 3 distinct of 5
    assert distinct_n(docs, 1, tokenizer="words") == 0.6
    assert distinct_n(docs, 1, tokenizer="lower:regex:\\w+") == 0.25  # "word" x 4
    # "word, word, word,": bigrams (word, word,) x2 | (word ,) x3 and (, word) x2
    assert distinct_2(["word, word, word,"]) == 0.5
    assert distinct_2(["word, word, word,"], tokenizer="words") == 0.4
    with pytest.raises(InvalidParameterError, match="did you mean 'words'"):
        distinct_n(docs, 1, tokenizer="word")


def test_registered_metrics_read_the_context_tokenizer():
    ref = ["Amen, amen. Selah, and amen again"]
    samples = ["Amen, amen. Amen, amen. Selah", "amen"]

    def ctx(**kw):
        return MetricContext("text", None, samples, ref, ref, None, np.random.default_rng(0), **kw)

    names = ["vocab_size", "distinct_2", "rare_recall", "ngram_diversity", "kl", "js"]
    default = compute(names, ctx())
    assert default == compute(names, ctx(tokenizer="whitespace"))
    assert default["vocab_size"] == 4  # Amen, amen. Selah amen
    words = compute(names, ctx(tokenizer="words"))
    assert words["vocab_size"] == 5  # Amen , amen . Selah
    assert all(words[n] != default[n] for n in names), (words, default)
    assert compute(["vocab_size"], ctx(tokenizer="lower:regex:[a-z]+"))["vocab_size"] == 2
    chars = compute(["vocab_size"], ctx(tokenizer=lambda s: list(s)))["vocab_size"]
    assert chars == len(set("".join(samples)))  # a callable tokenizer: characters
    with pytest.raises(InvalidParameterError, match="unknown tokenizer 'wrods'"):
        ctx(tokenizer="wrods")
