"""Streaming metrics: batched updates and merged shards equal one pass over all the data."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import (
    StreamingCategoryCounts,
    StreamingCategoryEntropy,
    StreamingDistinct2,
    StreamingDistinctN,
    StreamingMean,
    StreamingPerplexity,
    StreamingSupportSize,
    StreamingUnigramEntropy,
    StreamingVariance,
    StreamingVocabSize,
    category_counts,
    data_mean,
    data_variance,
    distinct_2,
    distinct_n,
    entropy,
    perplexity,
    support_size,
    unigram_entropy,
    vocab_size,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data, cuts):
    """Cut a sequence at the given (sorted, possibly repeated) positions: empty shards allowed."""
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def shard_and_merge(make, shards):
    metrics = []
    for shard in shards:
        m = make()
        m.update(shard)
        metrics.append(m)
    return type(metrics[0]).merged(metrics)


def close(a, b):
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


cuts = st.lists(st.integers(0, 10_000), max_size=5)


@SETTINGS
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(1, 60), st.integers(1, 4)),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    ),
    cuts=cuts,
)
def test_moments_merge_equals_one_pass(x, cuts):
    shards = split(x, cuts)
    assert close(shard_and_merge(StreamingMean, shards).compute(), data_mean(x))
    assert close(shard_and_merge(StreamingVariance, shards).compute(), data_variance(x))
    unbiased = shard_and_merge(lambda: StreamingVariance(ddof=1), shards).compute()
    assert close(unbiased, data_variance(x, ddof=1))


@SETTINGS
@given(x=st.lists(st.integers(0, 30), min_size=1, max_size=200), cuts=cuts)
def test_counts_merge_equals_one_pass(x, cuts):
    x = np.array(x, dtype=np.int64)
    shards = split(x, cuts)
    np.testing.assert_array_equal(
        shard_and_merge(StreamingCategoryCounts, shards).compute(), category_counts(x)
    )
    counts = category_counts(x)
    assert shard_and_merge(StreamingSupportSize, shards).compute() == support_size(counts)
    # Integer counts merge exactly, and entropy sums sorted terms: bit-identical.
    assert shard_and_merge(StreamingCategoryEntropy, shards).compute() == entropy(counts)


docs_strategy = st.lists(st.text(max_size=40), min_size=1, max_size=25)


@SETTINGS
@given(docs=docs_strategy, cuts=cuts)
def test_text_merge_equals_one_pass_on_arbitrary_unicode(docs, cuts):
    shards = split(docs, cuts)
    assert shard_and_merge(StreamingVocabSize, shards).compute() == vocab_size(docs)
    assert close(shard_and_merge(StreamingUnigramEntropy, shards).compute(), unigram_entropy(docs))
    assert close(shard_and_merge(StreamingDistinct2, shards).compute(), distinct_2(docs))
    tri = shard_and_merge(lambda: StreamingDistinctN(n=3), shards).compute()
    assert close(tri, distinct_n(docs, 3))


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(st.floats(-1e4, 0.0, allow_nan=False), st.integers(0, 500)),
        min_size=1,
        max_size=60,
    ),
    cuts=cuts,
)
def test_perplexity_merge_equals_one_pass(rows, cuts):
    lp = np.array([r[0] for r in rows])
    tc = np.array([r[1] for r in rows])
    if tc.sum() == 0:
        tc[0] = 1
    idx = split(np.arange(len(rows)), cuts)
    merged = shard_and_merge(StreamingPerplexity, [(lp[i], tc[i]) for i in idx]).compute()
    one = perplexity(lp, tc)
    assert merged == pytest.approx(one, rel=1e-9) or (math.isinf(merged) and math.isinf(one))


def test_batches_reset_and_merge_leave_shards_intact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 2))
    m = StreamingVariance()
    for part in np.array_split(x, 7):
        m.update(part)
    assert m.compute() == pytest.approx(data_variance(x), rel=1e-12)
    m.reset()
    with pytest.raises(DataError, match="at least 1 row"):
        m.compute()

    a = StreamingVocabSize().update(["a b c"])
    b = StreamingVocabSize().update(["c d"])
    before = copy.deepcopy(b.state)
    merged = StreamingVocabSize.merged([a, b])
    assert merged.compute() == 4
    assert a.compute() == 3 and b.state == before  # shards untouched by merged()
    a.merge(b)
    assert a.compute() == 4 and b.compute() == 2


def test_merge_refuses_other_metrics_and_settings():
    with pytest.raises(InvalidParameterError, match="same metric"):
        StreamingMean().merge(StreamingVariance())
    with pytest.raises(InvalidParameterError, match="different settings"):
        StreamingVariance(ddof=0).merge(StreamingVariance(ddof=1))
    with pytest.raises(InvalidParameterError, match="at least one shard"):
        StreamingMean.merged([])
    with pytest.raises(InvalidParameterError, match="ddof"):
        StreamingVariance(ddof=-1)
    with pytest.raises(InvalidParameterError, match="n_categories"):
        StreamingSupportSize(n_categories=0)


def test_empty_streams_are_errors_not_values():
    for cls in (StreamingMean, StreamingSupportSize, StreamingVocabSize, StreamingDistinct2):
        m = cls()
        m.update([])  # an idle shard is fine
        with pytest.raises(DataError):
            m.compute()
    with pytest.raises(DataError, match="at least 1 token"):
        StreamingPerplexity().update((np.array([]), np.array([]))).compute()
    with pytest.raises(DataError, match="log_probs, token_counts"):
        StreamingPerplexity().update(np.array([1.0]))
    with pytest.raises(DataError, match="single str"):
        StreamingVocabSize().update("not a list")
