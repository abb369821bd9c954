"""The ``tokenizer`` key of an experiment config: validated on load, used by the text metrics."""

from __future__ import annotations

import pytest
import yaml

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment

BASE = {
    "name": "tok", "seed": 0, "generations": 1, "replicates": 1, "samples_per_generation": 40,
    "data": {"source": "kjv", "params": {"n_docs": 60, "n_heldout": 20}},
    "model": {"kind": "ngram", "params": {"n": 2}},
    "metrics": ["vocab_size", "distinct_2", "perplexity"],
}  # fmt: skip


def test_default_and_validation():
    assert parse_config(BASE).tokenizer == "whitespace"
    assert parse_config({**BASE, "tokenizer": "lower:regex:[a-z]+"}).tokenizer == (
        "lower:regex:[a-z]+"
    )
    with pytest.raises(InvalidParameterError, match=r"'tokenizer'.*did you mean 'words'"):
        parse_config({**BASE, "tokenizer": "wordss"})
    with pytest.raises(InvalidParameterError, match=r"'tokenizer'.*regular expression"):
        parse_config({**BASE, "tokenizer": "regex:["})


def _values(tmp_path, tokenizer: str | None) -> dict[tuple[int, str], float]:
    cfg = parse_config(BASE if tokenizer is None else {**BASE, "tokenizer": tokenizer})
    out = tmp_path / (tokenizer or "default")
    result = run_experiment(cfg, out, progress=False)
    stored = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert stored["tokenizer"] == cfg.tokenizer  # saved next to the results
    rows = result.metrics.to_pylist()
    return {(r["generation"], r["metric"]): r["value"] for r in rows}


def test_the_runs_text_metrics_use_the_configured_tokenizer(tmp_path):
    default, words = _values(tmp_path, None), _values(tmp_path, "words")
    assert default == _values(tmp_path, "whitespace")
    # same seed, same samples: only the metrics' tokenization differs
    assert words[0, "vocab_size"] != default[0, "vocab_size"]
    assert words[0, "perplexity"] == default[0, "perplexity"]  # per model token
