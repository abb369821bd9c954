"""Candidates with a known answer get the right verdict (issue 3, "Verdict").

Text: 1,000 held-out KJV verses as the reference against
- 1,000 other held-out verses (healthy);
- those verses without their rare words, the words seen at most 20 times in the whole KJV
  (the tails removed: early);
- generation 10 of a trigram replace chain started from 1,000 KJV verses, read from the run
  store of ``run_experiment`` (late).

Numeric: 2,000 points of N(0, I_4) against another 2,000 (healthy), against points with every
coordinate inside ±2 (extreme points dropped: early), and against N(0.5, 0.1 I_4), the
contracted, drifted Gaussian that recursive fitting ends in (Shumailov et al. 2024, Sec. 3; late).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from modelcollapse.data.bundled import kjv, kjv_split
from modelcollapse.data.tokenize import detokenize, tokenize
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment
from modelcollapse.measure import measure

SETTINGS = {"rng": 0, "n_boot": 100, "n_boot_expensive": 20}


@pytest.fixture(scope="module")
def human():
    held = [d.text for d in kjv_split()[1]]
    perm = np.random.default_rng(0).permutation(len(held))
    return [held[i] for i in perm[:1000]], [held[i] for i in perm[1000:2000]]


def without_rare_words(docs: list[str], max_count: int = 20) -> list[str]:
    counts = Counter(t for d in kjv() for t in tokenize(d.text))
    out = []
    for doc in docs:
        kept = [t for t in tokenize(doc) if counts[t] > max_count]
        if kept:
            out.append(detokenize(kept))
    return out


@pytest.fixture(scope="module")
def generation_10(tmp_path_factory) -> list[str]:
    cfg = parse_config(
        {
            "name": "known-late", "seed": 0, "generations": 10, "replicates": 1,
            "samples_per_generation": 1000,
            "data": {"source": "kjv", "params": {"n_docs": 1000, "n_heldout": 10}},
            "model": {"kind": "ngram", "params": {"n": 3}},
            "policy": {"kind": "replace"}, "metrics": ["vocab_size"], "save_samples": True,
        }
    )  # fmt: skip
    out = tmp_path_factory.mktemp("late_run")
    run_experiment(cfg, out, progress=False)
    path = out / "samples" / "rep_00000" / "gen_0010.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_held_out_human_text_is_healthy(human):
    ref, other = human
    result = measure(ref, other, **SETTINGS)
    assert result.verdict == "healthy", result.reasons
    assert not result.flagged


def test_text_without_its_tails_is_early(human):
    ref, other = human
    result = measure(ref, without_rare_words(other), **SETTINGS)
    assert result.verdict == "early", result.reasons
    assert result.metrics["vocab_size"].flagged
    assert not result.metrics["perplexity"].flagged  # the bulk still fits


def test_generation_10_of_a_replace_chain_is_late(human, generation_10):
    ref, _ = human
    result = measure(ref, generation_10, **SETTINGS)
    assert result.verdict == "late", result.reasons
    assert result.metrics["perplexity"].flagged and result.metrics["rare_recall"].flagged


@pytest.fixture(scope="module")
def gaussian():
    rng = np.random.default_rng(0)
    ref, other = rng.standard_normal((2000, 4)), rng.standard_normal((2000, 4))
    x = rng.standard_normal((6000, 4))
    trimmed = x[(np.abs(x) < 2.0).all(axis=1)][:2000]
    collapsed = 0.5 + np.sqrt(0.1) * rng.standard_normal((2000, 4))
    return ref, other, trimmed, collapsed


@pytest.mark.parametrize(("which", "verdict"), [(1, "healthy"), (2, "early"), (3, "late")])
def test_gaussian_known_answers(gaussian, which, verdict):
    result = measure(
        gaussian[0], gaussian[which], kind="numeric", rng=0, n_boot=100, n_boot_expensive=10
    )
    assert result.verdict == verdict, result.reasons
    if verdict == "early":
        assert result.metrics["extreme_quantile_ratio"].flagged
        assert not any(m.flagged for m in result.metrics.values() if m.role == "fidelity")
