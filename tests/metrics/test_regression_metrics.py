"""Test error of linear models: excess risk with a known truth, held-out MSE otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.linear import LinearRegression
from modelcollapse.metrics import MetricContext, compute, excess_risk, prediction_mse, test_error
from tests.metrics.fakes import FakeLinear


def test_excess_risk_definition_and_batching():
    assert excess_risk([1.0, 2.0], 0.0, [0.0, 0.0]) == 5.0
    assert excess_risk([1.0, 2.0], 0.5, [1.0, 2.0], 0.0) == 0.25
    cov = np.array([[2.0, 0.0], [0.0, 1.0]])
    assert excess_risk([1.0, 1.0], 0.0, [0.0, 0.0], cov=cov) == 3.0
    batch = excess_risk(np.array([[1.0, 0.0], [0.0, 3.0]]), np.zeros(2), np.zeros(2))
    np.testing.assert_array_equal(batch, [1.0, 9.0])


def test_excess_risk_matches_monte_carlo_prediction_error():
    rng = np.random.default_rng(0)
    w_star, w_hat = rng.standard_normal(3), rng.standard_normal(3)
    x = rng.standard_normal((400_000, 3))
    mc = np.mean((x @ (w_hat - w_star) + 0.3) ** 2)
    assert excess_risk(w_hat, 0.3, w_star) == pytest.approx(mc, rel=0.02)


def test_test_error_with_and_without_truth():
    model = FakeLinear([1.0, -1.0], intercept=0.5)
    truth = {"coef": np.array([1.0, 0.0]), "noise": np.array(1.0)}
    assert test_error(model, None, truth) == pytest.approx(1.0 + 0.25)
    held = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])  # predictions 1.5 and -0.5
    assert test_error(model, held, None) == pytest.approx((0.25 + 0.25) / 2)
    assert prediction_mse(model.coef_, model.intercept_, held) == test_error(model, held)
    with pytest.raises(DataError, match="columns"):
        test_error(model, np.zeros((2, 2)))
    with pytest.raises(DataError, match="neither"):
        test_error(model)
    with pytest.raises(InvalidParameterError, match="coef_"):
        test_error(object(), held)


def test_registered_metric_with_the_real_linear_generator():
    rng = np.random.default_rng(1)
    w = np.array([1.0, -2.0, 0.5])
    x = rng.standard_normal((200, 3))
    data = np.column_stack([x, x @ w + 0.1 * rng.standard_normal(200)])
    model = LinearRegression().fit(data)
    ctx = MetricContext(
        "regression", model, None, data, data[:50], {"coef": w, "noise": np.array(0.1)}, rng
    )
    got = compute(["test_error"], ctx)["test_error"]
    assert got == pytest.approx(np.sum((model.coef_ - w) ** 2) + model.intercept_**2)
    assert got < 1e-3
