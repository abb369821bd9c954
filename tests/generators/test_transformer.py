"""The ``transformer`` generator: contract, exact likelihood, sampling rules, checkpoints.

Models here are tiny (one or two layers, 16-dimensional, tens of steps) and run on one thread:
on a 2-core machine shared with other jobs, intra-op threading only adds overhead at this size.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the torch extra is not installed")

from modelcollapse.data.tokenize import tokenize  # noqa: E402
from modelcollapse.errors import DataError, InvalidParameterError, NotFittedError  # noqa: E402
from modelcollapse.generators.ngram import NGram  # noqa: E402
from modelcollapse.generators.text_tokenizer import BOS, EOS  # noqa: E402
from modelcollapse.generators.transformer import Transformer, windows  # noqa: E402
from modelcollapse.generators.transformer_model import TransformerLM, draw  # noqa: E402
from tests.common.contract import check_generator  # noqa: E402

WORDS = ["the", "lord", "said", "unto", "moses", "and", "aaron", ",", ".", ";", "of", "israel"]


def corpus(n: int = 40, seed: int = 14) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, 9))) for _ in range(n)]


def tiny(**kw) -> Transformer:
    params = dict(
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=32,
        steps=20,
        batch_size=8,
        warmup_steps=2,
        tokenizer="char",
        max_new_tokens=24,
        threads=1,
        device="cpu",
    )
    params.update(kw)
    return Transformer(**params)


@pytest.fixture(scope="module")
def fitted() -> Transformer:
    gen = tiny(n_layer=2, block_size=8, steps=150, lr=1e-2)
    return gen.fit(corpus(), rng=np.random.default_rng(0))


def full_logits(model: TransformerLM, ids: list[int]) -> np.ndarray:
    """Next-token logits after ``ids``, one unpadded forward pass without cache (float64)."""
    with torch.no_grad():
        return model(torch.tensor([ids]))[0, -1].double().numpy()


def manual_log_prob(gen: Transformer, doc: str) -> float:
    """``sum_i log softmax(logits(s[a(i):i]))[s_i]``, one prefix at a time, softmax in numpy."""
    block = gen.model_.block_size
    stride = block // 2
    s = [BOS, *gen.tokenizer_.encode([doc])[0], EOS]
    total = 0.0
    for i in range(1, len(s)):
        a = 0 if i <= block else math.ceil((i - block) / stride) * stride
        logits = full_logits(gen.model_, s[a:i])
        p = np.exp(logits - logits.max())
        p /= p.sum()
        assert p[:2].sum() == 0.0  # <pad> and <bos> are never predicted
        np.testing.assert_allclose(p.sum(), 1.0, rtol=0, atol=1e-12)
        total += math.log(p[s[i]])
    return total


def greedy(gen: Transformer, n_tokens: int) -> str:
    """Argmax decoding with full forward passes over the same windows as ``log_prob``."""
    block = gen.model_.block_size
    s = [BOS]
    for _ in range(n_tokens):
        i = len(s)
        a = 0 if i <= block else math.ceil((i - block) / (block // 2)) * (block // 2)
        nxt = int(np.argmax(full_logits(gen.model_, s[a:i])))
        if nxt == EOS:
            break
        s.append(nxt)
    return gen.tokenizer_.decode([s[1:]])[0]


# -- the contract ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: tiny(),
        lambda: tiny(tokenizer="bpe", vocab_size=300, block_size=8, temperature=1.5, top_k=5),
        lambda: tiny(block_size=6, top_p=0.9, dropout=0.1),
    ],
    ids=["char", "bpe-sliding-topk", "char-window-topp-dropout"],
)
def test_contract(make) -> None:
    check_generator(make, corpus(), n=16)


def test_fit_requires_rng_and_valid_params() -> None:
    with pytest.raises(InvalidParameterError, match="rng"):
        tiny().fit(corpus())
    for bad in (
        {"n_embd": 15},
        {"tokenizer": "word"},
        {"top_p": 1.5},
        {"top_k": 0},
        {"dropout": 1.0},
        {"temperature": 0},
        {"block_size": 1},
        {"vocab_size": 100},
        {"epochs": -1.0},
        {"device": "tpu"},
    ):
        with pytest.raises(InvalidParameterError):
            tiny(**bad).fit(corpus(), rng=np.random.default_rng(0))
    with pytest.raises(DataError):
        tiny().fit(["ok", 3], rng=np.random.default_rng(0))
    with pytest.raises(NotFittedError):
        tiny().log_prob(["a"])


# -- exact likelihood -----------------------------------------------------------------------
def test_log_prob_is_the_exact_sum_of_next_token_log_probs(fitted: Transformer) -> None:
    docs = ["the lord said", "", "moses and aaron , of israel ;", "unseen: Zq!"]
    expected = [manual_log_prob(fitted, d) for d in docs]
    np.testing.assert_allclose(fitted.log_prob(docs), expected, rtol=1e-5, atol=1e-5)


def test_long_documents_use_the_documented_sliding_windows(fitted: Transformer) -> None:
    # block_size 8: these documents need several windows of stride 4
    docs = ["the lord said unto moses and aaron", "israel " * 7]
    assert all(len(ids) + 1 > 8 for ids in fitted.tokenizer_.encode(docs))
    expected = [manual_log_prob(fitted, d) for d in docs]
    np.testing.assert_allclose(fitted.log_prob(docs), expected, rtol=1e-5, atol=1e-5)


def test_windows_count_every_target_once() -> None:
    for block in (2, 3, 8):
        seqs = [list(range(4, 4 + n)) for n in (0, 1, 5, 17, 40)]
        tokens, first, length, doc = windows(seqs, block)
        assert tokens.shape[1] == block + 1
        counted = np.bincount(doc, weights=length - first, minlength=len(seqs))
        np.testing.assert_array_equal(counted, [len(s) + 1 for s in seqs])


def test_kv_cache_gives_the_same_logits_as_full_forward(fitted: Transformer) -> None:
    model, ids = fitted.model_, [BOS, 5, 6, 7, 8, 9, 10]
    cache: list = []
    with torch.no_grad():
        step = [model(torch.tensor([ids[:1]]), cache=cache)[0, -1]]
        step += [model(torch.tensor([[t]]), cache=cache)[0, -1] for t in ids[1:]]
        full = model(torch.tensor([ids]))[0]
    torch.testing.assert_close(torch.stack(step), full, rtol=1e-5, atol=1e-5)


def test_token_counts_are_words_like_ngram(fitted: Transformer) -> None:
    docs = ["In the beginning, God.", "", "a  b\tc"]
    np.testing.assert_array_equal(fitted.token_counts(docs), NGram().token_counts(docs))
    np.testing.assert_array_equal(fitted.token_counts(docs), [len(tokenize(d)) + 1 for d in docs])


def test_training_lowers_the_loss() -> None:
    gen = tiny(steps=60, lr=1e-2).fit(corpus(), rng=np.random.default_rng(1))
    assert gen.loss_curve_[-10:].mean() < 0.8 * gen.loss_curve_[:3].mean()


# -- sampling -------------------------------------------------------------------------------
def test_small_temperature_top_k_1_and_tiny_top_p_are_greedy(fitted: Transformer) -> None:
    # 20 tokens with block_size 8: greedy decoding crosses the sliding-window re-encodes
    expected = greedy(fitted, 20)
    for knobs in ({"temperature": 1e-6}, {"top_k": 1}, {"top_p": 1e-9}):
        gen = fitted.clone().set_params(max_new_tokens=20, **knobs)
        gen.load_state_dict(fitted.state_dict())
        assert gen.sample(3, rng=np.random.default_rng(5)) == [expected] * 3, knobs


def test_draw_follows_softmax_of_logits_over_temperature() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0, -3.0]]).repeat(40_000, 1)
    gen = torch.Generator().manual_seed(0)
    for t in (0.5, 1.0, 2.0):
        draws = draw(logits, gen, temperature=t).numpy()
        p = np.exp(logits[0].numpy() / t)
        np.testing.assert_allclose(
            np.bincount(draws, minlength=5) / len(draws), p / p.sum(), atol=0.01
        )
    top_k = draw(logits, gen, top_k=2).numpy()
    assert set(np.unique(top_k)) == {0, 1}
    # top_p=0.8 keeps the smallest set of mass >= 0.8: {0, 1} (mass 0.86), renormalised
    top_p = draw(logits, gen, top_p=0.8).numpy()
    p = np.exp([2.0, 1.0])
    assert set(np.unique(top_p)) == {0, 1}
    np.testing.assert_allclose(np.mean(top_p == 0), p[0] / p.sum(), atol=0.01)


def test_samples_stop_at_max_new_tokens(fitted: Transformer) -> None:
    gen = fitted.clone().set_params(max_new_tokens=3, tokenizer="char")
    gen.load_state_dict(fitted.state_dict())
    out = gen.sample(50, rng=np.random.default_rng(0))
    assert all(len(s) <= 3 for s in out) and any(len(s) == 3 for s in out)


def test_fitting_and_sampling_leave_global_torch_rng_alone() -> None:
    before = torch.random.get_rng_state()
    gen = tiny(dropout=0.2).fit(corpus(), rng=np.random.default_rng(0))
    gen.sample(5, rng=np.random.default_rng(0))
    assert torch.equal(before, torch.random.get_rng_state())


# -- warm start and checkpoints -------------------------------------------------------------
def test_warm_start_continues_from_the_loaded_weights_and_tokenizer(fitted: Transformer) -> None:
    other = ["completely different text!"] * 20
    warm = fitted.clone().set_params(warm_start=True, steps=5)
    warm.load_state_dict(fitted.state_dict())
    warm.fit(corpus(), rng=np.random.default_rng(3))
    cold = fitted.clone().set_params(steps=5).fit(corpus(), rng=np.random.default_rng(3))
    # the pretrained model starts far below a fresh one on the same data
    assert warm.loss_curve_[0] < cold.loss_curve_[0] - 0.3, (warm.loss_curve_, cold.loss_curve_)
    warm.fit(other, rng=np.random.default_rng(4))
    assert warm.tokenizer_.to_json() == fitted.tokenizer_.to_json()  # tokenizer kept
    # without warm_start a loaded model is refitted from scratch: same as a fresh fit
    again = fitted.clone().set_params(steps=5)
    again.load_state_dict(fitted.state_dict()).fit(corpus(), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(again.loss_curve_, cold.loss_curve_)


def test_state_is_plain_arrays_and_round_trips_without_pickle(fitted: Transformer) -> None:
    state = fitted.state_dict()
    assert all(v.dtype.kind in "iuf" for v in state.values())
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = fitted.clone().load_state_dict({k: npz[k] for k in npz.files})
    docs = corpus(10, seed=3)
    np.testing.assert_array_equal(loaded.log_prob(docs), fitted.log_prob(docs))


def test_bad_states_raise_clear_errors(fitted: Transformer) -> None:
    state = fitted.state_dict()
    with pytest.raises(DataError, match="tokenizer"):
        fitted.clone().load_state_dict({k: v for k, v in state.items() if k != "tokenizer"})
    with pytest.raises(DataError, match="tokenizer"):
        fitted.clone().load_state_dict({**state, "tokenizer": state["tokenizer"][:50]})
    with pytest.raises(DataError, match="tokenizer"):
        fitted.clone().load_state_dict({**state, "tokenizer": np.full(9, 255, np.uint8)})
    with pytest.raises(DataError, match="weights"):
        bad = {**state, "model.wpe.weight": np.zeros((3, 3), np.float32)}
        fitted.clone().load_state_dict(bad)
    with pytest.raises(InvalidParameterError, match="does not match"):
        fitted.clone().load_state_dict({k: v for k, v in state.items() if k != "model.ln_f.bias"})
    with pytest.raises(InvalidParameterError, match="n_embd"):
        fitted.clone().set_params(n_embd=32).load_state_dict(state)


def test_watermarked_samples_are_detected(monkeypatch) -> None:
    """Kirchenbauer green-list bias in the sampling loop: ~200-token samples detect at z > 4,
    the same model's unwatermarked samples do not, and the key never enters the params."""
    from modelcollapse.guard.watermark import resolve_watermark
    from modelcollapse.guard.watermark_detect import detect_text

    monkeypatch.setenv("MC_TEST_WM_KEY", "transformer-test-key")
    spec = {"key_env": "MC_TEST_WM_KEY", "gamma": 0.25, "delta": 4.0}
    docs = [f"and the lord spake unto moses saying {w} {w}" for w in "abcdefghij"] * 4
    params = dict(
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=64,
        tokenizer="char",
        steps=2,  # nearly untrained: rarely ends early, so samples run to 200 tokens
        batch_size=8,
        max_new_tokens=200,
        device="cpu",
        threads=1,
    )
    plain = Transformer(**params).fit(docs, rng=np.random.default_rng(0))
    marked = Transformer(**params, watermark=spec).load_state_dict(plain.state_dict())
    assert "transformer-test-key" not in repr(marked.get_params())
    cfg = resolve_watermark(spec)
    long = [
        d for d in marked.sample(6, rng=np.random.default_rng(1)) if len(d) >= 150
    ]  # chars = tokens
    assert long, "expected some long samples"
    for doc in long:
        assert detect_text(doc, marked.tokenizer_, cfg).z > 4
    for doc in plain.sample(6, rng=np.random.default_rng(1)):
        if len(doc) >= 150:
            assert detect_text(doc, plain.tokenizer_, cfg).z < 4


def test_watermark_false_positive_rate_on_human_kjv(monkeypatch) -> None:
    """Human verses, tokenised by a transformer's char tokenizer: z > 4 in at most 1%, for
    several keys. (The mean z of a corpus moves with the key, by up to about 0.8 with h = 1 on
    characters: every verse repeats the same few character pairs, so one key's colouring of
    them shifts all verses alike. Per-document false positives stay rare.)"""
    from modelcollapse.data.sources import load_real
    from modelcollapse.guard.watermark import resolve_watermark
    from modelcollapse.guard.watermark_detect import detect_text
    from modelcollapse.loop.config import DataConfig

    real = load_real(
        DataConfig(source="kjv", params={"n_docs": 300, "n_heldout": 600}), seed=0, replicate=0
    )
    model = Transformer(
        n_layer=1, n_head=2, n_embd=16, block_size=64, tokenizer="char", steps=1, device="cpu"
    ).fit(list(real.train), rng=np.random.default_rng(0))
    for key in ("transformer-test-key", "another-test-key-0", "another-test-key-1"):
        monkeypatch.setenv("MC_TEST_WM_KEY", key)
        cfg = resolve_watermark({"key_env": "MC_TEST_WM_KEY", "gamma": 0.25, "delta": 4.0})
        z = np.array([detect_text(doc, model.tokenizer_, cfg).z for doc in real.heldout])
        assert np.mean(z > 4) <= 0.01, key


# -- real data ------------------------------------------------------------------------------
@pytest.mark.slow
def test_beats_the_unigram_baseline_on_held_out_kjv_verses() -> None:
    """A 2-layer, 64-wide model, 1,000 steps on 5,000 KJV verses (about 20 s on 2 quiet cores):
    held-out perplexity under half the unigram word model's and under 2% of its own before
    training (measured: 131, unigram above 300, untrained about 11,000). The 1M-parameter
    comparison with the trigram model takes minutes: benchmarks/transformer_kjv.py."""
    from modelcollapse.data.sources import load_real
    from modelcollapse.loop.config import DataConfig

    real = load_real(
        DataConfig(source="kjv", params={"n_docs": 5000, "n_heldout": 300}), seed=0, replicate=0
    )
    train, held = list(real.train), list(real.heldout)

    def ppl(model: Transformer | NGram) -> float:
        return math.exp(-model.log_prob(held).sum() / model.token_counts(held).sum())

    params = dict(n_layer=2, n_head=4, n_embd=64, vocab_size=2000, batch_size=32, device="cpu")
    untrained = Transformer(**params, steps=1, lr=1e-9).fit(train, rng=np.random.default_rng(0))
    model = Transformer(**params, steps=1000).fit(train, rng=np.random.default_rng(0))
    unigram = ppl(NGram(n=1).fit(train))
    assert ppl(model) < 0.5 * unigram, (ppl(model), unigram)
    assert ppl(model) < 0.02 * ppl(untrained), (ppl(model), ppl(untrained))


# -- prompted continuations -----------------------------------------------------------------
def test_continue_texts_keeps_prompts_order_and_is_reproducible(fitted: Transformer) -> None:
    prompts = ["the l", "mo", "", "and a", "mo"]
    a = fitted.continue_texts(prompts, rng=np.random.default_rng(3))
    b = fitted.continue_texts(prompts, rng=np.random.default_rng(3))
    assert a == b and len(a) == len(prompts)
    for p, doc in zip(prompts, a, strict=True):
        assert doc.startswith(p)
    assert a != fitted.continue_texts(prompts, rng=np.random.default_rng(4))


def test_continue_texts_draws_from_the_conditional_after_the_prompt() -> None:
    """One new token per prompt, many times: its frequencies match softmax(logits | bos, prompt)."""
    gen = tiny(max_new_tokens=1).fit(corpus(), rng=np.random.default_rng(0))
    prompt = "the lo"
    n = 4000
    docs = gen.continue_texts([prompt] * n, rng=np.random.default_rng(5))
    ids = [BOS, *gen.tokenizer_.encode([prompt])[0]]
    logits = full_logits(gen.model_, ids)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    counts: dict[str, int] = {}
    for d in docs:
        counts[d[len(prompt) :]] = counts.get(d[len(prompt) :], 0) + 1
    # the text each outcome appends (decoding may merge outcomes, e.g. a trailing space and <eos>)
    expected: dict[str, float] = {}
    for i in range(len(p)):
        if p[i] > 0:
            tail = "" if i == EOS else gen.tokenizer_.decode([[*ids[1:], i]])[0][len(prompt) :]
            expected[tail] = expected.get(tail, 0.0) + p[i]
    assert set(counts) <= set(expected)
    for tok, q in expected.items():
        if q * n >= 20:  # enough draws for a binomial check at 5 standard deviations
            sd = math.sqrt(n * q * (1 - q))
            assert abs(counts.get(tok, 0) - n * q) < 5 * sd, (tok, counts.get(tok, 0), n * q)


def test_continue_texts_rejects_prompts_longer_than_the_context(fitted: Transformer) -> None:
    with pytest.raises(InvalidParameterError, match=r"prompts\[1\].*block_size"):
        fitted.continue_texts(["the", "x" * 40], rng=np.random.default_rng(0))
    with pytest.raises(NotFittedError):
        tiny().continue_texts(["the"], rng=np.random.default_rng(0))
