"""Evaluation sets for detectors: KJV verses paired with continuations of their prompts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import InvalidParameterError, NotFittedError
from modelcollapse.generators.ngram import NGram
from modelcollapse.guard.eval_data import (
    HUMAN,
    SYNTHETIC,
    build_detection_set,
    ngram_continue,
    normalize_text,
)

CORPUS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And God said, Let there be light: and there was light.",
]


def amen(prompts, rng):
    return [p + " amen" for p in prompts]


def test_pairs_and_labels():
    ds = build_detection_set(amen, n_per_class=40, rng=0, prompt_tokens=4)
    assert len(ds.docs) == 80 and ds.labels.tolist() == [HUMAN] * 40 + [SYNTHETIC] * 40
    for h, s in zip(ds.human, ds.synthetic, strict=True):
        assert s == normalize_text(" ".join(tokenize(h)[:4]) + " amen")
        assert len(tokenize(h)) >= 4 + 3  # prompt + min_new_tokens
    assert ds.citations[:40] == ds.citations[40:]
    again = build_detection_set(amen, n_per_class=40, rng=0, prompt_tokens=4)
    assert again.docs == ds.docs


def test_splits_are_disjoint():
    train = build_detection_set(amen, n_per_class=300, rng=1, split="train")
    held = build_detection_set(amen, n_per_class=300, rng=1, split="heldout")
    assert not set(train.citations) & set(held.citations)


def test_bad_arguments():
    with pytest.raises(InvalidParameterError, match="at most"):
        build_detection_set(amen, n_per_class=10**6, rng=0)
    with pytest.raises(InvalidParameterError):
        build_detection_set(amen, n_per_class=5, rng=0, split="test")
    with pytest.raises(InvalidParameterError, match="continuer"):
        build_detection_set(lambda p, r: p[:-1], n_per_class=5, rng=0)


def test_ngram_continue():
    model = NGram(n=3).fit(CORPUS)
    prompts = ["And God said,", "Unknown words here"]
    out = ngram_continue(model, prompts, rng=np.random.default_rng(0), max_new_tokens=6)
    assert out == ngram_continue(model, prompts, rng=np.random.default_rng(0), max_new_tokens=6)
    for p, doc in zip(prompts, out, strict=True):
        assert tokenize(doc)[: len(tokenize(p))] == tokenize(p)
        assert len(tokenize(doc)) <= len(tokenize(p)) + 6
    # a seen context continues with what the corpus says next (T -> 0 is greedy)
    greedy = ngram_continue(model, ["Let there be"], rng=np.random.default_rng(1), temperature=0.01)
    assert greedy[0].startswith("Let there be light")
    with pytest.raises(NotFittedError):
        ngram_continue(NGram(), ["x"], rng=np.random.default_rng(0))
    with pytest.raises(InvalidParameterError):
        ngram_continue(model, ["x"], rng=np.random.default_rng(0), temperature=0)


@given(st.text(max_size=100))
def test_normalize_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once and tokenize(once) == tokenize(text)


def test_transformer_continuer_builds_a_detection_set():
    pytest.importorskip("torch", reason="the torch extra is not installed")
    from modelcollapse.generators.transformer import Transformer
    from modelcollapse.guard.eval_data import transformer_continuer

    model = Transformer(
        n_layer=1, n_head=2, n_embd=16, block_size=64, steps=30, batch_size=8,
        tokenizer="bpe", vocab_size=300, max_new_tokens=20, threads=1, device="cpu", temperature=1.0,
    ).fit(CORPUS * 4, rng=np.random.default_rng(0))  # fmt: skip
    cont = transformer_continuer(model, temperature=0.7)
    ds = build_detection_set(cont, n_per_class=12, rng=3, prompt_tokens=4)
    for h, s in zip(ds.human, ds.synthetic, strict=True):
        prompt = normalize_text(" ".join(tokenize(h)[:4]))
        assert s.startswith(prompt)  # byte-level BPE encodes any prompt exactly
    assert model.temperature == 1.0  # the override is temporary
    again = build_detection_set(cont, n_per_class=12, rng=3, prompt_tokens=4)
    assert again.docs == ds.docs
    with pytest.raises(InvalidParameterError, match="temperature"):
        transformer_continuer(model, temperature=0.0)(["In the"], np.random.default_rng(0))
