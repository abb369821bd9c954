"""Which closed-form curve is overlaid: only in the exact setting its formula was derived for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import digamma

from modelcollapse.loop.config import parse_config
from modelcollapse.report.theory_overlay import theory_curve

G = np.arange(0, 6)


def _cfg(**over):
    raw = {
        "generations": 5, "samples_per_generation": 20,
        "data": {"source": "gaussian", "params": {"n": 30}},
        "model": {"kind": "gaussian", "params": {}}, "policy": {"kind": "replace"},
    }  # fmt: skip
    for key, value in over.items():
        raw[key] = value
    return parse_config(raw)


def _log_factor(m: int, c: int) -> float:
    return digamma((m - 1) / 2) + math.log(2 / c)


def test_gaussian_replace_curves():
    mle = theory_curve(_cfg(), "variance_ratio", G)
    assert mle.statistic == "median"
    np.testing.assert_allclose(mle.value, np.exp(G * _log_factor(20, 20)))
    unb = theory_curve(
        _cfg(model={"kind": "gaussian", "params": {"estimator": "unbiased"}}), "variance_ratio", G
    )
    np.testing.assert_allclose(unb.value, (30 / 29) * np.exp(G * _log_factor(20, 19)))
    var = theory_curve(
        _cfg(data={"source": "gaussian", "params": {"n": 30, "std": 2.0}}), "variance", G
    )
    np.testing.assert_allclose(
        var.value, 4.0 * np.exp(_log_factor(30, 30) + G * _log_factor(20, 20))
    )


@pytest.mark.parametrize(
    ("over", "metric"),
    [
        ({}, "w2"),
        ({"policy": {"kind": "accumulate"}}, "variance_ratio"),
        ({"policy": {"kind": "fresh", "params": {"lambda": 0.1}}}, "variance_ratio"),
        ({"model": {"kind": "gaussian", "params": {"scale": 0.9}}}, "variance_ratio"),
        ({"data": {"source": "gaussian", "params": {"mean": [0, 0]}}}, "variance_ratio"),
        ({"model": {"kind": "kde", "params": {}}}, "variance_ratio"),
        ({"data": {"source": "linear", "params": {"n": 20}}, "model": {"kind": "linear", "params": {}}}, "test_error"),
        ({"data": {"source": "linear", "params": {"n": 30}}, "model": {"kind": "linear", "params": {"noise": 1.0}}}, "test_error"),
    ],
)  # fmt: skip
def test_no_curve_outside_the_theorem(over, metric):
    assert theory_curve(_cfg(**over), metric, G) is None


def test_linear_accumulate_curve():
    cfg = _cfg(
        data={"source": "linear", "params": {"n": 20, "d": 4, "noise": 0.5}},
        model={"kind": "linear", "params": {"noise": 0.5}},
        policy={"kind": "accumulate"},
    )
    curve = theory_curve(cfg, "test_error", G)
    e1 = 0.25 * 4 / (20 - 4 - 1)
    expected = [e1 * sum(1 / i**2 for i in range(1, g + 2)) for g in G]
    np.testing.assert_allclose(curve.value, expected)
    assert curve.statistic == "mean" and theory_curve(None, "test_error", G) is None
