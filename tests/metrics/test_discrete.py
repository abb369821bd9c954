"""Support size, entropy, lost mass and KL of categorical distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.categorical import Categorical
from modelcollapse.metrics import (
    MetricContext,
    category_counts,
    compute,
    entropy,
    kl_divergence,
    lost_mass,
    merge_counts,
    support_size,
)
from tests.metrics.fakes import FakeCategorical


def test_definitions_on_a_small_example():
    model = np.array([0.5, 0.5, 0.0, 0.0])
    real = np.array([0.4, 0.3, 0.2, 0.1])
    assert support_size(model) == 2
    assert entropy(model) == pytest.approx(math.log(2), rel=1e-15)
    assert lost_mass(model, real) == pytest.approx(0.3, rel=1e-12)
    want = 0.5 * math.log(0.5 / 0.4) + 0.5 * math.log(0.5 / 0.3)
    assert kl_divergence(model, real) == pytest.approx(want, rel=1e-12)
    # The other direction would be infinite: we measure KL(model || real), which stays finite.
    assert math.isinf(scipy_entropy(real, model))


def test_kl_infinite_when_model_has_mass_outside_real_support_and_zero_on_equal():
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    assert kl_divergence([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_shorter_vectors_are_padded_with_zero_probability():
    assert lost_mass([1.0], [0.5, 0.25, 0.25]) == pytest.approx(0.5)
    assert kl_divergence([1.0], [0.5, 0.5]) == pytest.approx(math.log(2))
    np.testing.assert_array_equal(merge_counts(np.array([1, 2]), np.array([3])), [4, 2])
    np.testing.assert_array_equal(category_counts([0, 3, 3], n_categories=5), [1, 0, 0, 2, 0])


@settings(max_examples=100, deadline=None)
@given(
    p=st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=20),
    q=st.lists(st.floats(1e-3, 1e3, allow_nan=False), min_size=1, max_size=20),
)
def test_against_scipy(p, q):
    if sum(p) == 0:
        p[0] = 1.0
    k = max(len(p), len(q))
    pp, qq = np.pad(p, (0, k - len(p))), np.pad(q, (0, k - len(q)), constant_values=1.0)
    assert entropy(p) == pytest.approx(scipy_entropy(p), rel=1e-9, abs=1e-12)
    assert kl_divergence(pp, qq) == pytest.approx(scipy_entropy(pp, qq), rel=1e-7, abs=1e-9)
    assert 0 <= lost_mass(p, q) <= 1
    assert 0 <= entropy(p) <= math.log(len(p)) + 1e-12


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "non-empty"),
        ([0.0, 0.0], "positive total"),
        ([0.5, -0.1], "non-negative"),
        ([np.nan, 1.0], "finite"),
        ([[0.5, 0.5]], "1-D"),
    ],
)
def test_bad_probabilities(bad, match):
    with pytest.raises(DataError, match=match):
        entropy(bad)


def test_bad_categories():
    with pytest.raises(DataError, match="non-negative"):
        category_counts([1, -2])
    with pytest.raises(DataError, match="integer"):
        category_counts([0.5])
    with pytest.raises(DataError, match="1-D"):
        category_counts(np.zeros((2, 2), dtype=int))


def test_registered_metrics_use_truth_else_reference_frequencies():
    model = FakeCategorical([0.5, 0.5, 0.0])
    ref = np.array([0, 1, 2, 2])
    rng = np.random.default_rng(0)
    names = ["support_size", "entropy", "lost_mass", "kl"]
    with_truth = compute(
        names,
        MetricContext(
            "discrete", model, None, ref, ref, {"probs": np.array([0.25, 0.25, 0.5])}, rng
        ),
    )
    empirical = compute(names, MetricContext("discrete", model, None, ref, ref, None, rng))
    assert with_truth == empirical  # the reference frequencies are the truth here
    assert with_truth["support_size"] == 2.0
    assert with_truth["lost_mass"] == 0.5
    assert with_truth["kl"] == pytest.approx(math.log(2))
    # A reference category beyond the model's K is mass the model has lost.
    out = compute(
        ["lost_mass"], MetricContext("discrete", model, None, np.array([0, 7]), None, None, rng)
    )
    assert out["lost_mass"] == 0.5


def test_with_the_real_categorical_generator():
    rng = np.random.default_rng(3)
    truth = np.array([0.7, 0.2, 0.05, 0.04, 0.01])
    ref = rng.choice(5, size=60, p=truth)
    model = Categorical().fit(ref)
    ctx = MetricContext(
        "discrete", model, model.sample(60, rng=rng), ref, None, {"probs": truth}, rng
    )
    out = compute(["support_size", "entropy", "lost_mass", "kl"], ctx)
    assert out["support_size"] == len(np.unique(ref))
    assert out["entropy"] == pytest.approx(scipy_entropy(np.bincount(ref, minlength=5)))
    assert out["lost_mass"] == pytest.approx(truth[np.bincount(ref, minlength=5) == 0].sum())
    with pytest.raises(InvalidParameterError, match="probs_"):
        compute(["entropy"], MetricContext("discrete", object(), None, ref, None, None, rng))
