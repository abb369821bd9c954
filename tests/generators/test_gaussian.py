"""Gaussian generator against independent computations (numpy, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.gaussian import Gaussian, cov_factor, mvn_log_prob


@pytest.fixture
def x() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(50, 3)) @ np.array([[1.0, 0, 0], [0.5, 2.0, 0], [0.1, -0.3, 0.7]]) + 1.0


@pytest.mark.parametrize(("estimator", "ddof"), [("mle", 0), ("unbiased", 1)])
def test_fit_equals_numpy(x: np.ndarray, estimator: str, ddof: int) -> None:
    g = Gaussian(estimator=estimator).fit(x)
    np.testing.assert_allclose(g.mean_, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(g.cov_, np.cov(x, rowvar=False, ddof=ddof), rtol=1e-12)


def test_reg_and_scale(x: np.ndarray) -> None:
    g = Gaussian(reg=0.25, scale=3.0).fit(x)
    np.testing.assert_allclose(g.cov_, np.cov(x, rowvar=False, ddof=0) + 0.25 * np.eye(3))
    mean, cov = g.moments()
    np.testing.assert_allclose(cov, 3.0 * g.cov_)
    np.testing.assert_allclose(mean, g.mean_)


@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_log_prob_equals_scipy(x: np.ndarray, scale: float) -> None:
    g = Gaussian(scale=scale).fit(x)
    q = np.random.default_rng(1).normal(size=(20, 3))
    want = multivariate_normal(g.mean_, scale * g.cov_).logpdf(q)
    np.testing.assert_allclose(g.log_prob(q), want, rtol=1e-10)


def test_d1_log_prob_and_sample_shape() -> None:
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(40, 1))
    g = Gaussian(estimator="unbiased").fit(x)
    assert g.cov_.shape == (1, 1)
    q = np.linspace(-2, 8, 7)[:, None]
    want = multivariate_normal(g.mean_[0], g.cov_[0, 0]).logpdf(q[:, 0])
    np.testing.assert_allclose(g.log_prob(q), want, rtol=1e-10)
    assert g.sample(5, rng=np.random.default_rng(0)).shape == (5, 1)


def test_sample_moments_match(x: np.ndarray) -> None:
    g = Gaussian(scale=0.5).fit(x)
    s = g.sample(200_000, rng=np.random.default_rng(3))
    mean, cov = g.moments()
    np.testing.assert_allclose(s.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(s, rowvar=False), cov, atol=0.03)


def test_singular_covariance_samples_but_log_prob_says_why() -> None:
    x = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])  # fully collapsed data
    g = Gaussian().fit(x)
    np.testing.assert_array_equal(
        g.sample(4, rng=np.random.default_rng(0)), np.tile([1.0, 2.0], (4, 1))
    )
    with pytest.raises(DataError, match="positive definite"):
        g.log_prob(x)
    assert np.isfinite(Gaussian(reg=1e-3).fit(x).log_prob(x)).all()


def test_cov_factor_of_rank_deficient_matrix() -> None:
    v = np.array([[1.0], [2.0], [-1.0]])
    cov = v @ v.T
    f = cov_factor(cov)
    np.testing.assert_allclose(f @ f.T, cov, atol=1e-12)
    with pytest.raises(DataError):
        mvn_log_prob(np.zeros((1, 3)), np.zeros(3), cov)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"estimator": "median"}, "estimator"),
        ({"scale": 0.0}, "scale"),
        ({"reg": -1.0}, "reg"),
        ({"scale": float("nan")}, "scale"),
        ({"reg": "big"}, "reg"),
    ],
)
def test_bad_hyperparameters(x: np.ndarray, params: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        Gaussian(**params).fit(x)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.ones(5), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        (np.empty((0, 3)), "at least 1 row"),
        (np.array([[1.0, np.nan]]), "finite"),
        (np.array([[1.0, np.inf]]), "finite"),
        ([["a", "b"]], "numeric"),
        ([[1.0, 2.0], [3.0]], "numeric array"),
        (None, "numeric array"),
    ],
)
def test_bad_data(data: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Gaussian().fit(data)


def test_unbiased_needs_two_rows_and_log_prob_checks_width(x: np.ndarray) -> None:
    with pytest.raises(DataError, match="at least 2"):
        Gaussian(estimator="unbiased").fit(x[:1])
    g = Gaussian().fit(x)
    with pytest.raises(DataError, match="expected 3 column"):
        g.log_prob(np.zeros((4, 2)))
    assert g.log_prob(np.empty((0, 3))).shape == (0,)
