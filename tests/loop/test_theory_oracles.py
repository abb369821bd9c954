"""Simulations against closed-form theory (loop/theory.py).

Tolerances come from the sampling error of the simulation (a few standard errors), never from a
loose hand-picked constant. Means of heavy-tailed quantities are compared on logs or medians.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.special import digamma

from modelcollapse.loop import theory
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment


def _metric(run_dir, name: str) -> dict[int, np.ndarray]:
    t = pq.read_table(run_dir / "metrics.parquet")
    gen = t.column("generation").to_numpy()
    metric = np.asarray(t.column("metric").to_pylist())
    value = t.column("value").to_numpy()
    sel = metric == name
    return {int(g): value[sel & (gen == g)] for g in np.unique(gen[sel])}


def _run(tmp_path, **cfg):
    config = parse_config({"name": "oracle", "seed": 11, **cfg})
    run_experiment(config, tmp_path / "run", progress=False)
    return tmp_path / "run"


# -- the formulas themselves, against an independent Monte Carlo of the chi-square recursion -----


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_gaussian_formulas_match_chi_square_recursion(estimator):
    rng = np.random.default_rng(0)
    m, n, reps = 30, 15, 200_000
    c = m if estimator == "mle" else m - 1
    log_ratio = np.log(rng.chisquare(m - 1, size=(reps, n)) / c).sum(axis=1)
    se = log_ratio.std() / math.sqrt(reps)
    assert abs(log_ratio.mean() - theory.gaussian_log_variance(n, m, estimator=estimator)) < 4 * se
    assert log_ratio.var() == pytest.approx(theory.gaussian_log_variance_var(n, m), rel=0.02)
    ratio = np.exp(log_ratio)
    se_mean = ratio.std() / math.sqrt(reps)
    assert abs(ratio.mean() - theory.gaussian_variance(n, m, estimator=estimator)) < 4 * se_mean


def test_shumailov_number():
    # The figure the issue quotes: M = 100, n = 100 -> -2.02.
    assert theory.gaussian_log_variance(100, 100) == pytest.approx(-2.0185, abs=1e-4)
    assert theory.gaussian_log_variance(1, 100) == pytest.approx(digamma(49.5) + math.log(0.02))


def test_linear_formulas():
    e1 = theory.linear_first_error(10, 100, 1.0)
    assert e1 == pytest.approx(10 / 89)
    assert theory.linear_replace_error(7, 10, 100, 1.0) == pytest.approx(7 * e1)
    acc = theory.linear_accumulate_error(np.arange(1, 200), 10, 100, 1.0)
    assert np.all(np.diff(acc) > 0) and acc[-1] < theory.ACCUMULATE_BOUND * e1
    assert acc[0] == pytest.approx(e1)


# -- simulations against the formulas --------------------------------------------------------------


def test_unbiased_estimator_keeps_mean_but_median_collapses(tmp_path):
    m, gens, reps = 20, 40, 4000
    run = _run(
        tmp_path,
        generations=gens,
        replicates=reps,
        samples_per_generation=m,
        data={"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": m}},
        model={"kind": "gaussian", "params": {"estimator": "unbiased"}},
        policy={"kind": "replace"},
        metrics=["variance_ratio"],
    )
    ratio = _metric(run, "variance_ratio")
    # variance_ratio divides by the real sample's ML variance; generation g has been refitted g
    # times after generation 0, whose unbiased variance is M/(M-1) times the ML one.
    offset = math.log(m / (m - 1))
    for g in (10, 25, 40):
        logs = np.log(ratio[g])
        expected = offset + theory.gaussian_log_variance(g, m, estimator="unbiased")
        se = logs.std() / math.sqrt(reps)
        assert abs(logs.mean() - expected) < 4 * se, (g, logs.mean(), expected)
    # The median collapses well below 1 while E[ratio] stays at M/(M-1): compare the median
    # with theory and check the mean is not collapsing like the median does.
    assert np.median(ratio[gens]) < 0.5
    assert np.median(ratio[gens]) == pytest.approx(
        math.exp(offset + theory.gaussian_log_variance(gens, m, estimator="unbiased")), rel=0.1
    )


@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_linear_regression_matches_gerstgrasser(tmp_path, policy):
    d, t, noise, gens, reps = 10, 100, 1.0, 12, 400
    run = _run(
        tmp_path,
        generations=gens,
        replicates=reps,
        samples_per_generation=t,
        data={"source": "linear", "params": {"n": t, "d": d, "noise": noise}},
        model={"kind": "linear", "params": {"noise": noise}},
        policy={"kind": policy},
        metrics=["test_error"],
    )
    err = _metric(run, "test_error")
    e1 = theory.linear_first_error(d, t, noise)
    for g in (0, 3, gens):
        n_fits = g + 1
        expected = (
            theory.linear_replace_error(n_fits, d, t, noise)
            if policy == "replace"
            else theory.linear_accumulate_error(n_fits, d, t, noise)
        )
        se = err[g].std() / math.sqrt(reps)
        assert abs(err[g].mean() - expected) < 4 * se + 0.02 * expected, (
            g,
            err[g].mean(),
            expected,
        )
    if policy == "replace":
        # linear growth: the last generation is about (G + 1) times the first
        assert err[gens].mean() > 0.7 * (gens + 1) * err[0].mean()
    else:
        assert err[gens].mean() < theory.ACCUMULATE_BOUND * e1 * 1.1
