"""Sliced Wasserstein: exact 1-D transport for any sizes, the Gaussian oracle, rng, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import wasserstein_distance

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import sliced_wasserstein, wasserstein_1d
from modelcollapse.metrics.functional.sliced_wasserstein import quantile_coupling

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def replicated_wp(u, v, p):
    """W_p by brute force: repeat every u point m times and every v point n times, so both
    have n*m equally weighted atoms and the monotone coupling pairs sorted copies."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    a = np.sort(np.repeat(u, len(v)))
    b = np.sort(np.repeat(v, len(u)))
    return float(np.mean(np.abs(a - b) ** p) ** (1 / p))


@SETTINGS
@given(u=st.lists(values, min_size=1, max_size=30), v=st.lists(values, min_size=1, max_size=30))
def test_1d_exact_for_any_sizes(u, v):
    assert wasserstein_1d(u, v, p=1) == pytest.approx(
        wasserstein_distance(u, v), rel=1e-9, abs=1e-9
    )
    for p in (1, 2, 3.5):
        assert wasserstein_1d(u, v, p=p) == pytest.approx(
            replicated_wp(u, v, p), rel=1e-9, abs=1e-9
        )


@pytest.mark.parametrize(("n", "m"), [(1, 1), (3, 5), (4, 6), (7, 7), (10, 1)])
def test_coupling_weights(n, m):
    w, i, j = quantile_coupling(n, m)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert (w > 0).all() and len(w) <= n + m - 1
    # Every sorted point carries exactly its mass 1/n (resp. 1/m).
    assert np.bincount(i, weights=w, minlength=n) == pytest.approx(np.full(n, 1 / n))
    assert np.bincount(j, weights=w, minlength=m) == pytest.approx(np.full(m, 1 / m))


def test_one_dimension_is_exact_w_p():
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(50), rng.exponential(size=37)
    for p in (1, 2):
        sw = sliced_wasserstein(u, v, n_projections=5, p=p, rng=rng)
        assert sw == pytest.approx(wasserstein_1d(u, v, p), rel=1e-12)


def test_gaussian_shift_oracle():
    # N(0, I) vs N(δ, I): every projection is a shift by θᵀδ, so SW_2² = E[(θᵀδ)²] = ‖δ‖²/d.
    rng = np.random.default_rng(1)
    d, delta = 4, np.array([2.0, 0.0, 0.0, 0.0])
    x = rng.standard_normal((4000, d))
    y = rng.standard_normal((3000, d)) + delta
    sw = sliced_wasserstein(x, y, n_projections=400, rng=rng)
    assert sw**2 == pytest.approx(delta @ delta / d, rel=0.1)
    assert sliced_wasserstein(x, x, rng=rng) == 0.0


def test_randomness_is_explicit():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((60, 3)), rng.standard_normal((40, 3)) * 2
    a = sliced_wasserstein(x, y, n_projections=16, rng=np.random.default_rng(5))
    b = sliced_wasserstein(x, y, n_projections=16, rng=np.random.default_rng(5))
    c = sliced_wasserstein(x, y, n_projections=16, rng=np.random.default_rng(6))
    assert a == b != c
    assert sliced_wasserstein(x, y) == sliced_wasserstein(x, y, rng=0)  # the default seed
    assert sliced_wasserstein(x, y, n_projections=16, rng=5) == a  # an int seed
    # Symmetric for the same directions.
    assert a == pytest.approx(
        sliced_wasserstein(y, x, n_projections=16, rng=np.random.default_rng(5)), rel=1e-12
    )


def test_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(DataError, match="Y: expected 2 column"):
        sliced_wasserstein(x, np.zeros((5, 3)))
    with pytest.raises(DataError, match="finite"):
        sliced_wasserstein(x, np.array([[0.0, np.inf]]))
    with pytest.raises(DataError, match="at least 1 row"):
        sliced_wasserstein(np.zeros((0, 2)), x)
    with pytest.raises(InvalidParameterError, match="p: expected"):
        sliced_wasserstein(x, x, p=0.5)
    with pytest.raises(InvalidParameterError, match="n_projections"):
        sliced_wasserstein(x, x, n_projections=0)
    for rng in (np.random.RandomState(0), None, True):
        with pytest.raises(InvalidParameterError, match="Generator or an int seed"):
            sliced_wasserstein(x, x, rng=rng)
    with pytest.raises(DataError, match="1-D sample"):
        wasserstein_1d(x, x)
    with pytest.raises(DataError, match="numeric"):
        wasserstein_1d(["a"], [1.0])
