"""Green lists: the vectorised PRF against a slow per-token implementation of its definition,
its Bernoulli(gamma) statistics, the numpy / torch / transformers biases agreeing, and keys."""

from __future__ import annotations

import hashlib
import hmac
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.watermark import (
    PAD_CODE,
    WatermarkConfig,
    as_codes,
    check_watermark_spec,
    last_context,
    load_key,
    resolve_watermark,
    word_codes,
)

KEY = b"test-key-0123456789abcdef-not-secret"
MASK = 2**64 - 1


# -- the definition, one token at a time with Python integers ---------------------------------
def fmix(z: int) -> int:
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def slow_green(key: bytes, ctx: list[int], tok: int, gamma: float, seeding: str) -> bool:
    """Green-ness of one (context, token) pair, written from the module docstring."""
    phi = 0x9E3779B97F4A7C15
    d = hashlib.sha256(b"modelcollapse.watermark.v1\x00" + key).digest()
    k0, k1, k2 = (int.from_bytes(d[8 * i : 8 * i + 8], "little") for i in range(3))
    ctx = [c & MASK for c in ctx]  # -1 = PAD = 2**64 - 1
    if seeding == "mix64":
        s = k0
        for c in ctx:
            s = fmix(s ^ fmix((c * phi + k2) & MASK))
    else:
        msg = b"".join(c.to_bytes(8, "little") for c in ctx)
        s = int.from_bytes(hmac.digest(key, msg, "sha256")[:8], "little")
    u = fmix(s ^ fmix((tok * phi + k1) & MASK))
    return u < int(gamma * 2.0**64)


@pytest.mark.parametrize("seeding", ["mix64", "hmac-sha256"])
@pytest.mark.parametrize("h", [1, 2, 3])
def test_vectorised_green_equals_per_token_loop(seeding, h):
    rng = np.random.default_rng(h)
    cfg = WatermarkConfig(KEY, gamma=0.3, context_width=h, seeding=seeding)
    ctx = rng.integers(-1, 1000, size=(40, h))  # includes -1 (padding)
    vocab = 300
    mask = cfg.green_mask(ctx, vocab)
    slow = np.array(
        [[slow_green(KEY, row.tolist(), t, 0.3, seeding) for t in range(vocab)] for row in ctx]
    )
    np.testing.assert_array_equal(mask, slow)
    tokens = rng.integers(0, vocab, size=40)
    np.testing.assert_array_equal(cfg.is_green(ctx, tokens), mask[np.arange(40), tokens])
    # large codes (word hashes) go through the same arithmetic
    big = word_codes(["in", "the", "beginning", "God"])
    ctx_big = np.tile(big[:1], (4, h))
    expected = [slow_green(KEY, [int(big[0])] * h, int(t), 0.3, seeding) for t in big]
    assert cfg.is_green(ctx_big, big).tolist() == expected
    np.testing.assert_array_equal(cfg.green_mask(ctx_big[:1], big)[0], expected)


def test_context_uses_last_h_ids_and_pads_short_rows():
    cfg = WatermarkConfig(KEY, context_width=2)
    long = np.array([[5, 6, 7, 8], [1, 2, 3, 4]])
    np.testing.assert_array_equal(cfg.green_mask(long, 50), cfg.green_mask(long[:, -2:], 50))
    short = last_context(np.array([[9]]), 2)
    assert short.tolist() == [[int(PAD_CODE), 9]]
    np.testing.assert_array_equal(
        cfg.green_mask(np.array([[9]]), 50), cfg.green_mask(np.array([[-1, 9]]), 50)
    )
    assert last_context(np.zeros((3, 0), np.int64), 2).tolist() == [[int(PAD_CODE)] * 2] * 3


def test_green_is_bernoulli_gamma_and_independent():
    """|G| per context ~ Binomial(V, gamma); neighbouring tokens, contexts and keys independent."""
    gamma, vocab = 0.25, 20_000
    cfg = WatermarkConfig(KEY, gamma=gamma)
    other = WatermarkConfig(KEY[::-1], gamma=gamma)
    ctx = np.arange(30)[:, None]
    mask = cfg.green_mask(ctx, vocab)
    sizes = mask.sum(axis=1)
    sd = np.sqrt(vocab * gamma * (1 - gamma))
    assert np.all(np.abs(sizes - gamma * vocab) < 4.5 * sd)
    # one pooled binomial test, then pairwise independence (P(both) = gamma^2)
    n = mask.size
    assert stats.binomtest(int(mask.sum()), n, gamma).pvalue > 1e-4
    pairs = {
        "next token": (mask[:, :-1], mask[:, 1:]),
        "next context": (mask[:-1], mask[1:]),
        "other key": (mask, other.green_mask(ctx, vocab)),
    }
    for name, (a, b) in pairs.items():
        both = int((a & b).sum())
        assert stats.binomtest(both, a.size, gamma**2).pvalue > 1e-4, name
    # gamma is honoured across its range
    for g in (0.05, 0.5, 0.9):
        frac = WatermarkConfig(KEY, gamma=g).green_mask(ctx[:5], vocab).mean()
        assert abs(frac - g) < 0.01


def test_bias_logits_adds_delta_to_green_only():
    rng = np.random.default_rng(0)
    cfg = WatermarkConfig(KEY, delta=3.5)
    logits = rng.standard_normal((6, 100))
    ctx = rng.integers(0, 100, size=(6, 1))
    out = cfg.bias_logits(logits, ctx)
    np.testing.assert_allclose(out - logits, 3.5 * cfg.green_mask(ctx, 100), atol=1e-12)
    with pytest.raises(DataError, match="2-D"):
        cfg.bias_logits(logits[0], ctx)


@pytest.mark.slow  # importing transformers takes seconds
def test_torch_apply_and_logits_processor_equal_bias_logits():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from modelcollapse.guard.watermark import KirchenbauerLogitsProcessor, apply_watermark

    rng = np.random.default_rng(1)
    cfg = WatermarkConfig(KEY, delta=2.0, context_width=2, seeding="hmac-sha256")
    input_ids = torch.from_numpy(rng.integers(0, 257, size=(5, 7)))
    scores = torch.from_numpy(rng.standard_normal((5, 257)).astype(np.float32))
    expected = cfg.bias_logits(scores.numpy().astype(np.float64), input_ids.numpy())
    for out in (
        apply_watermark(scores, input_ids, cfg),
        KirchenbauerLogitsProcessor(cfg)(input_ids, scores),
    ):
        assert out.dtype == scores.dtype and out.shape == scores.shape
        np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-6)
    from transformers import LogitsProcessor

    assert issubclass(KirchenbauerLogitsProcessor, LogitsProcessor)
    with pytest.raises(InvalidParameterError):
        KirchenbauerLogitsProcessor({"delta": 2})


# -- keys -------------------------------------------------------------------------------------
def test_repr_and_public_params_never_show_the_key():
    cfg = WatermarkConfig(KEY)
    fingerprint = hashlib.sha256(KEY).hexdigest()[:12]
    for text in (repr(cfg), str(cfg), str(cfg.public_params())):
        assert KEY.decode() not in text and KEY.hex() not in text
    assert f"<redacted sha256:{fingerprint}>" in repr(cfg)
    assert cfg.public_params()["key_sha256"] == fingerprint
    assert pickle.loads(pickle.dumps(cfg)) == cfg  # worker pools
    assert cfg != WatermarkConfig(KEY, delta=1.0) and cfg != WatermarkConfig(KEY[1:])


def test_load_key_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MC_TEST_WM_KEY", KEY.decode())
    assert load_key(key_env="MC_TEST_WM_KEY") == KEY
    path = tmp_path / "key"
    path.write_bytes(KEY + b"\n")  # echo adds a newline; the key does not include it
    assert load_key(key_file=path) == KEY
    raw = bytes(range(256))
    path.write_bytes(raw)
    assert load_key(key_file=str(path)) == raw
    with pytest.raises(InvalidParameterError, match="exactly one"):
        load_key()
    with pytest.raises(InvalidParameterError, match="exactly one"):
        load_key(key_file=path, key_env="MC_TEST_WM_KEY")
    monkeypatch.delenv("MC_TEST_WM_KEY")
    with pytest.raises(InvalidParameterError, match="not set"):
        load_key(key_env="MC_TEST_WM_KEY")
    with pytest.raises(DataError, match="missing"):
        load_key(key_file=tmp_path / "missing")
    path.write_bytes(b"short\n")
    with pytest.raises(InvalidParameterError, match="at least 16 bytes") as err:
        load_key(key_file=path)
    assert "short" not in str(err.value)  # not even a too-short key is echoed


def test_watermark_spec_validation(monkeypatch):
    ok = {"key_env": "MC_TEST_WM_KEY", "gamma": 0.5, "delta": 1.0, "context_width": 2}
    assert check_watermark_spec(ok) == ok
    assert check_watermark_spec(None) is None
    bad = [
        ({"key": "inline-secret-0123456789"}, "inline 'key'"),
        ({"gamma": 0.5}, "exactly one of key_env or key_file"),
        ({"key_env": "A", "key_file": "b"}, "exactly one"),
        ({"key_env": "A", "gama": 0.5}, "gama"),
        ({"key_env": "A", "gamma": 1.0}, "gamma"),
        ({"key_env": "A", "delta": -1}, "delta"),
        ({"key_env": "A", "context_width": 0}, "context_width"),
        ({"key_env": "A", "seeding": "md5"}, "seeding"),
        ({"key_env": ""}, "key_env"),
        ("MC_TEST_WM_KEY", "mapping"),
    ]
    for spec, match in bad:
        with pytest.raises(InvalidParameterError, match=match):
            check_watermark_spec(spec)
    monkeypatch.setenv("MC_TEST_WM_KEY", KEY.decode())
    cfg = resolve_watermark(ok)
    assert cfg == WatermarkConfig(KEY, gamma=0.5, delta=1.0, context_width=2)
    assert resolve_watermark(cfg) is cfg


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"key": "a str key, not bytes!!"}, "key"),
        ({"key": b"x" * 15}, "16 bytes"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": True}, "gamma"),
        ({"delta": float("nan")}, "delta"),
        ({"context_width": 1.0}, "context_width"),
    ],
)
def test_config_rejects_bad_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        WatermarkConfig(**{"key": KEY, **kwargs})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70), max_size=20))
def test_as_codes_accepts_ids_and_refuses_the_rest(values):
    try:
        arr = np.asarray(values)
    except OverflowError:
        return
    if arr.dtype.kind not in "iu" and arr.size:
        with pytest.raises(DataError):
            as_codes(arr)
        return
    if arr.size and arr.dtype.kind == "i" and arr.min() < -1:
        with pytest.raises(DataError, match=">= 0"):
            as_codes(arr)
        return
    codes = as_codes(arr)
    assert codes.dtype == np.uint64 and codes.shape == arr.shape
    assert [int(c) for c in codes] == [v & MASK for v in values]


def test_as_codes_refuses_floats_and_bools():
    for bad in (np.array([1.5]), np.array([True])):
        with pytest.raises(DataError, match="integer"):
            as_codes(bad)
