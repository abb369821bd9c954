"""Gaussian mixture generator against scikit-learn and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture as SkGMM

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.gmm import GaussianMixture


@pytest.fixture
def x() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate(
        [
            rng.normal([-4, 0], [1.0, 0.5], size=(150, 2)),
            rng.normal([3, 2], [0.5, 1.5], size=(100, 2)),
        ]
    )


def sk_twin(x: np.ndarray, cov_type: str, fit_seed: int) -> SkGMM:
    """scikit-learn fitted with the EM seed our fit draws from its rng."""
    seed = int(np.random.default_rng(fit_seed).integers(0, 2**32 - 1))
    return SkGMM(n_components=2, covariance_type=cov_type, random_state=seed).fit(x)


@pytest.mark.parametrize("cov_type", ["full", "diag"])
def test_params_and_log_prob_match_sklearn(x: np.ndarray, cov_type: str) -> None:
    g = GaussianMixture(n_components=2, covariance_type=cov_type).fit(
        x, rng=np.random.default_rng(4)
    )
    sk = sk_twin(x, cov_type, 4)
    np.testing.assert_allclose(g.weights_, sk.weights_)
    np.testing.assert_allclose(g.means_, sk.means_)
    want_cov = (
        sk.covariances_ if cov_type == "full" else np.stack([np.diag(c) for c in sk.covariances_])
    )
    np.testing.assert_allclose(g.covariances_, want_cov)
    q = np.random.default_rng(1).normal(scale=4, size=(30, 2))
    np.testing.assert_allclose(g.log_prob(q), sk.score_samples(q), rtol=1e-9)


def test_scaled_log_prob_equals_scipy_mixture(x: np.ndarray) -> None:
    g = GaussianMixture(n_components=2, scale=0.4).fit(x, rng=np.random.default_rng(0))
    q = np.random.default_rng(2).normal(scale=3, size=(25, 2))
    comps = [
        np.log(w) + multivariate_normal(m, 0.4 * c).logpdf(q)
        for w, m, c in zip(g.weights_, g.means_, g.covariances_, strict=True)
    ]
    np.testing.assert_allclose(g.log_prob(q), logsumexp(comps, axis=0), rtol=1e-10)


def test_sampling_uses_the_given_rng(x: np.ndarray) -> None:
    # Regression test for the sklearn pitfall: GaussianMixture.sample reuses self.random_state,
    # so every "generation" would get the same draws.
    g = GaussianMixture(n_components=2).fit(x, rng=np.random.default_rng(0))
    a = g.sample(100, rng=np.random.default_rng(1))
    b = g.sample(100, rng=np.random.default_rng(2))
    assert not np.array_equal(a, b)
    shared = np.random.default_rng(3)
    assert not np.array_equal(g.sample(100, rng=shared), g.sample(100, rng=shared))
    np.testing.assert_array_equal(a, g.sample(100, rng=np.random.default_rng(1)))


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_sample_statistics_match_moments(x: np.ndarray, scale: float) -> None:
    g = GaussianMixture(n_components=2, scale=scale).fit(x, rng=np.random.default_rng(0))
    s = g.sample(200_000, rng=np.random.default_rng(5))
    mean, cov = g.moments()
    np.testing.assert_allclose(s.mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(s, rowvar=False), cov, atol=0.08)
    comp_share = np.bincount(np.argmin(np.abs(s[:, :1] - g.means_[:, 0]), axis=1)) / len(s)
    np.testing.assert_allclose(np.sort(comp_share), np.sort(g.weights_), atol=0.02)


def test_moments_equal_direct_formula(x: np.ndarray) -> None:
    g = GaussianMixture(n_components=2).fit(x, rng=np.random.default_rng(0))
    mean, cov = g.moments()
    want_mean = sum(w * m for w, m in zip(g.weights_, g.means_, strict=True))
    want_cov = sum(
        w * (c + np.outer(m - want_mean, m - want_mean))
        for w, m, c in zip(g.weights_, g.means_, g.covariances_, strict=True)
    )
    np.testing.assert_allclose(mean, want_mean)
    np.testing.assert_allclose(cov, want_cov)


def test_bad_input(x: np.ndarray) -> None:
    with pytest.raises(DataError, match="n_components=5"):
        GaussianMixture(n_components=5).fit(x[:3], rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="rng"):
        GaussianMixture().fit(x)
    with pytest.raises(InvalidParameterError, match="covariance_type"):
        GaussianMixture(covariance_type="spherical").fit(x, rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="n_components"):
        GaussianMixture(n_components=0).fit(x, rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="finite"):
        GaussianMixture().fit(np.array([[np.nan, 1.0]] * 5), rng=np.random.default_rng(0))
    g = GaussianMixture().fit(x, rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="expected 2 column"):
        g.log_prob(np.zeros((3, 3)))


def test_collapsed_data_still_fits_and_samples() -> None:
    # Duplicated points are common late in a collapse loop; reg_covar keeps EM well defined.
    x = np.repeat(np.array([[0.0, 1.0], [2.0, 2.0]]), 10, axis=0)
    g = GaussianMixture(n_components=2).fit(x, rng=np.random.default_rng(0))
    assert np.isfinite(g.sample(10, rng=np.random.default_rng(0))).all()
    assert np.isfinite(g.log_prob(x)).all()
