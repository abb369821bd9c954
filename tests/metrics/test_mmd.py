"""MMD²_u: equal to a direct full-matrix computation, unbiased, median heuristic, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist, pdist

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import median_heuristic, mmd


def direct_mmd2u(x, y, sigma):
    kxx = np.exp(-((cdist(x, x) / sigma) ** 2) / 2)
    kyy = np.exp(-((cdist(y, y) / sigma) ** 2) / 2)
    kxy = np.exp(-((cdist(x, y) / sigma) ** 2) / 2)
    m, n = len(x), len(y)
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 5000])
def test_equals_direct_computation(chunk_size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((83, 4))
    y = rng.standard_normal((61, 4)) * 1.2 + 0.3
    sigma = float(np.median(pdist(np.vstack([x, y]))))
    assert median_heuristic(x, y) == sigma
    ours = mmd(x, y, chunk_size=chunk_size)
    assert ours == pytest.approx(direct_mmd2u(x, y, sigma), rel=1e-10, abs=1e-13)
    assert mmd(x, y, bandwidth=0.7, chunk_size=chunk_size) == pytest.approx(
        direct_mmd2u(x, y, 0.7), rel=1e-10, abs=1e-13
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=arrays(np.float64, st.tuples(st.integers(2, 12), st.just(2)), elements=st.floats(-1e3, 1e3)),
    y=arrays(np.float64, st.tuples(st.integers(2, 12), st.just(2)), elements=st.floats(-1e3, 1e3)),
    chunk=st.integers(1, 8),
)
def test_any_small_input_equals_direct(x, y, chunk):
    # Duplicates, constant samples, far-apart points and tiny scales (σ ~ 1e-160) included.
    # With the median heuristic MMD² is scale-free: the reference works on data scaled to
    # max |value| = 1, where squares of tiny values do not fall into subnormals.
    s = max(np.abs(x).max(), np.abs(y).max()) or 1.0
    sigma = median_heuristic(x / s, y / s)
    assert sigma > 0
    expected = direct_mmd2u(x / s, y / s, sigma)
    assert mmd(x, y, chunk_size=chunk) == pytest.approx(expected, abs=1e-9)


def test_unbiased_against_the_gaussian_closed_form():
    # P = N(0, I), Q = N(μ, I) in d = 2 with σ = 1: E k(X, X') = (σ²/(σ²+2))^{d/2} exp(-‖δ‖²/(2(σ²+2)))
    # for X - X' ~ N(δ, 2I), so MMD² = 2/3 (1 - exp(-‖μ‖²/6)). The mean of MMD²_u over many
    # small samples must hit it (and 0 under the null), where the V-statistic is biased up.
    rng = np.random.default_rng(1)
    mu = np.array([1.0, 0.0])
    for shift, expected in ((0 * mu, 0.0), (mu, 2 / 3 * (1 - np.exp(-1 / 6)))):
        est = np.array([mmd(rng.standard_normal((20, 2)), rng.standard_normal((20, 2)) + shift,
                            bandwidth=1.0) for _ in range(300)])  # fmt: skip
        se = est.std() / np.sqrt(len(est))
        assert abs(est.mean() - expected) < 4 * se
    assert est.min() < expected  # sanity: the spread is real
    null = [mmd(rng.standard_normal((20, 2)), rng.standard_normal((20, 2)), bandwidth=1.0)
            for _ in range(50)]  # fmt: skip
    assert min(null) < 0  # an unbiased estimator goes below 0 under the null


def test_median_heuristic_subsample_uses_rng():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((700, 3)), rng.standard_normal((700, 3))
    full = float(np.median(pdist(np.vstack([x, y]))))
    a = median_heuristic(x, y, max_points=500, rng=np.random.default_rng(1))
    b = median_heuristic(x, y, max_points=500, rng=np.random.default_rng(1))
    c = median_heuristic(x, y, max_points=500, rng=np.random.default_rng(2))
    assert a == b != c
    assert a == pytest.approx(full, rel=0.03)


def test_degenerate_samples():
    same = np.ones((5, 2))
    assert mmd(same, same) == pytest.approx(0.0, abs=1e-12)
    # Mostly duplicates: the median distance is 0, so the non-zero median is used.
    x = np.vstack([np.zeros((30, 1)), [[1.0], [3.0]]])
    assert median_heuristic(x, x) == pytest.approx(np.median(pdist(x)[pdist(x) > 0]))


def test_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(DataError, match="at least 2 row"):
        mmd(x, np.zeros((1, 2)))
    with pytest.raises(DataError, match="Y: expected 2 column"):
        mmd(x, np.zeros((5, 1)))
    with pytest.raises(DataError, match="finite"):
        mmd(x, np.full((3, 2), np.nan))
    with pytest.raises(InvalidParameterError, match="bandwidth"):
        mmd(x, x, bandwidth=0.0)
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        mmd(x, x, chunk_size=0)
    with pytest.raises(InvalidParameterError, match="max_points"):
        mmd(x, x, max_points=1)
