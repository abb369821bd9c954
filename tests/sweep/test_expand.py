"""Grid/list expansion: sizes, order, stable and distinct run ids, per-run validation."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import InvalidParameterError
from modelcollapse.sweep import expand, load_sweep, parse_sweep, run_id

from .conftest import small_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _spec(**sections):
    return parse_sweep({"config": small_config(), **sections})


def test_grid_order_is_nested_loops_in_file_order() -> None:
    runs = expand(_spec(grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 1, 2]}))
    assert [(r.overrides["policy.kind"], r.overrides["seed"]) for r in runs] == [
        ("replace", 0), ("replace", 1), ("replace", 2),
        ("accumulate", 0), ("accumulate", 1), ("accumulate", 2),
    ]  # fmt: skip
    assert [r.index for r in runs] == list(range(6))
    assert runs[4].config.policy.kind == "accumulate" and runs[4].config.seed == 1


def test_grid_times_runs() -> None:
    runs = expand(
        _spec(
            grid={"seed": [0, 1]},
            runs=[{}, {"model.params.estimator": "unbiased"}, {"samples_per_generation": 10}],
        )
    )
    assert len(runs) == 6
    assert [r.overrides for r in runs[:3]] == [
        {"seed": 0},
        {"seed": 0, "model.params.estimator": "unbiased"},
        {"seed": 0, "samples_per_generation": 10},
    ]
    assert runs[1].config.model.params == {"estimator": "unbiased"}
    assert runs[2].config.samples_per_generation == 10
    assert runs[0].config.samples_per_generation == 40  # the base value


def test_runs_only() -> None:
    runs = expand(_spec(runs=[{"seed": 3}, {"seed": 4, "generations": 2}]))
    assert [(r.config.seed, r.config.generations) for r in runs] == [(3, 4), (4, 2)]


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 3), min_size=1, max_size=3))
def test_product_size(sizes: list[int]) -> None:
    keys = ["seed", "samples_per_generation", "generations"][: len(sizes)]
    grid = {k: list(range(1, n + 1)) for k, n in zip(keys, sizes, strict=True)}
    runs = expand(_spec(grid=grid))
    assert len(runs) == math.prod(sizes)
    assert len({r.run_id for r in runs}) == len(runs)  # distinct ids


def test_example_expands_to_eight_distinct_runs() -> None:
    runs = expand(load_sweep(EXAMPLES / "sweep_gaussian.yaml"))
    assert len(runs) == 8
    ids = [r.run_id for r in runs]
    assert len(set(ids)) == 8
    assert ids[0] == "policy-replace_spg-50_seed-0-e7380413"


def test_run_id_is_stable_readable_and_order_independent_in_hash() -> None:
    rid = run_id({"policy.kind": "accumulate", "seed": 1})
    # Pinned: ids name directories of earlier sweeps, so they must never change.
    assert rid == "policy-accumulate_seed-1-40e1da25"
    expected = hashlib.sha256(b'{"policy.kind":"accumulate","seed":1}').hexdigest()[:8]
    assert rid.endswith(f"-{expected}")
    assert run_id({"policy.kind": "accumulate", "seed": 1}) == rid
    assert run_id({"policy.kind": "accumulate", "seed": 2}) != rid
    assert run_id({"seed": 1, "policy.kind": "accumulate"}).endswith(rid[-8:])
    assert run_id({}).startswith("base-")
    long = run_id({"data.params.path": "/very/long/" + "x" * 100, "seed": 0})
    assert len(long) <= 48 + 9 and long.startswith("path-")


def test_run_id_is_stable_across_processes() -> None:
    # A fresh interpreter has a different hash() seed; the id must not depend on it.
    code = "from modelcollapse.sweep import run_id; print(run_id({'policy.kind': 'accumulate', 'seed': 1}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == run_id({"policy.kind": "accumulate", "seed": 1})


def test_invalid_run_config_names_the_run() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"run with seed=0, policy\.kind='nope'.*policy"
    ):
        expand(_spec(grid={"seed": [0], "policy.kind": ["nope"]}))
    with pytest.raises(
        InvalidParameterError, match=r"model\.params\.estimatr='mle'.*model\.params"
    ):
        expand(_spec(grid={"model.params.estimatr": ["mle"]}))
    with pytest.raises(
        InvalidParameterError, match=r"samples_per_generation=0.*samples_per_generation"
    ):
        expand(_spec(grid={"samples_per_generation": [10, 0]}))
    with pytest.raises(InvalidParameterError, match="metric"):
        expand(_spec(grid={"metrics": [["variance"], ["varianse"]]}))


def test_duplicate_runs_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="resolve to the same config"):
        expand(_spec(grid={"seed": [1, 1]}))
    with pytest.raises(InvalidParameterError, match="resolve to the same config"):
        expand(_spec(runs=[{}, {"seed": 0}]))  # seed 0 is the base's seed
