"""The text metrics registered for ``measure``: measure-mode contexts (no model), specs, values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.bundled import kjv_split
from modelcollapse.errors import DataError
from modelcollapse.generators.ngram import NGram
from modelcollapse.metrics import (
    MetricContext,
    compression_ratio,
    compute,
    default_metrics,
    get,
    model_perplexity,
    ngram_diversity,
    rep_n,
    self_bleu,
    self_repetition,
    unigram_js,
    unigram_kl,
    zipf_exponent,
)

NEW = {
    "ngram_diversity": True,
    "compression_ratio": False,
    "self_bleu": False,
    "self_repetition": False,
    "rep_n": False,
    "kl": False,
    "js": False,
    "zipf_exponent": None,
}


def measure_ctx(candidate, reference):
    return MetricContext(
        "text", None, candidate, reference, reference, None, np.random.default_rng(0)
    )


def test_specs_and_loop_defaults_unchanged():
    for name, higher in NEW.items():
        spec = get(name, "text")
        assert spec.higher_is_better is higher
        assert spec.needs_reference is (name in ("kl", "js"))
        assert spec.citation and spec.description
        assert name not in default_metrics(
            "text"
        )  # the simulation loop's defaults stay as they were
    assert get("kl", "text").fn is not get("kl", "discrete").fn
    assert get("perplexity", "text").expensive


def test_measure_mode_values_equal_the_functions():
    train, heldout = kjv_split()
    cand = [d.text for d in train[:300]]
    ref = [d.text for d in heldout[:300]]
    out = compute([*NEW, "perplexity", "entropy", "rare_recall"], measure_ctx(cand, ref))
    assert out["ngram_diversity"] == ngram_diversity(cand)
    assert out["compression_ratio"] == compression_ratio(cand)
    assert out["self_bleu"] == self_bleu(cand)
    assert out["self_repetition"] == self_repetition(cand)
    assert out["rep_n"] == rep_n(cand)
    assert out["kl"] == unigram_kl(cand, ref)
    assert out["js"] == unigram_js(cand, ref)
    assert out["zipf_exponent"] == zipf_exponent(cand)
    # No model in measure mode: a trigram model is fitted on the candidate, the reference scored.
    assert out["perplexity"] == pytest.approx(model_perplexity(NGram(n=3).fit(cand), ref))
    assert all(math.isfinite(v) for v in out.values())


def test_a_repetitive_candidate_moves_every_metric_the_bad_way():
    train, heldout = kjv_split()
    ref = [d.text for d in heldout[:400]]
    healthy = compute(list(NEW), measure_ctx([d.text for d in train[:400]], ref))
    collapsed = compute(list(NEW), measure_ctx([d.text for d in train[:10]] * 40, ref))
    for name, higher in NEW.items():
        if higher is True:
            assert collapsed[name] < healthy[name], name
        elif higher is False:
            assert collapsed[name] > healthy[name], name


@settings(max_examples=40, deadline=None)
@given(
    cand=st.lists(st.text(max_size=40), min_size=2, max_size=8),
    ref=st.lists(st.text(max_size=40), min_size=1, max_size=8),
)
def test_arbitrary_unicode_gives_a_value_or_nan_never_a_crash(cand, ref):
    out = compute(list(NEW), measure_ctx(cand, ref))
    for name, value in out.items():
        assert isinstance(value, float), name
        assert math.isnan(value) or math.isfinite(value), name
    assert math.isnan(out["js"]) or 0 <= out["js"] <= math.log(2) + 1e-12
    assert math.isnan(out["kl"]) or out["kl"] >= 0
    assert 0 <= out["self_bleu"] <= 1 + 1e-12


def test_no_documents_is_a_data_error():
    for name in NEW:
        with pytest.raises(DataError):
            compute([name], measure_ctx([], ["a reference"]))
