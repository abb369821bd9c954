"""Bootstrap resampling and intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.bootstrap import (
    PERCENTILE_MIN_REPLICATES,
    index_weights,
    interval,
    normal_interval,
    resample_indices,
    shifted_percentile_interval,
    standard_error,
)


def test_resample_indices_are_seeded_and_in_range():
    a = resample_indices(50, 7, np.random.default_rng(3))
    b = resample_indices(50, 7, np.random.default_rng(3))
    c = resample_indices(50, 7, np.random.default_rng(4))
    assert a.shape == (7, 50) and a.min() >= 0 and a.max() < 50
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("bad", [0, 1, -3, 2.5, True, "10"])
def test_n_boot_is_checked(bad):
    with pytest.raises(InvalidParameterError, match="n_boot: expected an integer >= 2"):
        resample_indices(10, bad, np.random.default_rng(0))


@given(st.integers(1, 30), st.integers(2, 6), st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_index_weights_count_each_record(n, b, seed):
    idx = resample_indices(n, b, np.random.default_rng(seed))
    w = index_weights(idx, n)
    assert w.shape == (b, n)
    for row, weights in zip(idx, w, strict=True):
        assert np.array_equal(np.bincount(row, minlength=n), weights)
    assert np.all(w.sum(axis=1) == n)


def test_shifted_interval_contains_the_point_of_a_biased_statistic():
    # Every replicate lies below the point (like the vocabulary of a resample): the plain
    # percentile interval misses the point, the shifted one is centred on it.
    reps = np.linspace(80.0, 90.0, 201)
    lo, hi = shifted_percentile_interval(100.0, reps, 0.95)
    assert lo < 100.0 < hi
    assert hi - lo == pytest.approx(np.quantile(reps, 0.975) - np.quantile(reps, 0.025))


def test_interval_undefined_cases():
    assert np.isnan(shifted_percentile_interval(np.nan, np.ones(10)).low)
    many_nan = np.r_[np.ones(80), np.full(20, np.nan)]
    assert np.isnan(shifted_percentile_interval(1.0, many_nan).high)
    lo, hi = shifted_percentile_interval(1.0, np.r_[np.ones(150), np.full(50, np.inf)])
    assert np.isfinite(lo) and hi == np.inf
    assert np.isnan(standard_error(np.array([1.0])))


def test_interval_switches_to_normal_below_the_replicate_threshold():
    rng = np.random.default_rng(0)
    few = rng.normal(size=PERCENTILE_MIN_REPLICATES - 1)
    many = rng.normal(size=PERCENTILE_MIN_REPLICATES)
    assert interval(0.0, few) == normal_interval(0.0, few)
    assert interval(0.0, many) == shifted_percentile_interval(0.0, many)
    lo, hi = normal_interval(2.0, few, 0.95)
    assert (hi - lo) / 2 == pytest.approx(1.959964 * few.std(ddof=1), rel=1e-5)


@pytest.mark.parametrize("n_boot", [30, 200])
def test_coverage_of_a_mean_is_close_to_nominal(n_boot):
    # 400 datasets of 60 standard-normal points: the 95% interval of the mean should cover 0
    # about 95% of the time (bootstrap intervals of a mean under-cover slightly at n = 60).
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(400):
        x = rng.normal(size=60)
        w = index_weights(resample_indices(60, n_boot, rng), 60)
        lo, hi = interval(float(x.mean()), w @ x / 60)
        covered += lo <= 0.0 <= hi
    assert 0.88 <= covered / 400 <= 0.99
