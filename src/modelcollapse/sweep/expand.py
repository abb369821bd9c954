"""Expanding a sweep into runs: the grid's cartesian product times the ``runs`` list.

Order: the grid's keys vary like nested loops in file order (the last key fastest, as
``itertools.product``), and for each grid point every ``runs`` entry in turn. So

    grid: {policy.kind: [replace, accumulate], seed: [0, 1]}

gives (replace, 0), (replace, 1), (accumulate, 0), (accumulate, 1).

Each run's id is a short readable slug of its override values plus a hash of the overrides,
e.g. ``kind-replace_seed-0-1f3a9c02``: the same overrides give the same id in every invocation
and on every machine (the hash is SHA-256 of the canonical JSON of the overrides), so a
resumed sweep finds its runs again.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from modelcollapse.errors import InvalidParameterError, ModelCollapseError
from modelcollapse.loop.config import ExperimentConfig, apply_overrides, parse_config
from modelcollapse.sweep.spec import SweepSpec, override_strings

SLUG_MAX = 48
HASH_CHARS = 8


@dataclass(frozen=True)
class Run:
    """One run of a sweep.

    Attributes:
        index: position in the expansion order.
        run_id: directory name under ``DIR/runs/``.
        overrides: dotted key -> value applied to the base config (grid keys, then run keys).
        config: the resolved, validated experiment config.
    """

    index: int
    run_id: str
    overrides: dict[str, Any]
    config: ExperimentConfig


def _canonical(value: Any) -> Any:
    # JSON cannot hold NaN/inf portably; spell them so the hash is defined and stable.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _slug_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(_slug_value(v) for v in value)
    if isinstance(value, dict):
        return "+".join(f"{k}-{_slug_value(v)}" for k, v in value.items())
    return re.sub(r"[^A-Za-z0-9.+]+", "", str(value).replace("_", "-").replace(" ", "-"))


# Short names for the config's own long keys; other keys use their last part (a ``.kind`` key
# its section: ``policy.kind=replace`` -> ``policy-replace``), multi-word ones their initials.
_ABBREVIATIONS = {
    "samples_per_generation": "spg",
    "replicates": "reps",
    "generations": "gens",
    "save_samples": "samples",
    "tokenizer": "tok",
}


def _slug_key(key: str) -> str:
    if key in _ABBREVIATIONS:
        return _ABBREVIATIONS[key]
    parts = key.split(".")
    last = parts[-1]
    if last == "kind" and len(parts) > 1:
        return parts[-2]
    words = [w for w in last.split("_") if w]
    return "".join(w[0] for w in words) if len(words) > 2 else "-".join(words)


def run_id(overrides: dict[str, Any]) -> str:
    """``<slug>-<hash>``: readable ``key-value`` pairs plus 8 hex digits of SHA-256 of the
    overrides. Pairs that would make the slug longer than :data:`SLUG_MAX` are left out and a
    single overlong pair is cut (the hash still covers everything)."""
    digest = hashlib.sha256(
        json.dumps(_canonical(overrides), sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:HASH_CHARS]
    slug = ""
    for key, value in overrides.items():
        pair = re.sub(r"-+", "-", f"{_slug_key(key)}-{_slug_value(value)}").strip("-")
        pair = pair[:SLUG_MAX].rstrip("-_.+")
        candidate = f"{slug}_{pair}" if slug else pair
        if len(candidate) <= SLUG_MAX:
            slug = candidate
    return f"{slug or 'base'}-{digest}"


def _check_buildable(cfg: ExperimentConfig) -> None:
    # What run_experiment checks before it writes anything, minus loading the data: an unknown
    # model/policy parameter or metric fails here, before any run of the sweep starts.
    from modelcollapse.generators import registry as generators
    from modelcollapse.loop.policies import build as build_policy
    from modelcollapse.loop.replicate import metric_names

    template = generators.build(cfg.model.kind, dict(cfg.model.params))
    build_policy(cfg.policy.kind, cfg.policy.params)
    metric_names(cfg, template.data_kind)


def expand(spec: SweepSpec, *, check: bool = True) -> list[Run]:
    """Every run of ``spec`` in expansion order, each config validated.

    Raises InvalidParameterError naming the run's overrides when a run's config is invalid, and
    when two runs resolve to the same config (they would compute the same thing twice).
    """
    keys = list(spec.grid)
    runs: list[Run] = []
    seen: dict[str, Run] = {}
    for point in itertools.product(*(spec.grid[k] for k in keys)):
        for extra in spec.runs:
            overrides = {**dict(zip(keys, point, strict=True)), **extra}
            label = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "the base config"
            raw = apply_overrides(copy.deepcopy(spec.base), override_strings(overrides))
            try:
                cfg = parse_config(raw)
                if check:
                    _check_buildable(cfg)
            except ModelCollapseError as exc:
                raise InvalidParameterError(f"sweep run with {label}: {exc}") from None
            run = Run(len(runs), run_id(overrides), overrides, cfg)
            fingerprint = json.dumps(cfg.model_dump(mode="json"), sort_keys=True)
            if fingerprint in seen or any(r.run_id == run.run_id for r in runs):
                other = seen.get(fingerprint) or next(r for r in runs if r.run_id == run.run_id)
                raise InvalidParameterError(
                    f"sweep runs {other.overrides} and {overrides} resolve to the same config; "
                    "expected every run to differ"
                )
            seen[fingerprint] = run
            runs.append(run)
    return runs


def value_at(config: dict[str, Any], key: str) -> Any:
    """The value of a dotted key in a dumped config, or None when a ``params`` key is unset."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
