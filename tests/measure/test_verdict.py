"""Verdict rules: flags, roles, tolerances and the decision table."""

from __future__ import annotations

import math

import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.verdict import (
    DEFAULT_ROLES,
    TOLERANCES,
    decide,
    down_is_bad,
    effect_of,
    effect_scale,
    is_flagged,
    reaches,
    role_of,
    tolerance_of,
)
from modelcollapse.metrics.registry import ROLES, MetricSpec, get, register


def spec(name="m", higher=True, role=None):
    return MetricSpec(name, "text", lambda ctx: 0.0, higher, False, "c", "d", role)


def test_flag_needs_the_whole_interval_beyond_the_tolerance():
    # down is bad: flagged only when delta_high < -tol * scale
    assert is_flagged(True, -0.5, -0.11, 1.0, 0.1)
    assert not is_flagged(True, -0.5, -0.09, 1.0, 0.1)
    assert not is_flagged(True, -0.5, 0.2, 1.0, 0.0)  # not significant
    # up is bad
    assert is_flagged(False, 0.3, 0.9, 2.0, 0.1)
    assert not is_flagged(False, 0.1, 0.9, 2.0, 0.1)
    # undefined inputs never flag
    assert not is_flagged(None, -9, -9, 1.0, 0.1)
    assert not is_flagged(True, -9, -9, math.nan, 0.1)
    assert not is_flagged(True, math.nan, math.nan, 1.0, 0.1)


@pytest.mark.parametrize(
    ("flags", "roles", "verdict"),
    [
        ({}, {"tail", "fidelity"}, "healthy"),
        ({"tail": ["rare_recall"]}, {"tail", "fidelity"}, "early"),
        ({"tail": ["x"], "diversity": ["y"]}, {"tail", "diversity", "fidelity"}, "early"),
        ({"fidelity": ["perplexity"]}, {"fidelity", "tail"}, "healthy"),
        ({"fidelity": ["p"], "repetition": ["s"]}, {"fidelity", "repetition"}, "late"),
        ({"fidelity": ["p"], "spread": ["v"], "tail": ["t"]}, {"fidelity", "spread"}, "late"),
        ({"diversity": ["d"], "repetition": ["r"]}, {"diversity", "repetition"}, "late"),
        # with a fidelity metric measured and holding, collapse + repetition is early
        ({"diversity": ["d"], "repetition": ["r"]}, {"diversity", "fidelity"}, "early"),
        ({"repetition": ["r"]}, {"repetition", "fidelity"}, "early"),
    ],
)
def test_decision_table(flags, roles, verdict):
    assert decide(flags, roles).verdict == verdict


def test_decision_reasons_name_the_metrics():
    d = decide({"tail": ["rare_recall", "vocab_size"]}, {"tail"})
    assert d.reasons == ["tail: rare_recall, vocab_size flagged"]
    assert "shift" in decide({"fidelity": ["js"]}, {"fidelity"}).reasons[-1]
    with pytest.raises(ValueError, match="expected roles"):
        decide({"bogus": ["x"]}, set())


def test_roles_and_directions():
    assert role_of(spec(role="fidelity")) == "fidelity"
    assert role_of(spec("rare_recall")) == "tail"
    assert role_of(spec("unknown_metric")) is None
    assert role_of(spec("x"), "embedding.frechet_distance") == "fidelity"
    assert down_is_bad(spec(higher=None), "spread") is True
    assert down_is_bad(spec(higher=None), "repetition") is False
    assert down_is_bad(spec(higher=False), "fidelity") is False
    assert down_is_bad(spec(higher=None), "fidelity") is None
    assert down_is_bad(spec(), None) is None
    assert set(DEFAULT_ROLES.values()) <= set(ROLES) and set(TOLERANCES) == set(ROLES)


def test_registered_roles_are_validated():
    with pytest.raises(InvalidParameterError, match="did you mean 'tail'"):
        register(spec("bad_role_metric", role="tails"))
    assert get("frechet_distance", "numeric").role == "fidelity"


def test_tolerances_and_effect_scales():
    assert tolerance_of("tail") == TOLERANCES["tail"]
    assert tolerance_of("tail", {"tail": 0.5}) == 0.5
    assert tolerance_of("fidelity", {"js": 0.3}, "js") == 0.3
    assert tolerance_of("fidelity", None, "js") != TOLERANCES["fidelity"]
    assert math.isnan(tolerance_of(None))
    assert effect_of("embedding.mmd") == "absolute" and effect_of("vocab_size") == "relative"
    assert effect_scale("relative", -4.0, 0.1) == 4.0
    assert effect_scale("relative", 0.001, 0.1) == 0.1
    assert effect_scale("absolute", 123.0, 1.0) == 1.0
    assert effect_scale("variance", 0.0, 0.0, (8.0, 2)) == 8.0
    assert effect_scale("std", 0.0, 0.0, (8.0, 2)) == 2.0
    assert math.isnan(effect_scale("std", 0.0, 0.0, None))


def test_reaches():
    assert reaches("late", "early") and reaches("early", "early")
    assert not reaches("early", "late") and not reaches("healthy", "early")
