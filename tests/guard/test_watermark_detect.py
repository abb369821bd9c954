"""Watermark detection: the z-test and its p-values, repeated n-grams, windows against brute
force, the false-positive rate on human KJV verses, the text API and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from modelcollapse.data.bundled import kjv
from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.watermark import BOS_WORD_CODE, WatermarkConfig, word_codes
from modelcollapse.guard.watermark_detect import (
    ByteTokenizer,
    WordTokenizer,
    as_encoder,
    detect,
    detect_documents,
    detect_text,
    normal_tail,
    scored_pairs,
    watermark_decision,
)

KEY = b"test-key-0123456789abcdef-not-secret"


def tilted_uniform(cfg: WatermarkConfig, n: int, vocab: int, rng, prefix=(0,)) -> np.ndarray:
    """``n`` tokens from the uniform distribution with the green-list bias (a model-free LM)."""
    seq = list(prefix)
    for _ in range(n):
        logits = cfg.bias_logits(np.zeros((1, vocab)), np.array([seq[-cfg.context_width :]]))[0]
        p = np.exp(logits - logits.max())
        seq.append(int(rng.choice(vocab, p=p / p.sum())))
    return np.array(seq[len(prefix) :])


def test_z_score_and_counts_by_hand():
    cfg = WatermarkConfig(KEY, gamma=0.25, context_width=2)
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 10_000, size=50)
    green = cfg.is_green(np.stack([tokens[:-2], tokens[1:-1]], axis=1), tokens[2:])
    d = detect(tokens, cfg, ignore_repeated=False)
    t, g = 48, int(green.sum())  # without a prefix the first h tokens have no context
    assert (d.n_scored, d.n_green) == (t, g)
    assert d.z == pytest.approx((g - 0.25 * t) / math.sqrt(t * 0.25 * 0.75))
    assert d.p_value == pytest.approx(stats.norm.sf(d.z))
    assert d.window is None and d.n_windows == 1 and d.p_value_corrected == d.p_value
    with_prefix = detect(tokens, cfg, prefix=[7], ignore_repeated=False)
    assert with_prefix.n_scored == 50  # contexts (PAD, 7), (7, t0), then as before


@pytest.mark.parametrize("z", [-3.0, -0.5, 0.0, 1.0, 2.5, 4.0, 6.0, 8.0])
def test_p_value_is_the_normal_tail(z):
    p, log10_p = normal_tail(z)
    assert p == pytest.approx(stats.norm.sf(z), rel=1e-12)
    assert log10_p == pytest.approx(np.log10(stats.norm.sf(z)), rel=1e-10)


def test_p_value_stays_accurate_in_log_space_at_z_40():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    p, log10_p = normal_tail(40.0)
    exact = mpmath.log10(mpmath.erfc(mpmath.mpf(40) / mpmath.sqrt(2)) / 2)
    assert p == 0.0  # 1e-349 underflows a double ...
    assert log10_p == pytest.approx(float(exact), rel=1e-12)  # ... its logarithm does not
    # a real all-green sequence of 534 distinct pairs: z = sqrt(3 T) = 40.02
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=60.0)
    tokens = tilted_uniform(cfg, 534, 50_000, np.random.default_rng(0))
    d = detect(tokens, cfg, prefix=[0])
    assert d.n_green == d.n_scored == 534
    assert d.z == pytest.approx(math.sqrt(3 * 534))
    assert np.isfinite(d.log10_p_value) and d.log10_p_value < -340


def test_ignore_repeated_scores_each_pair_once():
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=4.0)
    rng = np.random.default_rng(1)
    once = tilted_uniform(cfg, 60, 5000, rng)
    text = np.tile(once, 5)
    single = detect(once, cfg)
    repeated = detect(text, cfg)
    naive = detect(text, cfg, ignore_repeated=False)
    # one new pair at each seam (last token -> first token), the rest repeats
    assert repeated.n_scored == single.n_scored + 1
    assert naive.n_scored == text.size - 1
    assert naive.z > repeated.z  # repeats inflate the naive statistic


def brute_force_windows(cfg, tokens, width, ignore_repeated):
    """Per-window counts from Python sets: distinct (context, token) pairs in each window."""
    ctx, tok, _ = scored_pairs(tokens, cfg.context_width)
    green = cfg.is_green(ctx, tok)
    pairs = [(*map(int, c), int(t)) for c, t in zip(ctx, tok, strict=True)]
    out = []
    for a in range(max(len(pairs) - width + 1, 1)):
        idx = range(a, min(a + width, len(pairs)))
        if ignore_repeated:
            first: dict = {}
            for i in idx:
                first.setdefault(pairs[i], i)
            idx = list(first.values())
        out.append((len(idx), int(sum(green[i] for i in idx))))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=60),
    st.integers(1, 20),
    st.integers(1, 2),
    st.booleans(),
)
def test_windows_match_brute_force(tokens, width, h, ignore_repeated):
    cfg = WatermarkConfig(KEY, gamma=0.4, context_width=h)
    d = detect(np.array(tokens), cfg, window=width, ignore_repeated=ignore_repeated)
    counts = brute_force_windows(cfg, np.array(tokens), width, ignore_repeated)
    if not counts or counts[0][0] == 0:
        assert math.isnan(d.z) and d.n_scored == 0
        return
    zs = [(g - 0.4 * n) / math.sqrt(n * 0.4 * 0.6) for n, g in counts]
    assert d.z == pytest.approx(max(zs))
    best = int(np.argmax(zs))
    assert (d.n_scored, d.n_green) == counts[best]
    assert d.n_windows == len(counts)
    assert d.p_value_corrected == pytest.approx(min(1.0, d.p_value * len(counts)))
    assert d.log10_p_value_corrected == pytest.approx(
        min(0.0, d.log10_p_value + math.log10(len(counts)))
    )


def test_window_finds_a_watermarked_passage_in_human_text():
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=4.0)
    rng = np.random.default_rng(2)
    human = rng.integers(0, 5000, size=3000)
    marked = tilted_uniform(cfg, 150, 5000, rng, prefix=(int(human[1999]),))
    text = np.concatenate([human[:2000], marked, human[2000:]])
    whole = detect(text, cfg)
    win = detect(text, cfg, window=150)
    assert win.z > 8 and win.z > whole.z
    start, end = win.window
    assert end - start == 150 and abs(start - 2000) < 30  # the planted passage
    assert win.n_windows == text.size - 1 - 150 + 1
    assert win.p_value_corrected < 1e-6
    assert win.log10_p_value_corrected > win.log10_p_value  # the correction costs log10(m)


def test_false_positive_rate_on_human_kjv_verses():
    """z ~ N(0, 1) on human text: FPR at z > 4 is at most 1% (expected ~3e-5)."""
    verses = [d.text for d in kjv()[::8]]
    for cfg in (
        WatermarkConfig(KEY, gamma=0.25),
        WatermarkConfig(KEY[::-1], gamma=0.5, context_width=2, seeding="hmac-sha256"),
    ):
        z = np.array([detect_text(v, "words", cfg).z for v in verses])
        z = z[np.isfinite(z)]
        assert z.size > 3800
        assert np.mean(z > 4) <= 0.01
        # For one fixed key the verses are not independent draws: thousands start with the
        # same pairs ("<s> And", "And the"), whose colour is shared, so the mean moves by
        # ~0.15 from key to key, far more than 1/sqrt(n). Per text, z is still N(0, 1).
        assert abs(z.mean()) < 0.3 and 0.85 < z.std() < 1.15
    # a long human text (Genesis 1-5 as one document) is not flagged, windowed or not
    genesis = " ".join(d.text for d in kjv()[:150])
    assert detect_text(genesis, "words", cfg).z < 4
    assert detect_text(genesis, "words", cfg, window=200).p_value_corrected > 0.01


def test_text_tokenizers():
    cfg = WatermarkConfig(KEY)
    text = "In the beginning, God ✓"
    prefix, codes = as_encoder("words")(text)
    assert prefix.tolist() == [int(BOS_WORD_CODE)]
    np.testing.assert_array_equal(codes, word_codes(tokenize(text)))
    assert as_encoder("lower:words")(text)[1][0] == word_codes(["in"])[0]
    assert as_encoder("bytes")(text)[1].tolist() == list(text.encode())
    assert as_encoder(ByteTokenizer())(text)[0] is None
    assert as_encoder(lambda s: [len(s), 3])(text)[1].tolist() == [len(text), 3]
    assert detect_text(text, WordTokenizer(), cfg).n_scored == len(tokenize(text))
    tokenizers = pytest.importorskip("tokenizers")
    del tokenizers
    from modelcollapse.generators.hf_loading import tiny_tokenizer
    from modelcollapse.generators.text_tokenizer import TextTokenizer

    tok = tiny_tokenizer()
    ids = tok.encode(text, add_special_tokens=False).ids
    assert as_encoder(tok)(text)[1].tolist() == ids
    ours = TextTokenizer.train(["In the beginning, God ✓"], kind="char")
    prefix, codes = as_encoder(ours)(text)
    assert prefix.tolist() == [1] and codes.tolist() == ours.encode([text])[0]
    with pytest.raises(InvalidParameterError, match="tokenizer"):
        as_encoder("sentencepiece")
    with pytest.raises(InvalidParameterError, match="tokenizer"):
        as_encoder(42)


def test_detect_documents_pools_counts():
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=3.0)
    rng = np.random.default_rng(3)
    docs = [tilted_uniform(cfg, 20, 5000, rng) for _ in range(10)]
    pooled = detect_documents(docs, cfg, prefix=[0], ignore_repeated=False)
    singles = [detect(d, cfg, prefix=[0], ignore_repeated=False) for d in docs]
    assert pooled.n_scored == sum(s.n_scored for s in singles) == 200
    assert pooled.n_green == sum(s.n_green for s in singles)
    assert pooled.z > 4 > max(s.z for s in singles) / 2


def test_decision_reason():
    cfg = WatermarkConfig(KEY, gamma=0.25, delta=50.0)
    assert watermark_decision("In the beginning God created the heaven.", "words", cfg) is None
    marked = tilted_uniform(cfg, 40, 3000, np.random.default_rng(4))
    text = " ".join(f"w{t}" for t in marked)
    reason = watermark_decision(text, lambda s: [int(w[1:]) for w in s.split()], cfg)
    assert reason is not None and reason.startswith("watermark: z=10.")  # sqrt(3 * 39) = 10.8
    assert cfg.fingerprint in reason and KEY.hex() not in reason
    with pytest.raises(DataError, match="expected str"):
        detect_text(marked.tolist(), "words", cfg)  # type: ignore[arg-type]


def test_bad_input():
    cfg = WatermarkConfig(KEY)
    with pytest.raises(InvalidParameterError, match="WatermarkConfig"):
        detect([1, 2, 3], {"gamma": 0.25})
    for window in (0, -1, 2.5, True):
        with pytest.raises(InvalidParameterError, match="window"):
            detect([1, 2, 3], cfg, window=window)
    with pytest.raises(DataError, match="1-D"):
        detect(np.zeros((2, 2), np.int64), cfg)
    with pytest.raises(DataError, match="integer"):
        detect([0.5, 1.5], cfg)
    empty = detect([], cfg)
    assert empty.n_scored == 0 and math.isnan(empty.z) and math.isnan(empty.p_value)
    assert math.isnan(detect([5], cfg).z)  # one token, no context: nothing scored
    assert detect([5], cfg, prefix=[1]).n_scored == 1
    assert empty.as_dict()["window"] is None


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["words", "lower:words", "bytes"]))
def test_detect_text_never_raises_on_any_text(text, tokenizer):
    cfg = WatermarkConfig(KEY, context_width=2)
    d = detect_text(text, tokenizer, cfg, window=16)
    assert 0 <= d.n_green <= d.n_scored <= max(len(text.encode("utf-8", "surrogatepass")), 1)
    assert math.isnan(d.z) == (d.n_scored == 0)
    if d.n_scored:
        assert 0.0 <= d.p_value <= 1.0 and d.log10_p_value <= 0.0
