"""Experiment configuration: pydantic models loaded from YAML, validated on load.

Errors are reported on one line naming the key, what was expected and what was found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from modelcollapse.errors import InvalidParameterError, did_you_mean

DATA_SOURCES = ("gaussian", "categorical", "linear", "kjv", "digits", "path")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    source: Literal["gaussian", "categorical", "linear", "kjv", "digits", "path"]
    params: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Strict):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class PolicyConfig(_Strict):
    kind: str = "replace"
    params: dict[str, Any] = Field(default_factory=dict)


class ExperimentConfig(_Strict):
    name: str = "experiment"
    seed: int = Field(default=0, ge=0)
    generations: int = Field(ge=1)
    replicates: int = Field(default=1, ge=1)
    samples_per_generation: int = Field(ge=1)
    data: DataConfig
    model: ModelConfig
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    metrics: list[str] = Field(default_factory=list)
    save_samples: bool = False
    # How text metrics tokenize (modelcollapse.data.tokenize.get_tokenizer): whitespace, words,
    # regex:PATTERN, lower:SPEC. The models keep their own tokenizers.
    tokenizer: str = "whitespace"

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must be a non-empty string")
        return v

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer_ok(cls, v: str) -> str:
        from modelcollapse.data.tokenize import check_tokenizer

        try:
            return check_tokenizer(v)
        except InvalidParameterError as exc:
            raise ValueError(str(exc).removeprefix("tokenizer: ")) from None


def _format_validation_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "<root>"
    found = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = ExperimentConfig
        for part in err["loc"][:-1]:
            field = parent.model_fields.get(str(part))
            parent = getattr(field, "annotation", None) if field else None
            if parent is None:
                break
        fields = (
            list(parent.model_fields)
            if parent is not None and hasattr(parent, "model_fields")
            else []
        )
        return f"config key {key!r} is not allowed{did_you_mean(str(err['loc'][-1]), fields)}; expected one of {', '.join(fields)}"
    if kind == "missing":
        return f"config key {key!r} is required but missing"
    msg = err["msg"]
    if kind == "literal_error":
        expected = msg.removeprefix("Input should be ")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        return f"config key {key!r}: expected {expected}, got {found!r}{did_you_mean(str(found), choices)}"
    return f"config key {key!r}: {msg[0].lower() + msg[1:]}, got {found!r}"


def parse_config(raw: Any) -> ExperimentConfig:
    """Validate a mapping into an ExperimentConfig, raising InvalidParameterError on one line."""
    if not isinstance(raw, dict):
        raise InvalidParameterError(
            f"config: expected a mapping of keys to values, got {type(raw).__name__}"
        )
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidParameterError(_format_validation_error(exc)) from None


def _coerce(value: str) -> Any:
    # YAML parsing gives ints, floats, bools, lists and null the way a config file would.
    return yaml.safe_load(value)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a raw config mapping."""
    for item in overrides:
        if "=" not in item:
            raise InvalidParameterError(f"--set: expected key=value, got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = raw
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = _coerce(value)
    return raw


def _resolve_data_path(raw: dict[str, Any], base: Path) -> None:
    # A relative data path written in a config file means "next to the config", so examples
    # run from any directory. Paths given with --set stay relative to the working directory.
    data = raw.get("data")
    params = data.get("params") if isinstance(data, dict) else None
    if isinstance(params, dict) and isinstance(params.get("path"), str):
        p = Path(params["path"]).expanduser()
        if not p.is_absolute():
            params["path"] = str((base / p).resolve())


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """The YAML document in ``path``; errors name the file (and the line of a syntax error)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError(f"{what} not found: {path}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InvalidParameterError(
            f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    except UnicodeDecodeError:
        raise InvalidParameterError(f"{path}: expected UTF-8 text") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    path = Path(path)
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if isinstance(raw, dict):
        _resolve_data_path(raw, path.parent)
        raw = apply_overrides(raw, overrides or [])
    return parse_config(raw)


def dump_config(cfg: ExperimentConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
