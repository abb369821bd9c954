"""Fréchet distance: the FID formula against scipy's sqrtm, closed cases, streaming and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import (
    StreamingFrechetDistance,
    frechet_distance,
    gaussian_w2,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fid_reference(x, y):
    """The TTUR / pytorch-fid computation: np.cov and scipy.linalg.sqrtm of the product."""
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize(("n", "m", "d"), [(200, 300, 1), (500, 400, 8), (300, 300, 32)])
def test_matches_scipy_sqrtm_formula(n, m, d):
    rng = np.random.default_rng(d)
    a = rng.standard_normal((d, d))
    x = rng.standard_normal((n, d)) @ a
    y = 1.3 * rng.standard_normal((m, d)) @ a.T + 0.5
    ours = frechet_distance(x, y)
    assert ours == pytest.approx(fid_reference(x, y), rel=1e-8, abs=1e-9)
    # FD is the squared W2 between the Gaussian fits (np.cov moments).
    w2 = gaussian_w2(x.mean(0), np.cov(x, rowvar=False).reshape(d, d), y.mean(0),
                     np.cov(y, rowvar=False).reshape(d, d))  # fmt: skip
    assert ours == pytest.approx(float(w2) ** 2, rel=1e-12)


def test_closed_cases():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 5))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    delta = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    assert frechet_distance(x, x + delta) == pytest.approx(delta @ delta, rel=1e-9)
    # Scaling centred data by s: Tr(Σ) (1 - s)², here with the ML covariance.
    s = 1.7
    x = x - x.mean(axis=0)
    expected = np.trace(np.cov(x, rowvar=False, ddof=0)) * (1 - s) ** 2
    assert frechet_distance(x, s * x, ddof=0) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(x[:, 0], x[:, 1]) == pytest.approx(
        fid_reference(x[:, :1], x[:, 1:2]), rel=1e-9
    )


@SETTINGS
@given(
    n=st.integers(6, 40),  # d + 2 rows or more: with a singular covariance the square root of a
    m=st.integers(6, 40),  # ~0 eigenvalue turns round-off ε into √ε, whatever the summation order
    d=st.integers(1, 4),
    cuts=st.lists(st.integers(0, 100), max_size=4),
    seed=st.integers(0, 2**31),
)
def test_streaming_and_merged_shards_equal_one_pass(n, m, d, cuts, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, d)), 2 * rng.standard_normal((m, d)) + 1
    expected = frechet_distance(x, y)
    bounds = sorted(c % (n + 1) for c in cuts)
    shards = []
    for lo, hi in zip([0, *bounds], [*bounds, n], strict=True):
        s = StreamingFrechetDistance()
        s.update((x[lo:hi], None))
        shards.append(s)
    last = StreamingFrechetDistance()
    last.update((None, y[: m // 2])).update((None, y[m // 2 :]))
    merged = StreamingFrechetDistance.merged([*shards, last])
    assert merged.compute() == pytest.approx(expected, rel=1e-7, abs=1e-7)


def test_bad_input():
    x = np.zeros((10, 3))
    with pytest.raises(DataError, match="Y: expected 3 column"):
        frechet_distance(x, np.zeros((10, 2)))
    bad = np.ones((10, 3))
    bad[4, 1] = np.nan
    with pytest.raises(DataError, match=r"finite.*row 4"):
        frechet_distance(x, bad)
    with pytest.raises(DataError, match="at least 2 row"):
        frechet_distance(x, np.zeros((1, 3)))
    with pytest.raises(DataError, match="at least 2 row"):
        frechet_distance(np.zeros((0, 3)), x)
    with pytest.raises(InvalidParameterError, match="ddof"):
        frechet_distance(x, x, ddof=-1)
    s = StreamingFrechetDistance()
    with pytest.raises(DataError, match="batch"):
        s.update(x)
    s.update((x, None))
    with pytest.raises(DataError, match="Y: expected at least 1 batch"):
        s.compute()
    s.update((None, np.zeros((4, 2))))
    with pytest.raises(DataError, match="column"):
        s.compute()
    with pytest.raises(InvalidParameterError, match="different settings"):
        StreamingFrechetDistance(ddof=0).merge(StreamingFrechetDistance(ddof=1))
