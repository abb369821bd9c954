"""Registered numeric/embedding metrics: specs, values equal to the functional forms, PRDC cache."""

from __future__ import annotations

import numpy as np
import pytest

import modelcollapse.metrics.numeric_measure as nm
from modelcollapse.errors import DataError
from modelcollapse.metrics import (
    MetricContext,
    compute,
    default_metrics,
    extreme_quantile_ratio,
    frechet_distance,
    get,
    mauve,
    mmd,
    prdc,
    sliced_wasserstein,
    vendi_score,
)

NAMES = {
    "frechet_distance": ("fidelity", False),
    "sliced_wasserstein": ("fidelity", False),
    "mmd": ("fidelity", False),
    "precision": ("fidelity", True),
    "recall": ("tail", True),
    "density": ("fidelity", True),
    "coverage": ("tail", True),
    "mauve": ("fidelity", True),
    "vendi_score": ("diversity", True),
    "extreme_quantile_ratio": ("tail", None),
}


def context(samples, real, seed=0, heldout=True):
    return MetricContext(
        "numeric", None, samples, real, real if heldout else None, None,
        np.random.default_rng(seed),
    )  # fmt: skip


def test_specs():
    for name, (role, higher) in NAMES.items():
        spec = get(name, "numeric")
        assert spec.role == role and spec.higher_is_better is higher
        assert spec.citation and spec.description
        assert spec.needs_reference is (name != "vendi_score")
        assert name not in default_metrics("numeric")  # the simulation defaults are unchanged
    expensive = {n for n in NAMES if get(n, "numeric").expensive}
    assert expensive == {"mmd", "precision", "recall", "density", "coverage", "mauve"}


def test_values_equal_the_functional_forms():
    rng = np.random.default_rng(0)
    real, cand = rng.standard_normal((300, 4)), 0.8 * rng.standard_normal((250, 4))
    got = compute(list(NAMES), context(cand, real, seed=3))
    pr = prdc(real, cand, 5)
    seed = np.random.default_rng(3)
    expected = {
        "frechet_distance": frechet_distance(cand, real),
        "extreme_quantile_ratio": extreme_quantile_ratio(cand, real),
        "vendi_score": vendi_score(cand, 1),
        **pr.as_dict(),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12), name
    # The randomised ones draw from ctx.rng, in the order compute() evaluates them.
    sw = sliced_wasserstein(cand, real, rng=seed)
    m = mmd(cand, real, rng=seed)
    mv = mauve(real, cand, rng=seed)
    assert (got["sliced_wasserstein"], got["mmd"], got["mauve"]) == pytest.approx((sw, m, mv))
    assert got["extreme_quantile_ratio"] < 1 and got["vendi_score"] > 1


def test_real_sample_falls_back_to_the_reference():
    rng = np.random.default_rng(1)
    real, cand = rng.standard_normal((50, 2)), rng.standard_normal((40, 2)) + 1
    got = compute(["frechet_distance"], context(cand, real, heldout=False))
    assert got["frechet_distance"] == pytest.approx(frechet_distance(cand, real))


def test_prdc_is_computed_once_per_data_and_keyed_by_content(monkeypatch):
    calls = []
    real_prdc = nm._prdc
    monkeypatch.setattr(nm, "_prdc", lambda *a: calls.append(1) or real_prdc(*a))
    rng = np.random.default_rng(2)
    real, cand = rng.standard_normal((60, 3)), rng.standard_normal((60, 3))
    ctx = context(cand, real)
    first = compute(["precision", "recall", "density", "coverage"], ctx)
    assert len(calls) == 1
    cand[:] = real  # modified in place: the cache must not serve the old answer
    second = compute(["precision", "recall"], ctx)
    assert len(calls) == 2
    assert second["precision"] == second["recall"] == 1.0 != first["precision"]


def test_bad_input_names_the_side():
    real = np.zeros((20, 3))
    with pytest.raises(DataError, match="fake: expected 3 column"):
        compute(["precision"], context(np.zeros((20, 2)), real))
    with pytest.raises(DataError, match="finite"):
        compute(["frechet_distance"], context(np.full((20, 3), np.nan), real))
