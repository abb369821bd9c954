"""Self-BLEU: equal to NLTK's pairwise sentence_bleu (method 1) to 1e-9, edge cases included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import self_bleu, self_bleu_scores
from modelcollapse.metrics.functional.self_bleu import closest_other_lengths
from tests.metrics.references import nltk_self_bleu_scores


@pytest.mark.parametrize(
    ("seed", "tokenizer", "split"),
    [(0, "words", tokenize), (1, "words", tokenize), (2, "whitespace", str.split)],
)
def test_equals_nltk_on_random_kjv_subsets(seed, tokenizer, split):
    # NLTK scores token lists: ours gets the tokenizer that produced them.
    train, heldout = kjv_split()
    verses = [d.text for d in (*train, *heldout)]
    rng = np.random.default_rng(seed)
    docs = [verses[i] for i in rng.choice(len(verses), 60, replace=False)]
    theirs = nltk_self_bleu_scores([split(d) for d in docs])
    ours = self_bleu_scores(docs, tokenizer=tokenizer)
    assert np.abs(ours - theirs).max() < 1e-9
    assert abs(self_bleu(docs, tokenizer=tokenizer) - theirs.mean()) < 1e-9


# Small alphabets so documents share n-grams; lists of tokens joined by spaces.
corpora = st.lists(st.lists(st.sampled_from("abc"), max_size=10), min_size=2, max_size=8)


@settings(max_examples=150, deadline=None)
@given(tokenized=corpora, max_n=st.integers(1, 4))
@example(tokenized=[[], []], max_n=4)  # only empty documents
@example(tokenized=[["a"], ["a"]], max_n=4)  # 1-token identical documents
@example(tokenized=[["a", "b", "c"], ["a", "b", "c"], []], max_n=4)  # identical + empty
@example(tokenized=[["a"], ["b"]], max_n=4)  # no unigram match
@example(tokenized=[["a", "b"], ["a", "b", "c", "a"], ["c", "c", "c", "c", "c", "c"]], max_n=4)
def test_equals_nltk_on_generated_corpora(tokenized, max_n):
    docs = [" ".join(toks) for toks in tokenized]
    ours = self_bleu_scores(docs, max_n, "whitespace")
    theirs = nltk_self_bleu_scores(tokenized, max_n)
    assert np.abs(ours - theirs).max() < 1e-9
    assert ((ours >= 0) & (ours <= 1 + 1e-12)).all()


def test_smoothing_epsilon_and_hand_values():
    # Identical documents are a perfect match: brevity penalty 1 (the closest other length is
    # the document's own), every precision 1.
    assert self_bleu(["a b c d e", "a b c d e"]) == pytest.approx(1.0)
    assert self_bleu(["a", "b"]) == 0.0  # no unigram in common
    tokenized = [["a", "b", "x"], ["a", "b", "y", "z"], ["q"]]
    docs = [" ".join(t) for t in tokenized]
    for eps in (0.1, 0.5):
        theirs = nltk_self_bleu_scores(tokenized, epsilon=eps)
        assert np.abs(self_bleu_scores(docs, epsilon=eps) - theirs).max() < 1e-12
    # Hand: "a b x" vs refs: p1 = 2/3, p2 = 1/2, p3 = 0.1/1, p4 = 0.1/1 (method 1), the closest
    # other length is 4 > 3, so BP = exp(1 - 4/3).
    want = math.exp(1 - 4 / 3) * math.exp(
        (math.log(2 / 3) + math.log(1 / 2) + 2 * math.log(0.1)) / 4
    )
    assert self_bleu_scores(docs)[0] == pytest.approx(want, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(0, 12), min_size=2, max_size=12))
def test_closest_other_length_is_nltks(lengths):
    from nltk.translate.bleu_score import closest_ref_length

    refs = [["t"] * n for n in lengths]
    want = [closest_ref_length(refs[:i] + refs[i + 1 :], n) for i, n in enumerate(lengths)]
    assert closest_other_lengths(np.array(lengths)).tolist() == want


def test_ties_go_to_the_shorter_reference():
    assert closest_other_lengths(np.array([2, 4, 6])).tolist() == [4, 2, 4]
    assert closest_other_lengths(np.array([5, 5, 1])).tolist() == [5, 5, 5]


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.text(max_size=40), min_size=2, max_size=10))
def test_arbitrary_unicode_stays_in_range(docs):
    scores = self_bleu_scores(docs)
    assert scores.shape == (len(docs),)
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1 + 1e-12).all()


def test_bad_input():
    with pytest.raises(DataError, match="at least 2 documents"):
        self_bleu(["only one"])
    with pytest.raises(DataError, match="at least 1 document"):
        self_bleu([])
    with pytest.raises(DataError, match="single str"):
        self_bleu("a b c")
    with pytest.raises(InvalidParameterError, match="epsilon"):
        self_bleu(["a", "b"], epsilon=0)
    with pytest.raises(InvalidParameterError, match="max_n"):
        self_bleu(["a", "b"], max_n=0)
    with pytest.raises(InvalidParameterError, match="did you mean 'whitespace'"):
        self_bleu(["a", "b"], tokenizer="whitspace")
