"""Metric registry: keys, defaults, did-you-mean, and compute()."""

from __future__ import annotations

import numpy as np
import pytest

import modelcollapse.metrics as metrics
from modelcollapse.errors import InvalidParameterError
from modelcollapse.metrics import (
    MetricContext,
    MetricSpec,
    available,
    compute,
    default_metrics,
    get,
    registry,
)
from modelcollapse.metrics.registry import register
from tests.metrics.fakes import FakeGaussian

EXPECTED = {
    "numeric": ["mean", "variance", "variance_ratio", "w2", "nll", "tail_coverage"],
    "discrete": ["support_size", "entropy", "lost_mass", "kl"],
    "text": ["vocab_size", "entropy", "distinct_2", "perplexity", "rare_recall"],
    "regression": ["test_error"],
}


def test_defaults_and_specs():
    for kind, names in EXPECTED.items():
        assert default_metrics(kind) == names
        assert set(names) <= set(available(kind))
        for name in names:
            spec = get(name, kind)
            assert isinstance(spec, MetricSpec)
            assert (spec.name, spec.data_kind) == (name, kind)
            assert spec.citation and spec.description
            assert spec.higher_is_better in (True, False, None)
    assert get("entropy", "text").fn is not get("entropy", "discrete").fn
    assert {n for names in EXPECTED.values() for n in names} <= set(available())
    assert available() == sorted(available())


def test_unknown_names_suggest_close_matches():
    with pytest.raises(InvalidParameterError, match=r"did you mean 'variance_ratio'\?"):
        get("varaince_ratio", "numeric")
    with pytest.raises(InvalidParameterError, match=r"not defined for text data .*discrete"):
        get("lost_mass", "text")
    with pytest.raises(InvalidParameterError, match=r"did you mean 'numeric'\?"):
        default_metrics("numerik")
    with pytest.raises(InvalidParameterError, match="data_kind"):
        MetricContext("images", None, None, None, None, None, np.random.default_rng(0))


def test_compute_checks_every_name_before_computing(monkeypatch):
    calls = []

    def spy(ctx):
        calls.append(ctx)
        return 1

    registry._load_builtins()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after the test
    monkeypatch.setattr(registry, "_DEFAULTS", {k: list(v) for k, v in registry._DEFAULTS.items()})
    register(MetricSpec("spy_metric", "numeric", spy, None, False, "test", "test"))
    ctx = MetricContext(
        "numeric", FakeGaussian([0.0], [[1.0]]), None, None, None, None, np.random.default_rng(0)
    )
    with pytest.raises(InvalidParameterError, match="varience"):
        compute(["spy_metric", "varience"], ctx)
    assert calls == []
    out = compute(["spy_metric", "variance"], ctx)
    assert out == {"spy_metric": 1.0, "variance": 1.0}
    assert all(type(v) is float for v in out.values())
    with pytest.raises(InvalidParameterError, match="list of names"):
        compute("variance", ctx)


def test_package_reexports_the_functional_api():
    for name in (
        "gaussian_w2",
        "gaussian_nll",
        "gaussian_tail_coverage",
        "tail_points",
        "StreamingMetric",
        "default_metrics",
        "compute",
        "MetricContext",
    ):
        assert name in metrics.__all__ and hasattr(metrics, name)
