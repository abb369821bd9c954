"""Vectorised kernels give exactly what the registered metrics give on the same resamples."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.measure.arms import one_sample_layout, two_sample_layout
from modelcollapse.measure.evaluate import evaluate, text_tables
from modelcollapse.measure.kernels import TEXT_KERNELS, text_kernel
from modelcollapse.metrics.registry import MetricSpec, get


@pytest.fixture(scope="module")
def small(verses):
    perm = np.random.default_rng(7).permutation(len(verses))
    # Short documents too, so that some resamples have documents without 4-grams.
    ref = [verses[i] for i in perm[:160]] + ["Amen.", "Selah", "Jesus wept."]
    cand = [verses[i] for i in perm[160:290]] + ["And", "O Lord"]
    return ref, cand


@pytest.mark.parametrize("tokenizer", [None, "words", "lower:regex:[a-z]+"])
@pytest.mark.parametrize("name", sorted(TEXT_KERNELS))
def test_kernel_equals_generic_path(name, tokenizer, small):
    ref, cand = small
    spec = get(name, "text")
    kernel = text_kernel(name, spec.fn)
    assert kernel is not None, f"{name}: the registered function is not the one mirrored"
    build = two_sample_layout if spec.needs_reference else one_sample_layout
    layout = build(ref, cand, 12, np.random.default_rng(5))
    generic = evaluate(spec, "text", layout, n_boot=12, seed=1, tokenizer=tokenizer)
    fast = evaluate(
        spec, "text", layout, n_boot=12, seed=1, kernel=kernel,
        tables=text_tables(layout, tokenizer), tokenizer=tokenizer,
    )  # fmt: skip
    assert fast.vectorised and not generic.vectorised
    np.testing.assert_allclose(fast.candidate, generic.candidate, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.reference, generic.reference, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.candidate_reps, generic.candidate_reps, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.reference_reps, generic.reference_reps, rtol=1e-12, atol=1e-15)


def test_a_reregistered_metric_falls_back_to_the_generic_path():
    spec = get("vocab_size", "text")

    def other(ctx):  # same name, another definition
        return 0.0

    imposter = MetricSpec("vocab_size", "text", other, True, False, "c", "d")
    assert text_kernel("vocab_size", spec.fn) is not None
    assert text_kernel("vocab_size", imposter.fn) is None
    assert text_kernel("self_bleu", get("self_bleu", "text").fn) is None


def test_the_tokenizer_reaches_both_paths(small):
    ref, cand = small
    spec = get("vocab_size", "text")
    layout = one_sample_layout(ref, cand, 4, np.random.default_rng(5))
    kernel = text_kernel("vocab_size", spec.fn)
    values = {}
    for tok in ("whitespace", "words"):
        tables = text_tables(layout, tok)
        fast = evaluate(spec, "text", layout, n_boot=4, seed=1, kernel=kernel, tables=tables)
        generic = evaluate(spec, "text", layout, n_boot=4, seed=1, tokenizer=tok)
        assert fast.candidate == generic.candidate
        values[tok] = fast.candidate
    # "earth," and "earth." are words of their own under whitespace, one word under words
    assert values["whitespace"] > values["words"]
