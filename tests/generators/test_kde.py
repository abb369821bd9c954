"""KDE generator against scipy.stats.gaussian_kde and large-sample moments."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import gaussian_kde

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators import kde as kde_module
from modelcollapse.generators.kde import KDE


@pytest.fixture
def x() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 2)) @ np.array([[1.0, 0.0], [0.8, 0.5]]) + [1.0, -2.0]


@pytest.mark.parametrize("bandwidth", ["scott", "silverman", 0.4])
def test_log_prob_equals_scipy(x: np.ndarray, bandwidth: object) -> None:
    k = KDE(bandwidth=bandwidth).fit(x)
    ref = gaussian_kde(x.T, bw_method=bandwidth)
    np.testing.assert_allclose(k.bandwidth_, ref.factor)
    np.testing.assert_allclose(k.kernel_cov_, ref.covariance, rtol=1e-12)
    q = np.random.default_rng(1).normal(scale=2, size=(40, 2))
    np.testing.assert_allclose(k.log_prob(q), ref.logpdf(q.T), rtol=1e-8)


def test_log_prob_accurate_far_from_origin(x: np.ndarray) -> None:
    shifted = x * 1e-3 + 1e7  # tiny spread, huge offset: naive distance expansion cancels
    q = shifted[:10] + 1e-4
    ref = gaussian_kde(shifted.T)
    np.testing.assert_allclose(KDE().fit(shifted).log_prob(q), ref.logpdf(q.T), rtol=1e-6)


def test_d1_and_scale_equal_scipy_with_scaled_factor() -> None:
    x = np.random.default_rng(2).exponential(size=(60, 1))
    k = KDE(bandwidth=0.5, scale=4.0).fit(x)  # kernel std doubles: same as factor 1.0
    ref = gaussian_kde(x[:, 0], bw_method=1.0)
    q = np.linspace(-1, 6, 15)[:, None]
    np.testing.assert_allclose(k.log_prob(q), ref.logpdf(q[:, 0]), rtol=1e-8)


def test_log_prob_is_blocked_without_changing_values(
    x: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = np.random.default_rng(3).normal(size=(25, 2))
    k = KDE().fit(x)
    full = k.log_prob(q)
    monkeypatch.setattr(kde_module, "_BLOCK", 7 * len(x))  # 7 query rows per block
    np.testing.assert_allclose(k.log_prob(q), full, rtol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_moments_match_large_sample(x: np.ndarray, scale: float) -> None:
    k = KDE(bandwidth=0.6, scale=scale).fit(x)
    mean, cov = k.moments()
    np.testing.assert_allclose(mean, x.mean(axis=0))
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, ddof=0) + scale * k.kernel_cov_)
    s = k.sample(200_000, rng=np.random.default_rng(4))
    np.testing.assert_allclose(s.mean(axis=0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(s, rowvar=False), cov, atol=0.03)


def test_bad_input(x: np.ndarray) -> None:
    with pytest.raises(InvalidParameterError, match="bandwidth"):
        KDE(bandwidth="wide").fit(x)
    with pytest.raises(InvalidParameterError, match="bandwidth"):
        KDE(bandwidth=-1.0).fit(x)
    with pytest.raises(InvalidParameterError, match="scale"):
        KDE(scale=0).fit(x)
    with pytest.raises(DataError, match="at least 2"):
        KDE().fit(x[:1])
    with pytest.raises(DataError, match="finite"):
        KDE().fit(np.array([[1.0], [np.inf]]))
    k = KDE().fit(x)
    with pytest.raises(DataError, match="expected 2 column"):
        k.log_prob(np.zeros((2, 1)))
    with pytest.raises(DataError, match="positive definite"):
        KDE().fit(np.ones((5, 2))).log_prob(np.zeros((1, 2)))
