"""Every shipped example config loads, and its model fits its data source's kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcollapse import generators
from modelcollapse.loop.config import load_config
from modelcollapse.loop.policies import build as build_policy
from modelcollapse.loop.replicate import metric_names

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
# sweep_*.yaml are sweep files (a base config plus a grid), not experiment configs.
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.yaml") if not p.stem.startswith("sweep_"))
SWEEPS = sorted(EXAMPLES_DIR.glob("sweep_*.yaml"))
SOURCE_KIND = {
    "gaussian": "numeric",
    "categorical": "discrete",
    "linear": "regression",
    "kjv": "text",
    "digits": "numeric",
}


def test_examples_exist():
    names = {p.stem for p in EXAMPLES}
    assert {"transformer_kjv", "transformer_kjv_fresh", "transformer_kjv_accumulate"} <= names
    assert {"vae_digits", "smollm2_kjv", "ngram_kjv_replace", "gaussian_mle"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_config_is_valid(path):
    cfg = load_config(path)
    cls = generators.get(cfg.model.kind)
    kind = SOURCE_KIND.get(cfg.data.source, cfg.data.params.get("kind"))
    assert cls.data_kind == kind, (cfg.model.kind, cfg.data.source)
    build_policy(cfg.policy.kind, cfg.policy.params)
    metric_names(cfg, cls.data_kind)  # every named metric exists for the data kind


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_example_sweep_is_valid(path):
    from modelcollapse.sweep import expand, load_sweep

    runs = expand(load_sweep(path))  # every run's config, model, policy and metrics check out
    assert len(runs) > 1 and len({r.run_id for r in runs}) == len(runs)
