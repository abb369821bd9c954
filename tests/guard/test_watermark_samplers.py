"""The watermark inside our samplers: the n-gram's tilted draws are exact, its output and the hf
generator's are detected, z falls with substitutions as predicted, and a watermarked simulate
run never writes the key."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from modelcollapse.data.bundled import kjv
from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import InvalidParameterError
from modelcollapse.generators import kneser_ney_sampler
from modelcollapse.generators.kneser_ney import EOS, UNK
from modelcollapse.generators.ngram import NGram
from modelcollapse.guard.watermark import (
    BOS_WORD_CODE,
    PAD_CODE,
    WatermarkConfig,
    resolve_watermark,
    word_codes,
)
from modelcollapse.guard.watermark_detect import detect, detect_documents, detect_text

KEY = "test-key-0123456789abcdef-not-secret"
ENV = "MODELCOLLAPSE_TEST_WM_KEY"


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


def spec(**kw) -> dict:
    return {"key_env": ENV, "gamma": 0.25, "delta": 2.0, **kw}


@pytest.fixture(scope="module")
def train() -> list[str]:
    return [d.text for d in kjv()[:3000]]


def pooled_texts(docs: list[str], words: int = 200) -> list[list[np.ndarray]]:
    """Consecutive documents grouped into texts of at least ``words`` words (as word codes)."""
    texts: list[list[np.ndarray]] = [[]]
    for doc in docs:
        texts[-1].append(word_codes(tokenize(doc)))
        if sum(map(len, texts[-1])) >= words:
            texts.append([])
    return texts[:-1]


def pooled_z(text: list[np.ndarray], cfg: WatermarkConfig) -> float:
    return detect_documents(text, cfg, prefix=[BOS_WORD_CODE]).z


# -- n-gram -----------------------------------------------------------------------------------
@pytest.mark.parametrize("rounds", [None, 1, 0])  # rejection; mixed; only the exact fallback
def test_ngram_tilted_first_token_distribution_is_exact(monkeypatch, rounds):
    """First tokens follow q(w) ~ (p(w | <s>) e^{delta green(<s>, w)}) ** (1/T) exactly."""
    if rounds is not None:
        monkeypatch.setattr(kneser_ney_sampler, "TILT_ROUNDS", rounds)
    docs = [" ".join(np.random.default_rng(i).choice(list("abcdefgh"), 4)) for i in range(60)]
    gen = NGram(n=2, temperature=0.7, max_tokens=1, watermark=spec(delta=1.5)).fit(docs)
    cfg = resolve_watermark(gen.watermark)
    codes = word_codes(gen.outcomes_)
    green = cfg.green_mask(np.array([[BOS_WORD_CODE]]), codes)[0]
    logits = (gen.next_token_log_probs([[]])[0] + 1.5 * green) / 0.7
    logits[UNK] = -np.inf
    q = np.exp(logits - logits.max())
    q /= q.sum()
    out = gen.sample(6000, rng=np.random.default_rng(0))
    index = {w: i for i, w in enumerate(gen.outcomes_)}
    seen = np.bincount([index[d] if d else EOS for d in out], minlength=q.size)
    keep = q > 0
    assert seen[~keep].sum() == 0
    assert stats.chisquare(seen[keep], 6000 * q[keep]).pvalue > 1e-3
    assert seen[green].sum() / 6000 > 0.4  # the bias is visible: green mass well above gamma


@pytest.mark.parametrize("delta", [2.0, 4.0])
def test_ngram_output_of_200_words_is_detected(train, delta):
    gen = NGram(n=3, watermark=spec(delta=delta)).fit(train)
    docs = gen.sample(150, rng=np.random.default_rng(1))
    cfg = resolve_watermark(gen.watermark)
    texts = pooled_texts(docs)
    assert len(texts) >= 8
    z = [pooled_z(t, cfg) for t in texts]
    assert min(z) > 4, z
    # single documents too, through the text API (no model needed)
    per_doc = [detect_text(d, "words", cfg).z for d in docs if len(tokenize(d)) >= 40]
    assert np.median(per_doc) > 3
    # the same model without a watermark, or a different key, shows nothing
    plain = NGram(n=3).fit(train).sample(150, rng=np.random.default_rng(1))
    assert max(pooled_z(t, cfg) for t in pooled_texts(plain)) < 4
    other = WatermarkConfig(KEY[::-1].encode(), delta=delta)
    assert max(pooled_z(t, other) for t in texts) < 4


def test_ngram_watermark_with_wider_context_and_hmac(train):
    gen = NGram(n=2, watermark=spec(context_width=3, seeding="hmac-sha256", delta=3.0))
    docs = gen.fit(train).sample(100, rng=np.random.default_rng(2))
    cfg = resolve_watermark(gen.watermark)
    z = [pooled_z(t, cfg) for t in pooled_texts(docs)]
    assert z and min(z) > 4
    # contexts start from PAD, PAD, <s> exactly as detect pads them
    first = word_codes(tokenize(docs[0]))
    with_pad = detect(first, cfg, prefix=[PAD_CODE, PAD_CODE, BOS_WORD_CODE])
    assert with_pad.n_green == detect(first, cfg, prefix=[BOS_WORD_CODE]).n_green


def test_robustness_curve_follows_the_substitution_model(train):
    """A substituted word breaks its own pair and the next one, so the excess green fraction
    and z scale like (1 - f)^2; the mean z over texts must fall monotonically with f."""
    gen = NGram(n=3, watermark=spec(delta=3.0)).fit(train)
    cfg = resolve_watermark(gen.watermark)
    texts = pooled_texts(gen.sample(300, rng=np.random.default_rng(3)))
    vocab = word_codes(sorted({w for v in train for w in tokenize(v)}))
    rng = np.random.default_rng(4)
    curve = []
    for f in (0.0, 0.1, 0.2, 0.4):
        z = []
        for text in texts:
            attacked = []
            for codes in text:
                codes = codes.copy()
                hit = rng.random(codes.size) < f
                codes[hit] = vocab[rng.integers(0, vocab.size, int(hit.sum()))]
                attacked.append(codes)
            z.append(pooled_z(attacked, cfg))
        curve.append(float(np.mean(z)))
    assert curve[0] > 8
    assert all(a > b for a, b in itertools.pairwise(curve)), curve
    for f, z in zip((0.1, 0.2, 0.4), curve[1:], strict=True):
        assert abs(z / curve[0] - (1 - f) ** 2) < 0.12, (f, curve)


def test_ngram_watermark_parameter(train, monkeypatch):
    gen = NGram(n=2, watermark=spec())
    assert "key" not in gen.get_params()["watermark"] and KEY not in repr(gen)
    assert gen.clone().watermark == spec()
    with pytest.raises(InvalidParameterError, match="inline 'key'"):
        NGram(watermark={"key": KEY}).fit(train[:10])
    fitted = NGram(n=2, watermark={"key_env": "MODELCOLLAPSE_UNSET_KEY"}).fit(train[:50])
    with pytest.raises(InvalidParameterError, match="not set"):  # read when sampling
        fitted.sample(2, rng=np.random.default_rng(0))
    in_memory = NGram(n=2, watermark=WatermarkConfig(KEY.encode())).fit(train[:50])
    assert KEY not in repr(in_memory) and len(in_memory.sample(3, rng=np.random.default_rng(0)))


def test_simulate_never_writes_the_key(tmp_path, caplog, capsys):
    from modelcollapse.loop.config import parse_config
    from modelcollapse.loop.runner import run_experiment

    cfg = parse_config(
        {
            "name": "wm",
            "generations": 1,
            "samples_per_generation": 200,
            "data": {"source": "kjv", "params": {"n_docs": 300, "n_heldout": 50}},
            "model": {"kind": "ngram", "params": {"n": 2, "watermark": spec(delta=3.0)}},
            "metrics": ["vocab_size"],
            "save_samples": True,
        }
    )
    run_experiment(cfg, tmp_path / "run", progress=False)
    key = KEY.encode()
    forms = [key, key.hex().encode(), KEY.encode("utf-16-le")]
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name == "config.yaml" for p in files)
    for path in files:
        data = path.read_bytes()
        assert not any(f in data for f in forms), path
    assert ENV in (tmp_path / "run" / "config.yaml").read_text()
    out = capsys.readouterr()
    assert KEY not in out.out + out.err + caplog.text
    # and the saved synthetic samples do carry the watermark
    import json

    wm = resolve_watermark(spec(delta=3.0))
    samples = [p for p in files if p.suffix == ".jsonl" and p.parent.parent.name == "samples"]
    assert len(samples) == 2  # generations 0 and 1
    for path in samples:
        docs = [json.loads(line)["text"] for line in path.read_text().splitlines()]
        codes = [word_codes(tokenize(d)) for d in docs]
        assert detect_documents(codes, wm, prefix=[BOS_WORD_CODE]).z > 10


# -- hf -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_lm():
    pytest.importorskip("transformers")
    from modelcollapse.generators.hf import HuggingFaceLM

    gen = HuggingFaceLM(model="tiny", init="random", steps=0, device="cpu", threads=1)
    return gen.fit(["In the beginning"], rng=np.random.default_rng(0))


@pytest.mark.slow
def test_hf_sampling_loop_watermark_is_detected(tiny_lm, monkeypatch):
    from modelcollapse.generators import hf_inference
    from modelcollapse.generators.torch_utils import torch_generator

    prefix = tiny_lm._prefix()
    common = dict(eos_id=tiny_lm.eos_id_, max_new_tokens=200, batch_size=6, temperature=1.0)
    common.update(top_k=0, top_p=1.0, device="cpu")
    cfg = resolve_watermark(spec(context_width=2))
    for wm, expect in ((cfg, True), (None, False)):
        gen = torch_generator(np.random.default_rng(5))
        seqs = hf_inference.sample(tiny_lm.model_, prefix, 6, generator=gen, watermark=wm, **common)
        long = [s for s in seqs if len(s) >= 100]
        assert len(long) >= 2
        z = [detect(s, cfg, prefix=prefix).z for s in long]
        assert (min(z) > 4) if expect else (max(z) < 4), z
    # through the generator: the key is read at sample time, the text is decoded
    tiny_lm.set_params(watermark=spec(), max_new_tokens=50)
    try:
        assert len(tiny_lm.sample(2, rng=np.random.default_rng(0))) == 2
        monkeypatch.delenv(ENV)
        with pytest.raises(InvalidParameterError, match="not set"):
            tiny_lm.sample(1, rng=np.random.default_rng(0))
    finally:
        tiny_lm.set_params(watermark=None)


@pytest.mark.slow
def test_logits_processor_inside_generate(tiny_lm):
    """With a huge delta, greedy generate() through the processor picks only green tokens."""
    import torch
    from transformers import LogitsProcessorList

    from modelcollapse.guard.watermark import KirchenbauerLogitsProcessor

    cfg = WatermarkConfig(KEY.encode(), delta=1e4, context_width=2)
    ids = torch.tensor([[*tiny_lm._prefix(), 72, 101]])
    with torch.no_grad():
        out = tiny_lm.model_.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            max_new_tokens=30,
            min_new_tokens=30,
            pad_token_id=0,
            logits_processor=LogitsProcessorList([KirchenbauerLogitsProcessor(cfg)]),
        )
    new = out[0, ids.shape[1] :].numpy()
    d = detect(new, cfg, prefix=ids[0].numpy(), ignore_repeated=False)
    assert d.n_scored == 30 and d.n_green == 30
