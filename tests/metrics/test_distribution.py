"""KL, Jensen-Shannon and Zipf exponent of unigram distributions against the reference."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import (
    StreamingUnigramJS,
    StreamingUnigramKL,
    StreamingZipfExponent,
    unigram_js,
    unigram_kl,
    zipf_exponent,
    zipf_from_counts,
)
from tests.metrics.test_streaming import close, shard_and_merge, split


def test_kl_hand_computed():
    # Union {a, b, c}; candidate (2/3, 1/3, 0); reference counts (1, 1, 1) + 0.5 -> 1/3 each.
    assert unigram_kl(["a a b"], ["a b c"]) == pytest.approx(2 / 3 * math.log(2), rel=1e-12)
    # Union {a, b, z}: the reference "a b b" smoothed is (1.5, 2.5, 0.5) / 4.5, so the
    # candidate word "z" that the reference never uses costs a finite ln((1/3) / (0.5/4.5)).
    assert unigram_kl(["a b z"], ["a b b"]) == pytest.approx(
        (math.log(3 / 1.5) + math.log(3 / 2.5) + math.log(3 / 0.5)) / 3 + math.log(4.5 / 9),
        rel=1e-12,
    )
    assert unigram_kl(["x y"], ["x y"]) == pytest.approx(0.0, abs=1e-15)
    assert unigram_kl(["a"], ["b"], smoothing=1.0) == pytest.approx(math.log(3 / 1))
    with pytest.raises(InvalidParameterError, match="smoothing"):
        unigram_kl(["a"], ["a"], smoothing=0)


def test_js_hand_computed_and_bounded():
    assert unigram_js(["a"], ["b"]) == pytest.approx(math.log(2))
    assert unigram_js(["a b"], ["b a"]) == 0.0
    assert math.isnan(unigram_js([""], ["a"]))
    assert math.isnan(unigram_kl(["a"], [" "]))


@settings(max_examples=80, deadline=None)
@given(
    cand=st.lists(st.text(alphabet="abcd .", max_size=30), min_size=1, max_size=8),
    ref=st.lists(st.text(alphabet="abce ,", max_size=30), min_size=1, max_size=8),
)
def test_agree_with_scipy(cand, ref):
    c, r = (
        Counter(t for d in cand for t in tokenize(d)),
        Counter(t for d in ref for t in tokenize(d)),
    )
    kl, js = unigram_kl(cand, ref, tokenizer="words"), unigram_js(cand, ref, tokenizer="words")
    if not c or not r:
        assert math.isnan(kl) and math.isnan(js)
        return
    vocab = sorted(c.keys() | r.keys())
    p = np.array([c[w] for w in vocab], float)
    q = np.array([r[w] for w in vocab], float)
    assert js == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-12)
    assert 0 <= js <= math.log(2)
    q_smooth = (q + 0.5) / (q.sum() + 0.5 * len(vocab))
    assert kl == pytest.approx(scipy_entropy(p / p.sum(), q_smooth), rel=1e-9, abs=1e-12)


def test_zipf_exponent_recovers_a_power_law():
    for s in (0.8, 1.0, 1.7):
        counts = {f"w{r}": r**-s for r in range(1, 2001)}
        assert zipf_from_counts(counts) == pytest.approx(s, rel=1e-12)
    # Only the top max_rank ranks are fitted: a flat tail beyond them changes nothing.
    counts = {f"w{r}": r**-1.0 for r in range(1, 11)} | {f"t{i}": 1e-6 for i in range(50)}
    assert zipf_from_counts(counts, max_rank=10) == pytest.approx(1.0)
    assert math.isnan(zipf_from_counts({"a": 3}))
    assert zipf_exponent(["a b b"]) == pytest.approx(math.log(2) / math.log(2))
    with pytest.raises(InvalidParameterError, match="max_rank"):
        zipf_exponent(["a b"], max_rank=1)


def test_kjv_is_near_zipf_and_a_held_out_split_is_close():
    train, heldout = kjv_split()
    ref = [d.text for d in train[:3000]]
    cand = [d.text for d in heldout[:1500]]
    assert 0.8 < zipf_exponent(ref) < 1.5
    collapsed = cand[:20] * 75  # same size, 20 distinct verses
    assert unigram_js(cand, ref) < unigram_js(collapsed, ref)
    assert unigram_kl(cand, ref) < unigram_kl(collapsed, ref)


docs_strategy = st.lists(st.text(max_size=40), min_size=1, max_size=16)


@settings(max_examples=40, deadline=None)
@given(cand=docs_strategy, ref=docs_strategy, cuts=st.lists(st.integers(0, 20), max_size=3))
def test_streaming_merges_exactly(cand, ref, cuts):
    shards = [(c, []) for c in split(cand, cuts)] + [([], r) for r in split(ref, cuts)]
    # Sorted-term sums: merged states give bit-identical values.
    kl = shard_and_merge(StreamingUnigramKL, shards).compute()
    js = shard_and_merge(StreamingUnigramJS, shards).compute()
    assert close(kl, unigram_kl(cand, ref)) and close(js, unigram_js(cand, ref))
    zipf = shard_and_merge(StreamingZipfExponent, split(cand, cuts)).compute()
    assert close(zipf, zipf_exponent(cand))


def test_streaming_errors():
    m = StreamingUnigramJS()
    with pytest.raises(DataError, match="candidate_docs, reference_docs"):
        m.update(["a"])
    m.update((["a"], []))
    with pytest.raises(DataError, match="1 candidate and 1 reference"):
        m.compute()
    with pytest.raises(InvalidParameterError, match="different settings"):
        StreamingUnigramKL(smoothing=1.0).merge(StreamingUnigramKL())
    with pytest.raises(DataError, match="at least 1 document"):
        StreamingZipfExponent().compute()
