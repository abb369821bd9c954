"""Batched Gaussian closed forms against scipy and against the per-replicate generic metrics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, multivariate_normal

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import MetricContext, compute
from modelcollapse.metrics.functional.gaussian import (
    gaussian_nll,
    gaussian_tail_coverage,
    gaussian_w2,
    mahalanobis_sq,
    sqrtm_psd,
    tail_points,
)
from tests.metrics.fakes import FakeGaussian


def random_cov(rng, d, batch=(), rank=None):
    a = rng.standard_normal((*batch, d, rank or d))
    return a @ np.swapaxes(a, -1, -2) / d + (0.1 * np.eye(d) if rank is None else 0.0)


def scipy_w2(m1, c1, m2, c2):
    root2 = scipy.linalg.sqrtm(c2)
    cross = scipy.linalg.sqrtm(root2 @ c1 @ root2)
    w2sq = np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(cross).real
    return np.sqrt(max(w2sq, 0.0))


# -- W2 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_w2_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    m1, m2 = rng.standard_normal((2, 5, d))
    c1, c2 = random_cov(rng, d, (5,)), random_cov(rng, d, (5,))
    got = gaussian_w2(m1, c1, m2, c2)
    assert got.shape == (5,)
    want = [scipy_w2(m1[i], c1[i], m2[i], c2[i]) for i in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_w2_1d_closed_form_and_broadcasting():
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((7, 1))
    var = rng.uniform(0.1, 3, (7, 1, 1))
    got = gaussian_w2(mean, var, np.zeros(1), np.eye(1))  # batch (7,) against one Gaussian
    want = np.sqrt(mean[:, 0] ** 2 + (np.sqrt(var[:, 0, 0]) - 1.0) ** 2)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # 2-D batch shapes broadcast against each other.
    c = random_cov(rng, 3, (4, 1))
    out = gaussian_w2(np.zeros((4, 1, 3)), c, np.zeros((1, 5, 3)), random_cov(rng, 3, (1, 5)))
    assert out.shape == (4, 5)


def test_w2_properties_and_degenerate_covariances():
    rng = np.random.default_rng(1)
    m, c = rng.standard_normal(3), random_cov(rng, 3)
    assert gaussian_w2(m, c, m, c) == pytest.approx(0.0, abs=1e-7)
    m2, c2 = rng.standard_normal(3), random_cov(rng, 3)
    assert gaussian_w2(m, c, m2, c2) == pytest.approx(gaussian_w2(m2, c2, m, c), rel=1e-9)
    # A collapsed model (point mass) is at W2 = sqrt(|m|^2 + tr Σ) from N(0, Σ).
    point = gaussian_w2(m, np.zeros((3, 3)), np.zeros(3), c)
    assert point == pytest.approx(np.sqrt(m @ m + np.trace(c)), rel=1e-9)
    low_rank = random_cov(rng, 4, rank=2)
    assert gaussian_w2(np.zeros(4), low_rank, np.zeros(4), low_rank) == pytest.approx(0, abs=1e-6)


def test_w2_nan_moments_give_nan_only_for_that_entry():
    c = np.stack([np.eye(2), np.full((2, 2), np.nan)])
    out = gaussian_w2(np.zeros((2, 2)), c, np.zeros(2), np.eye(2))
    assert out[0] == 0.0 and np.isnan(out[1])


def test_shapes_are_checked():
    with pytest.raises(InvalidParameterError, match="expected mean"):
        gaussian_w2(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(InvalidParameterError, match="same dimension"):
        gaussian_w2(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(DataError, match="finite"):
        gaussian_nll(np.array([[np.nan, 0.0]]), np.zeros(2), np.eye(2))
    with pytest.raises(DataError, match="shape"):
        gaussian_nll(np.zeros((3, 2)), np.zeros(3), np.eye(3))
    with pytest.raises(DataError, match="at least 1"):
        gaussian_nll(np.zeros((0, 2)), np.zeros(2), np.eye(2))


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(2)
    c = random_cov(rng, 4, (3,))
    r = sqrtm_psd(c)
    np.testing.assert_allclose(r @ r, c, atol=1e-12)


# -- NLL --------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [1, 2, 4])
def test_nll_matches_scipy(d):
    rng = np.random.default_rng(10 + d)
    x = rng.standard_normal((6, 50, d))
    mean, cov = rng.standard_normal((6, d)), random_cov(rng, d, (6,))
    got = gaussian_nll(x, mean, cov)
    want = [-multivariate_normal(mean[i], cov[i]).logpdf(x[i]).mean() for i in range(6)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # Shared held-out points against a batch of models broadcast too.
    shared = gaussian_nll(x[0], mean, cov)
    want0 = [-multivariate_normal(mean[i], cov[i]).logpdf(x[0]).mean() for i in range(6)]
    np.testing.assert_allclose(shared, want0, rtol=1e-10)


def test_nll_singular_is_inf_and_nan_moments_are_nan():
    x = np.ones((4, 2))
    assert gaussian_nll(x, np.zeros(2), np.diag([1.0, 0.0])) == np.inf
    assert gaussian_nll(x[:, :1], np.zeros(1), np.zeros((1, 1))) == np.inf
    assert np.isnan(gaussian_nll(x, np.array([np.nan, 0]), np.eye(2)))


# -- Mahalanobis and tail coverage -------------------------------------------------------------
def test_mahalanobis_matches_inverse_and_handles_singular():
    rng = np.random.default_rng(3)
    x, mean, cov = rng.standard_normal((20, 3)), rng.standard_normal(3), random_cov(rng, 3)
    diff = x - mean
    want = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff)
    np.testing.assert_allclose(mahalanobis_sq(x, mean, cov), want, rtol=1e-9)
    singular = np.diag([2.0, 0.0])
    got = mahalanobis_sq(np.array([[2.0, 0.0], [0.0, 1.0]]), np.zeros(2), singular)
    np.testing.assert_allclose(got, [2.0, np.inf])


def test_tail_coverage_counts_points_inside_the_chi2_ellipsoid():
    d, level = 2, 0.99
    r = np.sqrt(chi2.ppf(level, d))
    pts = np.array([[0.5 * r, 0.0], [0.0, 0.99 * r], [1.01 * r, 0.0], [0.0, 3 * r]])
    assert gaussian_tail_coverage(pts, np.zeros(2), np.eye(2), level) == 0.5
    # Scaling the covariance by 4 doubles the radius: all points but the last are inside.
    assert gaussian_tail_coverage(pts, np.zeros(2), 4 * np.eye(2), level) == 0.75
    assert np.isnan(gaussian_tail_coverage(np.zeros((0, 2)), np.zeros(2), np.eye(2)))
    with pytest.raises(InvalidParameterError, match="level"):
        gaussian_tail_coverage(pts, np.zeros(2), np.eye(2), level=1.5)


def test_tail_coverage_list_and_mask_forms_agree():
    rng = np.random.default_rng(4)
    means, covs = rng.standard_normal((3, 2)), random_cov(rng, 2, (3,))
    parts = [rng.standard_normal((m, 2)) * 3 for m in (5, 0, 8)]
    from_list = gaussian_tail_coverage(parts, means, covs)
    padded = np.zeros((3, 8, 2))
    mask = np.zeros((3, 8), dtype=bool)
    for i, p in enumerate(parts):
        padded[i, : len(p)], mask[i, : len(p)] = p, True
    from_mask = gaussian_tail_coverage(padded, means, covs, mask=mask)
    np.testing.assert_array_equal(from_list, from_mask)
    assert np.isnan(from_list[1])
    for i in (0, 2):
        assert from_list[i] == gaussian_tail_coverage(parts[i], means[i], covs[i])


def test_tail_points_1d_is_beyond_the_percentiles():
    ref = np.arange(101, dtype=float).reshape(-1, 1)  # 1st/99th percentiles are 1 and 99
    held = np.array([[0.5], [1.0], [50.0], [99.0], [99.5], [-3.0]])
    np.testing.assert_array_equal(tail_points(ref, held), [True, False, False, False, True, True])
    np.testing.assert_array_equal(tail_points(ref[:, 0], held[:, 0]), tail_points(ref, held))


def test_tail_points_multivariate_has_the_right_mass_and_batches():
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((3, 4000, 3))
    held = rng.standard_normal((3, 4000, 3))
    mask = tail_points(ref, held, q=0.01)
    assert mask.shape == (3, 4000)
    assert 0.01 < mask.mean() < 0.03  # 2q = 2% of the mass lies beyond the 98th percentile
    for i in range(3):
        np.testing.assert_array_equal(mask[i], tail_points(ref[i], held[i]))
    with pytest.raises(InvalidParameterError, match="q"):
        tail_points(ref[0], held[0], q=0.6)


# -- batched closed forms == the generic per-replicate metrics ---------------------------------
@pytest.mark.parametrize("d", [1, 3])
def test_batched_equals_generic_registered_metrics(d):
    rng = np.random.default_rng(20 + d)
    reps = 6
    ref = rng.standard_normal((reps, 300, d))
    held = rng.standard_normal((reps, 300, d)) * 1.5  # wider, so there are tail points
    means = rng.standard_normal((reps, d)) * 0.1
    covs = random_cov(rng, d, (reps,)) * np.linspace(0.2, 1.5, reps)[:, None, None]
    truth = {"mean": np.zeros(d), "cov": np.eye(d)}

    w2_b = gaussian_w2(means, covs, truth["mean"], truth["cov"])
    nll_b = gaussian_nll(held, means, covs)
    mask = tail_points(ref, held)
    tail_b = gaussian_tail_coverage(held, means, covs, mask=mask)
    for i in range(reps):
        ctx = MetricContext(
            "numeric",
            FakeGaussian(means[i], covs[i]),
            None,
            ref[i],
            held[i],
            truth,
            np.random.default_rng(0),
        )
        got = compute(["w2", "nll", "tail_coverage"], ctx)
        assert got["w2"] == pytest.approx(w2_b[i], rel=1e-9)
        assert got["nll"] == pytest.approx(nll_b[i], rel=1e-9)
        assert got["tail_coverage"] == pytest.approx(tail_b[i], rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_w2_hypothesis_against_scipy(d, seed, scale):
    rng = np.random.default_rng(seed)
    m1, m2 = rng.standard_normal((2, d)) * scale
    c1, c2 = random_cov(rng, d) * scale**2, random_cov(rng, d) * scale**2
    got = float(gaussian_w2(m1, c1, m2, c2))
    assert got >= 0
    assert got == pytest.approx(scipy_w2(m1, c1, m2, c2), rel=1e-6, abs=1e-9 * scale)
