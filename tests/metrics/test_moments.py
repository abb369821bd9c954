"""Mean, variance and variance_ratio: functional forms, model forms and the generation-0 identity."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.gaussian import Gaussian
from modelcollapse.metrics import (
    MetricContext,
    compute,
    data_covariance,
    data_mean,
    data_variance,
    merge_moment_states,
    model_mean,
    model_variance,
    moment_state,
    variance_ratio,
)
from tests.metrics.fakes import FakeGaussian


def test_data_moments_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)) * [1, 2, 3] + [1, -1, 4]
    assert data_mean(x) == pytest.approx(x.mean(axis=0).mean(), rel=1e-12)
    assert data_variance(x) == pytest.approx(np.trace(np.cov(x.T, ddof=0)), rel=1e-12)
    assert data_variance(x, ddof=1) == pytest.approx(np.trace(np.cov(x.T, ddof=1)), rel=1e-12)
    np.testing.assert_allclose(data_covariance(x), np.cov(x.T, ddof=0), rtol=1e-12)
    # 1-D input is one column.
    assert data_variance(x[:, 0]) == pytest.approx(x[:, 0].var(), rel=1e-12)


def test_undefined_and_bad_input():
    assert np.isnan(data_variance([[1.0]], ddof=1))
    with pytest.raises(DataError, match="at least 1 row"):
        data_mean(np.zeros((0, 2)))
    with pytest.raises(DataError, match="NaN or inf in row 1"):
        data_variance([[0.0], [np.nan]])
    with pytest.raises(DataError, match="numeric"):
        data_mean(["a", "b"])
    with pytest.raises(DataError, match="shape"):
        data_mean(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidParameterError, match="ddof"):
        data_variance([[1.0], [2.0]], ddof=-1)
    with pytest.raises(DataError, match="same number of columns"):
        merge_moment_states(moment_state(np.ones((2, 2))), moment_state(np.ones((2, 3))))


def test_model_moments_metrics():
    model = FakeGaussian([1.0, 3.0], [[2.0, 0.5], [0.5, 4.0]])
    assert model_mean(model) == 2.0
    assert model_variance(model) == 6.0
    with pytest.raises(InvalidParameterError, match="moments"):
        model_variance(object())


@pytest.mark.parametrize("d", [1, 2, 5])
def test_variance_ratio_is_exactly_one_at_generation_zero(d):
    rng = np.random.default_rng(d)
    for _ in range(20):
        ref = rng.standard_normal((rng.integers(2, 60), d)) * rng.uniform(0.01, 100)
        model = Gaussian(estimator="mle").fit(ref)
        assert variance_ratio(model, ref) == 1.0


def test_variance_ratio_tracks_scale_and_degenerate_reference():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((100, 2))
    model = Gaussian(estimator="mle", scale=0.5).fit(ref)
    assert variance_ratio(model, ref) == pytest.approx(0.5, rel=1e-12)
    assert np.isnan(variance_ratio(model, np.ones((5, 2))))


def test_registered_numeric_metrics_with_real_gaussian():
    rng = np.random.default_rng(2)
    ref, held = rng.standard_normal((5000, 2)), rng.standard_normal((5000, 2))
    model = Gaussian().fit(ref)
    samples = model.sample(500, rng=rng)
    ctx = MetricContext("numeric", model, samples, ref, held, None, rng)
    out = compute(["mean", "variance", "variance_ratio", "w2", "nll", "tail_coverage"], ctx)
    assert out["variance_ratio"] == 1.0
    assert out["mean"] == pytest.approx(ref.mean(), rel=1e-12)
    assert out["variance"] == pytest.approx(data_variance(ref), rel=1e-12)
    assert out["nll"] == pytest.approx(-model.log_prob(held).mean(), rel=1e-12)
    assert 0 <= out["w2"] < 0.1  # the model is fitted on 5000 real points
    # ~100 tail points beyond the 98% Mahalanobis quantile; 95% of the true mass there is
    # inside the 99.9% HDR, so a correct model scores about 0.95.
    assert 0.85 <= out["tail_coverage"] <= 1.0


def test_nll_of_collapsed_gaussian_is_inf_not_an_error():
    # A constant column makes the fitted covariance singular (as with the digits' blank pixels):
    # held-out points off the model's support get +inf, matching the vectorised engine.
    rng = np.random.default_rng(3)
    ref = np.column_stack([rng.standard_normal(200), np.zeros(200)])
    model = Gaussian().fit(ref)
    off = np.column_stack([rng.standard_normal(50), np.full(50, 0.5)])
    ctx = MetricContext("numeric", model, model.sample(100, rng=rng), ref, off, None, rng)
    assert compute(["nll"], ctx)["nll"] == np.inf
