"""The numbers in the figures, checked against numpy on the run store's own files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import digamma

from modelcollapse.report.distributions import histograms, rank_frequency
from modelcollapse.report.figures import change_figure, numbers
from modelcollapse.report.load import load_collection
from modelcollapse.report.simulation import simulation_page
from tests.report.conftest import GAUSS, read_long


def _figure(page, title):
    found = [b.figure for b in page.figures if b.figure["layout"]["title"]["text"] == title]
    assert len(found) == 1, [b.figure["layout"]["title"]["text"] for b in page.figures]
    return found[0]


def _trace(fig, name):
    found = [t for t in fig["data"] if t["name"] == name]
    assert len(found) == 1, [t["name"] for t in fig["data"]]
    return found[0]


def _expected_band(columns_list, metric):
    """Median and 5%/95% quantiles per generation, pooled over the given tables (numpy only)."""
    gen = np.concatenate([c["generation"][c["metric"] == metric] for c in columns_list])
    val = np.concatenate([c["value"][c["metric"] == metric] for c in columns_list])
    gens = np.unique(gen)
    q = np.array([np.quantile(val[gen == g], [0.05, 0.5, 0.95]) for g in gens])
    return gens, q


@pytest.mark.parametrize("metric", ["variance_ratio", "w2"])
def test_metric_traces_are_the_medians_and_quantiles_of_metrics_parquet(gauss_runs, metric):
    page = simulation_page(load_collection(gauss_runs))
    fig = _figure(page, metric)
    for policy in ("replace", "accumulate"):
        gens, q = _expected_band(
            [read_long(gauss_runs / f"g-{policy}" / "metrics.parquet")], metric
        )
        median = _trace(fig, policy)
        assert median["x"] == gens.tolist()
        np.testing.assert_allclose(median["y"], q[:, 1], rtol=1e-12)
        np.testing.assert_allclose(_trace(fig, f"{policy} 5%")["y"], q[:, 0], rtol=1e-12)
        np.testing.assert_allclose(_trace(fig, f"{policy} 95%")["y"], q[:, 2], rtol=1e-12)
        assert [c[2] for c in median["customdata"]] == [GAUSS["replicates"]] * len(gens)
    # one colour per arm
    assert _trace(fig, "replace")["line"]["color"] != _trace(fig, "accumulate")["line"]["color"]


def test_theory_curve_overlays_replace_only(gauss_runs):
    fig = _figure(simulation_page(load_collection(gauss_runs)), "variance_ratio")
    theory = [t for t in fig["data"] if "theory" in t["name"]]
    assert len(theory) == 1 and theory[0]["name"].startswith("replace:")
    m = GAUSS["samples_per_generation"]
    g = np.asarray(theory[0]["x"])
    # Shumailov et al.: median of sigma^2_g / sigma^2_0 ~ exp(g [psi((M-1)/2) + ln(2/M)]).
    expected = np.exp(g * (digamma((m - 1) / 2) + math.log(2 / m)))
    np.testing.assert_allclose(theory[0]["y"], expected, rtol=1e-12)
    # and the simulation follows it: the median at the last generation within 15%
    last = _trace(fig, "replace")["y"][-1]
    assert last == pytest.approx(expected[-1], rel=0.15)
    assert "theory" not in " ".join(t["name"] for t in _figure(
        simulation_page(load_collection(gauss_runs)), "w2")["data"])  # fmt: skip


def test_sweep_arms_pool_seeds(sweep_dir):
    page = simulation_page(load_collection(sweep_dir))
    fig = _figure(page, "variance_ratio")
    medians = [t["name"] for t in fig["data"] if "%" not in t["name"] and "theory" not in t["name"]]
    assert sorted(medians) == ["accumulate", "replace"]  # seed is not an arm
    for policy in ("replace", "accumulate"):
        cols = [
            read_long(sweep_dir / "runs" / f"policy-{policy}_seed-{s}" / "metrics.parquet")
            for s in (0, 1)
        ]
        _, q = _expected_band(cols, "variance_ratio")
        np.testing.assert_allclose(_trace(fig, policy)["y"], q[:, 1], rtol=1e-12)
        assert _trace(fig, policy)["customdata"][0][2] == 40  # 2 seeds x 20 replicates


def test_histograms_share_edges_and_integrate_to_one():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=500), 0.3 * rng.normal(size=200)
    h = histograms({"a": a, "b": np.append(b, [np.nan, np.inf])})
    assert h.n == {"a": 500, "b": 200}
    for label, x in (("a", a), ("b", b)):
        counts, _ = np.histogram(x, bins=h.edges)
        np.testing.assert_allclose(h.density[label], counts / (x.size * np.diff(h.edges)))
        assert float(np.sum(h.density[label] * h.widths)) == pytest.approx(1.0)
    assert histograms({"a": np.array([np.nan])}) is None
    one = histograms({"a": np.full(3, 2.0)})
    assert one.edges.tolist() == [1.5, 2.5] and one.density["a"].tolist() == [1.0]


def test_rank_frequency_by_hand():
    rf = rank_frequency(["a a b", "a b c"], "whitespace")
    assert rf.rank.tolist() == [1, 2, 3]
    np.testing.assert_allclose(rf.frequency, [3 / 6, 2 / 6, 1 / 6])
    assert (rf.types, rf.tokens) == (3, 6)
    big = rank_frequency([" ".join(f"w{i}" for i in range(5000))], max_points=50)
    assert big.rank[0] == 1 and big.rank[-1] == 5000 and big.rank.size <= 50
    assert np.all(np.diff(big.rank) > 0)
    assert rank_frequency([""]).types == 0


def test_change_figure_values():
    rows = [
        {"name": "a", "candidate": 2.0, "reference": 1.0, "scale": 2.0, "delta_low": 0.5,
         "delta_high": 1.5, "tolerance": 0.1, "flagged": True},
        {"name": "b", "candidate": 1.0, "reference": 1.0, "scale": float("nan"), "delta_low": 0.0,
         "delta_high": 0.0, "tolerance": 0.1, "flagged": False},
    ]  # fmt: skip
    fig = change_figure("t", rows)
    t = fig["data"][0]
    assert t["y"] == ["a"] and t["x"] == [0.5]
    assert t["error_x"]["arrayminus"] == [0.25] and t["error_x"]["array"] == [0.25]
    assert t["marker"]["color"] == ["#d62728"]


def test_numbers_turn_non_finite_into_gaps():
    assert numbers(np.array([1.0, np.nan, np.inf, -np.inf])) == [1.0, None, None, None]
    assert numbers([1, 2]) == [1, 2]
