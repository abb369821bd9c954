"""Recursive training of the neural language model through ``simulate``'s engine (issue 4).

A tiny ``transformer`` (one layer, 32-dimensional, byte-level BPE with 300 symbols) is trained
on 150 King James verses, then on its own samples. Under ``replace`` the held-out human
per-word perplexity at the last generation is well above generation 0's; under ``accumulate``
(real data plus every synthetic set so far) it stays below ``replace``'s. The model is far too
small to be good, which is the point: the test checks the direction and size of the drift, in
a few seconds per run, with the margins asserted.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("tokenizers", reason="the torch extra is not installed")

from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment

pytestmark = pytest.mark.slow


def _config(policy: str, seed: int) -> dict:
    return {
        "seed": seed,
        "generations": 2,
        "samples_per_generation": 150,
        "data": {"source": "kjv", "params": {"n_docs": 150, "n_heldout": 100}},
        "model": {
            "kind": "transformer",
            "params": {
                "tokenizer": "bpe",
                "vocab_size": 300,
                "n_layer": 1,
                "n_head": 2,
                "n_embd": 32,
                "block_size": 64,
                "steps": 150,
                "batch_size": 32,
                "lr": 0.01,
                "warmup_steps": 10,
                "max_new_tokens": 64,
                "threads": 1,
            },
        },
        "policy": {"kind": policy},
        "metrics": ["perplexity"],
    }


def _perplexity(tmp_path, policy: str, seed: int) -> list[float]:
    out = tmp_path / f"{policy}-{seed}"
    result = run_experiment(parse_config(_config(policy, seed)), out, progress=False)
    table = result.metrics.to_pydict()
    rows = sorted(zip(table["generation"], table["value"], strict=True))
    return [v for _, v in rows]


@pytest.mark.parametrize("seed", [0, 1])
def test_replace_raises_perplexity_and_accumulate_holds_it(tmp_path, seed):
    replace = _perplexity(tmp_path, "replace", seed)
    accumulate = _perplexity(tmp_path, "accumulate", seed)
    assert replace[0] == accumulate[0]  # generation 0 is the same model on the same data
    assert replace[-1] > 1.5 * replace[0], replace
    assert accumulate[-1] < replace[-1], (accumulate, replace)
