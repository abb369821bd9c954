"""Extreme-quantile ratios: invariances, shrunken tails, projections and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import extreme_quantile_ratio, extreme_quantile_ratios, quantile_ratios
from modelcollapse.metrics.functional.quantiles import DEFAULT_QUANTILES

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_identity_and_affine_maps():
    rng = np.random.default_rng(0)
    ref = rng.standard_t(3, size=(2000, 3))
    assert extreme_quantile_ratios(ref, ref) == {u: 1.0 for u in DEFAULT_QUANTILES}
    # Linear-interpolated quantiles commute with a·x + b (a > 0): every ratio is a.
    got = extreme_quantile_ratios(2.5 * ref - 4.0, ref)
    assert list(got) == list(DEFAULT_QUANTILES)
    assert all(v == pytest.approx(2.5, rel=1e-12) for v in got.values())
    assert extreme_quantile_ratio(0.5 * ref + 1, ref) == pytest.approx(0.5, rel=1e-12)


def test_lost_tails_show_in_the_extreme_quantiles_only():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((20_000, 2))
    cand = rng.standard_normal((20_000, 2))
    cand = cand[(np.abs(cand) < 2.0).all(axis=1)]  # early collapse: tails beyond 2σ gone
    got = extreme_quantile_ratios(cand, ref)
    assert got[0.999] < 0.7 and got[0.001] < 0.7
    assert 0.85 < got[0.95] < 1.0 and 0.85 < got[0.05] < 1.0  # the bulk barely moves
    assert extreme_quantile_ratio(cand, ref) < 0.9
    per = quantile_ratios(cand, ref)
    assert per[0.99].shape == (2,)
    assert np.mean(per[0.999]) == pytest.approx(got[0.999])


def test_constant_coordinates_have_no_ratio():
    ref = np.column_stack([np.zeros(100), np.arange(100.0)])
    cand = np.column_stack([np.ones(100), 2 * np.arange(100.0)])
    per = quantile_ratios(cand, ref, [0.01, 0.99])
    assert math.isnan(per[0.99][0]) and per[0.99][1] == pytest.approx(2.0)
    assert extreme_quantile_ratios(cand, ref, [0.01])[0.01] == pytest.approx(2.0)
    assert extreme_quantile_ratio(cand, ref) == pytest.approx(2.0)
    assert math.isnan(extreme_quantile_ratio(cand[:, :1], ref[:, :1]))


def test_directions_project_first():
    rng = np.random.default_rng(2)
    ref, cand = rng.standard_normal((500, 3)), 0.7 * rng.standard_normal((400, 3))
    w = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert extreme_quantile_ratios(cand, ref, directions=w) == extreme_quantile_ratios(
        cand @ w.T, ref @ w.T
    )
    assert extreme_quantile_ratio(cand, ref, directions=w[0]) == extreme_quantile_ratio(
        cand @ w[0], ref @ w[0]
    )


@SETTINGS
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 3),
    scale=st.floats(0.01, 100),
    seed=st.integers(0, 2**31),
)
def test_scale_equivariance(n, d, scale, seed):
    ref = np.random.default_rng(seed).standard_normal((n, d))
    got = extreme_quantile_ratios(scale * ref, ref)
    for v in got.values():
        assert math.isnan(v) if n == 1 else v == pytest.approx(scale, rel=1e-9)


def test_bad_input():
    x = np.zeros((5, 2))
    with pytest.raises(DataError, match="reference: expected 2 column"):
        extreme_quantile_ratio(x, np.zeros((5, 3)))
    with pytest.raises(DataError, match="candidate: expected finite"):
        extreme_quantile_ratios(np.full((5, 2), np.nan), x)
    with pytest.raises(DataError, match="reference: expected at least 1 row"):
        quantile_ratios(x, np.zeros((0, 2)))
    with pytest.raises(InvalidParameterError, match="median"):
        quantile_ratios(x, x, [0.5])
    with pytest.raises(InvalidParameterError, match="quantile"):
        quantile_ratios(x, x, [0.0, 0.99])
    with pytest.raises(InvalidParameterError, match="at least one"):
        quantile_ratios(x, x, [])
    with pytest.raises(InvalidParameterError, match="list of levels"):
        quantile_ratios(x, x, 0.99)
    with pytest.raises(InvalidParameterError, match="lo < hi"):
        extreme_quantile_ratio(x, x, lo=0.9, hi=0.1)
    with pytest.raises(InvalidParameterError, match="directions"):
        extreme_quantile_ratio(x, x, directions=np.ones((1, 3)))
