"""Sweep files: parsing, dotted-key validation with suggestions, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import InvalidParameterError
from modelcollapse.sweep import load_sweep, parse_sweep
from modelcollapse.sweep.spec import check_key, config_paths

from .conftest import small_config, write_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_base_file_relative_to_sweep_file(tmp_path: Path) -> None:
    base = tmp_path / "configs" / "base.yaml"
    base.parent.mkdir()
    base.write_text(yaml.safe_dump(small_config()), encoding="utf-8")
    sweep = tmp_path / "configs" / "s.yaml"
    sweep.write_text("base: base.yaml\ngrid: {seed: [0, 1]}\n", encoding="utf-8")
    spec = load_sweep(sweep)
    assert spec.name == "s"  # default name: the file's stem
    assert spec.base["samples_per_generation"] == 40
    assert spec.base["policy"] == {"kind": "replace", "params": {}}  # defaults filled in
    assert spec.grid == {"seed": [0, 1]} and spec.runs == [{}]
    assert spec.swept_keys == ["seed"]


def test_example_sweep_loads() -> None:
    spec = load_sweep(EXAMPLES / "sweep_gaussian.yaml")
    assert spec.swept_keys == ["policy.kind", "samples_per_generation", "seed"]
    assert spec.base["replicates"] == 200  # `set` applied to the base
    assert spec.base["name"] == "gaussian-mle"


def test_set_applies_fixed_overrides(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path / "s.yaml",
            set={"replicates": 7, "model.params.scale": 2.0},
            grid={"seed": [0]},
        )
    )
    assert spec.base["replicates"] == 7
    assert spec.base["model"]["params"] == {"estimator": "mle", "scale": 2.0}
    assert spec.swept_keys == ["seed"]


def test_runs_list_and_grid_keys(tmp_path: Path) -> None:
    spec = load_sweep(
        write_sweep(
            tmp_path / "s.yaml",
            grid={"seed": [0, 1]},
            runs=[{}, {"model.params.estimator": "unbiased"}, None],
        )
    )
    assert spec.runs == [{}, {"model.params.estimator": "unbiased"}, {}]
    assert spec.swept_keys == ["seed", "model.params.estimator"]


def test_relative_data_path_in_inline_config(tmp_path: Path) -> None:
    cfg = small_config()
    cfg["data"] = {"source": "path", "params": {"path": "data/x.npy"}}
    spec = load_sweep(write_sweep(tmp_path / "s.yaml", config=cfg, grid={"seed": [0]}))
    assert spec.base["data"]["params"]["path"] == str((tmp_path / "data" / "x.npy").resolve())


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("policy.knd", "policy.kind"),
        ("sample_per_generation", "samples_per_generation"),
        ("model.param.scale", "model.params.scale"),
        ("seeds", "seed"),
        ("dta.source", "data.source"),
    ],
)
def test_unknown_key_suggests(key: str, suggestion: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"did you mean '{suggestion}'"):
        check_key(key, "grid")


def test_keys_below_params_are_free_and_values_have_no_subkeys() -> None:
    assert check_key("model.params.anything_at_all", "grid") == "model.params.anything_at_all"
    assert check_key("policy.params.lambda_", "grid") == "policy.params.lambda_"
    with pytest.raises(InvalidParameterError, match="'seed' is a value, not a section"):
        check_key("seed.x", "grid")
    for bad in ("", "a..b", ".seed", 3, None):
        with pytest.raises(InvalidParameterError, match="expected a dotted config key"):
            check_key(bad, "grid")
    assert {"policy.kind", "model.params", "samples_per_generation"} <= set(config_paths())


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"grid": {"policy.knd": ["replace"]}},
            r"grid\.policy\.knd: unknown config key.*did you mean 'policy\.kind'",
        ),
        ({"grid": {}}, "expected at least one key with a list of values, got an empty grid"),
        (
            {"grid": {"seed": 3}},
            r"grid\.seed: expected a list of values such as \[a, b\], got int 3",
        ),
        ({"grid": {"seed": "0, 1"}}, "expected a list of values.*got str"),
        ({"grid": {"seed": []}}, r"grid\.seed: expected a non-empty list of values, got \[\]"),
        ({"grid": [["seed", 1]]}, "expected a mapping of dotted keys to lists of values, got list"),
        ({"runs": []}, "expected at least one run, got an empty list"),
        ({"runs": {"seed": 1}}, "expected a list of mappings.*got dict"),
        ({"runs": [1]}, r"runs\[0\]: expected a mapping of dotted keys to values, got int"),
        ({"runs": [{"seedd": 1}]}, r"runs\[0\]: unknown config key 'seedd'.*did you mean 'seed'"),
        ({"grid": {"seed": [0]}, "runs": [{"seed": 1}]}, "is also in grid"),
        ({"grid": {"seed": [0]}, "set": {"seed": 1}}, "is also swept"),
        ({"grid": {"seed": [0]}, "set": {"replicates": 0}}, "set: config key 'replicates'"),
        ({"grdi": {"seed": [0]}}, "unknown sweep key 'grdi' \\(did you mean 'grid'\\?\\)"),
        ({}, "expected 'grid'.*or 'runs'.*got neither"),
        ({"grid": {"seed": [0]}, "name": ""}, "name: expected a non-empty string"),
    ],
)
def test_bad_sweep_files(tmp_path: Path, sections: dict, message: str) -> None:
    path = write_sweep(tmp_path / "bad.yaml", **sections)
    with pytest.raises(InvalidParameterError, match=message):
        load_sweep(path)


def test_base_and_config_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"exactly one of 'base'.*got both"):
        parse_sweep({"base": "x.yaml", "config": small_config(), "grid": {"seed": [0]}})
    with pytest.raises(InvalidParameterError, match=r"exactly one of 'base'.*got neither"):
        parse_sweep({"grid": {"seed": [0]}})
    with pytest.raises(InvalidParameterError, match="sweep file not found"):
        load_sweep(tmp_path / "missing.yaml")
    missing_base = tmp_path / "m.yaml"
    missing_base.write_text("base: nowhere.yaml\ngrid: {seed: [0]}\n", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="config file not found"):
        load_sweep(missing_base)
    with pytest.raises(InvalidParameterError, match="config: expected a mapping"):
        parse_sweep({"config": [1], "grid": {"seed": [0]}})
    with pytest.raises(InvalidParameterError, match="expected a mapping with base/config"):
        parse_sweep([1, 2])


def test_invalid_yaml_and_encoding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {seed: [0, 1\n", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_sweep(bad)
    bad.write_bytes(b"grid: \xff\xfe\n")
    with pytest.raises(InvalidParameterError, match="expected UTF-8 text"):
        load_sweep(bad)


_yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    grid=st.one_of(_yaml_values, st.dictionaries(st.text(max_size=12), _yaml_values, max_size=3)),
    runs=_yaml_values,
)
def test_arbitrary_input_gives_typed_errors_only(grid: object, runs: object) -> None:
    # Whatever a sweep file holds, loading it either works or raises InvalidParameterError.
    raw = {"config": small_config(), "grid": grid, "runs": runs}
    try:
        spec = parse_sweep(raw)
    except InvalidParameterError:
        return
    assert all(isinstance(v, list) and v for v in spec.grid.values())
    assert all(isinstance(r, dict) for r in spec.runs)
