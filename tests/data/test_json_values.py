"""JSON-value helpers: ``first_difference`` names where two stored settings differ."""

from __future__ import annotations

from modelcollapse.data.json_values import first_difference


def test_first_difference_names_the_first_differing_key():
    a = {"plan": {"z": 4.0, "shards": ["a", "b"]}, "seed": 1, "x": float("nan")}
    assert first_difference(a, {**a, "x": float("nan")}) is None  # NaN equals NaN here
    assert first_difference(a, {**a, "seed": 2}) == "seed"
    assert first_difference(a, {**a, "plan": {"z": 4.0, "shards": ["a", "c"]}}) == "plan.shards.1"
    assert first_difference(a, {**a, "plan": {"z": 4.0, "shards": ["a"]}}) == "plan.shards"
    assert first_difference(a, {**a, "new": 1}) == "new"
    assert first_difference(1, 2) == "<root>" and first_difference([], []) is None
