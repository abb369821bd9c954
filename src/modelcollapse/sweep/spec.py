"""Sweep files: a base experiment config plus a grid and/or a list of dotted-key overrides.

A sweep file (YAML)::

    name: gaussian-arms                # optional; default: the file's stem
    base: gaussian_mle.yaml            # a config file, relative to this file ...
    # config: {...}                    # ... or the base config inline (exactly one of the two)
    grid:                              # cartesian product over dotted config keys
      policy.kind: [replace, accumulate]
      samples_per_generation: [50, 200]
    runs:                              # and/or a list of override mappings (grid x runs)
      - {}                             # the grid point as it is
      - {model.params.scale: 1.5}
    set: {replicates: 200}             # optional: fixed overrides of the base, not swept

Every key is a dotted path into :class:`~modelcollapse.loop.config.ExperimentConfig`
(``seed``, ``policy.kind``, ``model.params.estimator``, ...). Keys are checked against the
config schema when the file is loaded, with a "did you mean" suggestion for a typo; anything
below a free-form ``params`` mapping is checked when each run's model and policy are built,
also before anything runs.
"""

from __future__ import annotations

import copy
import difflib
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from modelcollapse.errors import InvalidParameterError, did_you_mean
from modelcollapse.loop.config import (
    ExperimentConfig,
    _resolve_data_path,
    apply_overrides,
    load_config,
    parse_config,
    read_yaml,
)

SWEEP_KEYS = ("name", "base", "config", "set", "grid", "runs")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep file.

    Attributes:
        name: the sweep's name (MLflow experiment name, report title).
        base: the resolved base config, as a plain mapping (``ExperimentConfig`` dumped to JSON
            types, defaults filled in, relative data paths made absolute, ``set`` applied).
        grid: dotted key -> non-empty list of values, in file order.
        runs: list of override mappings (``[{}]`` when the file has no ``runs``).
        path: the sweep file, when loaded from one.
    """

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    runs: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    path: Path | None = None

    @property
    def swept_keys(self) -> list[str]:
        """Every key that varies or is set by a run: grid keys, then run keys, first-seen order."""
        keys = dict.fromkeys(self.grid)
        for run in self.runs:
            keys.update(dict.fromkeys(run))
        return list(keys)

    def identity(self) -> dict[str, Any]:
        """What decides the sweep's results (the name does not): compared on resume."""
        return _plain({"base": self.base, "grid": self.grid, "runs": self.runs})


def _plain(obj: Any) -> Any:
    # A YAML round trip gives the form the stored sweep.yaml reads back as (tuples become
    # lists, etc.), so a stored sweep compares equal to the one that wrote it.
    return yaml.safe_load(yaml.safe_dump(obj, sort_keys=False))


# -- dotted keys ---------------------------------------------------------------------------------
def _is_free_mapping(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict or annotation is dict


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def config_paths(model: type[BaseModel] = ExperimentConfig, prefix: str = "") -> list[str]:
    """Every dotted key the config schema defines (sections and values), e.g. ``policy.kind``."""
    out: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        if _is_model(info.annotation):
            out.extend(config_paths(info.annotation, f"{path}."))
    return out


def check_key(key: Any, where: str) -> str:
    """Check that ``key`` is a dotted config key; raise InvalidParameterError with a suggestion.

    Free-form ``params`` mappings accept any sub-key (the model or policy validates them).
    """
    if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
        raise InvalidParameterError(
            f"{where}: expected a dotted config key such as 'policy.kind', got {key!r}"
        )
    parts = key.split(".")
    model: type[BaseModel] = ExperimentConfig
    for i, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            # Correct the one mistyped part and keep the rest, so 'model.param.scale' suggests
            # 'model.params.scale' rather than a bare section name.
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            if close:
                hint = f" (did you mean {'.'.join([*parts[:i], close[0], *parts[i + 1 :]])!r}?)"
            else:
                hint = did_you_mean(key, config_paths())
            section = ".".join(parts[:i]) or "the config"
            raise InvalidParameterError(
                f"{where}: unknown config key {key!r}{hint}; expected one of "
                f"{', '.join(fields)} in {section}"
            )
        annotation = fields[part].annotation
        rest = parts[i + 1 :]
        if not rest or _is_free_mapping(annotation):
            return key
        if not _is_model(annotation):
            raise InvalidParameterError(
                f"{where}: config key {'.'.join(parts[: i + 1])!r} is a value, not a section; "
                f"expected no sub-key, got {key!r}"
            )
        model = annotation
    return key  # pragma: no cover - the loop always returns


def override_strings(overrides: dict[str, Any]) -> list[str]:
    """``{key: value}`` as the ``key=value`` strings :func:`~modelcollapse.loop.config.apply_overrides`
    (the function behind ``simulate --set``) takes.

    apply_overrides parses each value as YAML; a flow-style YAML dump of the value round-trips it
    exactly (``1.0e-05`` stays a float, ``"1e3"`` stays a string).
    """
    return [
        f"{key}={yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()}"
        for key, value in overrides.items()
    ]


# -- the file ------------------------------------------------------------------------------------
def _check_grid(grid: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(grid, dict):
        raise InvalidParameterError(
            f"{where}: expected a mapping of dotted keys to lists of values, got "
            f"{type(grid).__name__}"
        )
    if not grid:
        raise InvalidParameterError(
            f"{where}: expected at least one key with a list of values, got an empty grid"
        )
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        check_key(key, f"{where}.{key}")
        if not isinstance(values, list):
            raise InvalidParameterError(
                f"{where}.{key}: expected a list of values such as [a, b], got "
                f"{type(values).__name__} {values!r}"
            )
        if not values:
            raise InvalidParameterError(
                f"{where}.{key}: expected a non-empty list of values, got []"
            )
        out[key] = list(values)
    return out


def _check_runs(runs: Any, where: str, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    if not isinstance(runs, list):
        raise InvalidParameterError(
            f"{where}: expected a list of mappings of dotted keys to values, got "
            f"{type(runs).__name__}"
        )
    if not runs:
        raise InvalidParameterError(f"{where}: expected at least one run, got an empty list")
    out = []
    for i, run in enumerate(runs):
        if run is None:
            run = {}
        if not isinstance(run, dict):
            raise InvalidParameterError(
                f"{where}[{i}]: expected a mapping of dotted keys to values, got "
                f"{type(run).__name__} {run!r}"
            )
        for key in run:
            check_key(key, f"{where}[{i}]")
            if key in grid:
                raise InvalidParameterError(
                    f"{where}[{i}]: key {key!r} is also in grid; expected each key in grid or "
                    "in runs, not both"
                )
        out.append(dict(run))
    return out


def _check_set(fixed: Any, where: str) -> dict[str, Any]:
    if not isinstance(fixed, dict):
        raise InvalidParameterError(
            f"{where}: expected a mapping of dotted keys to values, got {type(fixed).__name__}"
        )
    for key in fixed:
        check_key(key, where)
    return dict(fixed)


def _base_config(raw: dict[str, Any], path: Path | None, fixed: dict[str, Any]) -> dict[str, Any]:
    has_base, has_inline = "base" in raw, "config" in raw
    if has_base == has_inline:
        raise InvalidParameterError(
            f"{path or 'sweep'}: expected exactly one of 'base' (a config file) or 'config' "
            f"(an inline config), got {'both' if has_base else 'neither'}"
        )
    folder = path.parent if path is not None else Path.cwd()
    if has_base:
        base = raw["base"]
        if not isinstance(base, str) or not base.strip():
            raise InvalidParameterError(
                f"{path or 'sweep'}: base: expected the path of a config file, got {base!r}"
            )
        base_path = Path(base).expanduser()
        if not base_path.is_absolute():
            base_path = folder / base_path
        cfg = load_config(base_path)
    else:
        inline = raw["config"]
        if not isinstance(inline, dict):
            raise InvalidParameterError(
                f"{path or 'sweep'}: config: expected a mapping (an experiment config), got "
                f"{type(inline).__name__}"
            )
        inline = copy.deepcopy(inline)
        _resolve_data_path(inline, folder)
        cfg = parse_config(inline)
    if fixed:
        patched = apply_overrides(cfg.model_dump(mode="json"), override_strings(fixed))
        try:
            cfg = parse_config(patched)
        except InvalidParameterError as exc:
            raise InvalidParameterError(f"{path or 'sweep'}: set: {exc}") from None
    return cfg.model_dump(mode="json")


def parse_sweep(raw: Any, *, path: Path | None = None) -> SweepSpec:
    """Validate a sweep mapping (see the module docstring) into a :class:`SweepSpec`."""
    where = str(path) if path is not None else "sweep"
    if not isinstance(raw, dict):
        raise InvalidParameterError(
            f"{where}: expected a mapping with base/config and grid and/or runs, got "
            f"{type(raw).__name__}"
        )
    for key in raw:
        if key not in SWEEP_KEYS:
            raise InvalidParameterError(
                f"{where}: unknown sweep key {key!r}{did_you_mean(str(key), SWEEP_KEYS)}; "
                f"expected one of {', '.join(SWEEP_KEYS)} (config keys go under grid or runs)"
            )
    if raw.get("grid") is None and raw.get("runs") is None:
        raise InvalidParameterError(
            f"{where}: expected 'grid' (a mapping of dotted keys to lists) or 'runs' (a list of "
            "overrides), got neither"
        )
    prefix = f"{path}: " if path is not None else ""
    fixed = _check_set(raw["set"], f"{prefix}set") if raw.get("set") is not None else {}
    base = _base_config(raw, path, fixed)
    grid = _check_grid(raw["grid"], f"{prefix}grid") if raw.get("grid") is not None else {}
    runs = _check_runs(raw["runs"], f"{prefix}runs", grid) if raw.get("runs") is not None else [{}]
    for key in fixed:
        if key in grid or any(key in run for run in runs):
            raise InvalidParameterError(
                f"{prefix}set: key {key!r} is also swept; expected each key in set or in "
                "grid/runs, not both"
            )
    name = raw.get("name", path.stem if path is not None else base.get("name", "sweep"))
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"{where}: name: expected a non-empty string, got {name!r}")
    return SweepSpec(name=name, base=base, grid=grid, runs=runs, path=path)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file."""
    path = Path(path)
    return parse_sweep(read_yaml(path, "sweep file"), path=path)
