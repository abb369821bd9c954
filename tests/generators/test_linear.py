"""Linear regression on a fixed design against numpy least squares."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.linear import LinearRegression


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    return np.column_stack([x, x @ [1.0, -2.0, 0.5] + 1.5 + 0.2 * rng.normal(size=40)])


def test_ols_equals_lstsq(data: np.ndarray) -> None:
    x, y = data[:, :-1], data[:, -1]
    m = LinearRegression().fit(data)
    want, *_ = np.linalg.lstsq(x, y, rcond=None)
    np.testing.assert_allclose(m.coef_, want, rtol=1e-12)
    assert m.intercept_ == 0.0
    resid = y - x @ want
    np.testing.assert_allclose(m.noise_, np.sqrt(resid @ resid / (40 - 3)))


def test_intercept_and_known_noise(data: np.ndarray) -> None:
    x, y = data[:, :-1], data[:, -1]
    m = LinearRegression(fit_intercept=True, noise=0.2).fit(data)
    want, *_ = np.linalg.lstsq(np.column_stack([x, np.ones(40)]), y, rcond=None)
    np.testing.assert_allclose(np.append(m.coef_, m.intercept_), want, rtol=1e-12)
    assert m.noise_ == 0.2
    np.testing.assert_array_equal(m.X_, x)


def test_relabels_the_fixed_design_cyclically(data: np.ndarray) -> None:
    m = LinearRegression(noise=0.3).fit(data)
    s = m.sample(100, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(s[:, :-1], data[np.arange(100) % 40, :-1])
    # the labels are the fit's predictions plus noise_ * N(0, 1) from the given rng
    eps = np.random.default_rng(1).standard_normal(100)
    np.testing.assert_allclose(s[:, -1], s[:, :-1] @ m.coef_ + 0.3 * eps)


def test_accumulated_pool_keeps_whole_design(data: np.ndarray) -> None:
    pool = np.concatenate(
        [data, LinearRegression().fit(data).sample(40, rng=np.random.default_rng(2))]
    )
    m = LinearRegression().fit(pool)
    assert m.X_.shape == (80, 3)
    np.testing.assert_array_equal(m.sample(80, rng=np.random.default_rng(3))[:, :-1], pool[:, :-1])


def test_log_prob_is_gaussian_in_y(data: np.ndarray) -> None:
    m = LinearRegression(fit_intercept=True).fit(data)
    mu = m.predict(data[:, :-1])
    np.testing.assert_allclose(m.log_prob(data), norm(mu, m.noise_).logpdf(data[:, -1]), rtol=1e-12)


def test_bad_input(data: np.ndarray) -> None:
    with pytest.raises(DataError, match="at least 2 column"):
        LinearRegression().fit(data[:, :1])
    with pytest.raises(DataError, match="noise"):
        LinearRegression().fit(data[:3])  # 3 rows, 3 parameters: noise not estimable
    assert LinearRegression(noise=1.0).fit(data[:3]).noise_ == 1.0
    with pytest.raises(DataError, match="finite"):
        LinearRegression().fit(np.where(np.eye(40, 4) > 0, np.nan, data))
    with pytest.raises(InvalidParameterError, match="noise"):
        LinearRegression(noise=-1.0).fit(data)
    with pytest.raises(InvalidParameterError, match="fit_intercept"):
        LinearRegression(fit_intercept="yes").fit(data)
    m = LinearRegression().fit(data)
    with pytest.raises(DataError, match="expected 4 column"):
        m.log_prob(data[:, :3])
    with pytest.raises(InvalidParameterError, match="noise std > 0"):
        LinearRegression(noise=0.0).fit(data).log_prob(data)
