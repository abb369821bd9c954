"""N-gram generator: exact interpolated modified Kneser-Ney against hand values and an independent
dict-based implementation, normalisation, exact temperature sampling, and bad input."""

from __future__ import annotations

import importlib.util
import io
import json
import math
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from modelcollapse.data.tokenize import detokenize, tokenize
from modelcollapse.errors import DataError, InvalidParameterError, NotFittedError
from modelcollapse.generators import build
from modelcollapse.generators.kneser_ney import FALLBACK_DISCOUNTS
from modelcollapse.generators.kneser_ney_sampler import TemperatureSampler
from modelcollapse.generators.ngram import NGram

BOS, EOS = "<s>", "</s>"


def random_corpus(seed: int, n_docs: int = 40, words: str = "a b c d e f , .") -> list[str]:
    """Short documents over a tiny Zipf-ish vocabulary: repeated n-grams of every count."""
    rng = np.random.default_rng(seed)
    vocab = words.split()
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    return [" ".join(rng.choice(vocab, size=rng.integers(0, 9), p=p)) for _ in range(n_docs)]


@cache
def kjv() -> tuple[str, ...]:
    spec = importlib.util.find_spec("bible")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "data" / "kjv.jsonl"
    with path.open(encoding="utf-8") as fh:
        return tuple(json.loads(line)["text"] for line in fh)


# -- an independent, slow implementation of the same formula -----------------------------------
class ReferenceKN:
    """Interpolated modified Kneser-Ney written straight from the definition with dicts."""

    def __init__(self, docs: list[str], n: int):
        self.n = n
        toks = [tokenize(d) for d in docs]
        self.vocab = {t for d in toks for t in d}
        self.W = len(self.vocab) + 2  # words + </s> + <unk>
        raw: list[Counter] = [Counter() for _ in range(n + 2)]
        for d in toks:
            s = [BOS] * (n - 1) + d + [EOS]
            for i in range(n - 1, len(s)):
                for k in range(1, n + 1):
                    raw[k][tuple(s[i - k + 1 : i + 1])] += 1
        self.adj: list[dict] = [{}]
        for k in range(1, n + 1):
            left = defaultdict(set)
            for g in raw[k + 1]:
                left[g[1:]].add(g[0])
            self.adj.append(
                {
                    g: c if k == n or (k > 1 and g[0] == BOS) else len(left[g])
                    for g, c in raw[k].items()
                }
            )
        self.D = [None] + [self.discounts(list(self.adj[k].values())) for k in range(1, n + 1)]
        self.conts: list[dict] = [{}]
        for k in range(1, n + 1):
            by_ctx = defaultdict(dict)
            for g, c in self.adj[k].items():
                by_ctx[g[:-1]][g[-1]] = c
            self.conts.append(by_ctx)

    @staticmethod
    def discounts(counts: list[int]) -> tuple[float, float, float]:
        nr = [sum(1 for c in counts if c == r) for r in (1, 2, 3, 4)]
        if nr[0] and nr[1] and nr[2]:
            y = nr[0] / (nr[0] + 2 * nr[1])
            d = tuple(r - (r + 1) * y * nr[r] / nr[r - 1] for r in (1, 2, 3))
            if all(0 < d[i] <= i + 1 for i in range(3)):
                return d
        return FALLBACK_DISCOUNTS

    def prob(self, w: str, history: tuple[str, ...]) -> float:
        """p(w | last n-1 tokens of history), history left-padded with <s>."""
        h = ((BOS,) * (self.n - 1) + tuple(history))[len(history) :] if self.n > 1 else ()

        def p(k: int) -> float:
            if k == 0:
                return 1.0 / self.W
            conts = self.conts[k].get(h[len(h) - (k - 1) :] if k > 1 else ())
            if not conts:
                return p(k - 1)
            total = sum(conts.values())
            disc = [self.D[k][min(c, 3) - 1] for c in conts.values()]
            c = conts.get(w, 0)
            alpha = max(c - self.D[k][min(c, 3) - 1], 0) / total if c else 0.0
            return alpha + sum(disc) / total * p(k - 1)

        return p(self.n)

    def log_prob(self, doc: str) -> float:
        toks = [*tokenize(doc), EOS]
        return sum(math.log(self.prob(t, tuple(toks[:i]))) for i, t in enumerate(toks))


# -- exactness ---------------------------------------------------------------------------------
def test_bigram_matches_hand_computed_values() -> None:
    m = NGram(n=2).fit(["a b", "a", "b a b"])
    # Bigrams (<s> a):2 (a b):2 (b </s>):2 (a </s>):1 (<s> b):1 (b a):1 -> n3 = 0: fallback
    # discounts D = (0.5, 1, 1.5). Unigram continuation counts a:2 b:2 </s>:2 (total 6, n1 = 0:
    # fallback too), so p1(x) = (2-1)/6 + (3/6) * 1/4 = 7/24 for a, b, </s> and p1(<unk>) = 1/8.
    np.testing.assert_allclose(m.discounts_, [FALLBACK_DISCOUNTS] * 2)
    lp = np.exp(m.next_token_log_probs([[], ["a"], ["b"], ["zzz"]]))
    outcomes = m.outcomes_
    assert outcomes == ["<unk>", "</s>", "a", "b"]
    # context a: b:2, </s>:1 (total 3, gamma = 1.5/3): b = 1/3 + 7/48, </s> = 1/6 + 7/48
    expected = {
        0: {"a": 23 / 48, "b": 15 / 48, "</s>": 7 / 48, "<unk>": 3 / 48},  # after <s>
        1: {"a": 7 / 48, "b": 23 / 48, "</s>": 15 / 48, "<unk>": 3 / 48},
        2: {"a": 15 / 48, "b": 7 / 48, "</s>": 23 / 48, "<unk>": 3 / 48},
        3: {"a": 7 / 24, "b": 7 / 24, "</s>": 7 / 24, "<unk>": 3 / 24},  # unseen context
    }
    for row, probs in expected.items():
        for tok, value in probs.items():
            assert lp[row, outcomes.index(tok)] == pytest.approx(value, rel=1e-12)
    doc_lp = m.log_prob(["a b", "", "c"])
    np.testing.assert_allclose(
        doc_lp,
        [3 * np.log(23 / 48), np.log(7 / 48), np.log(3 / 48) + np.log(7 / 24)],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(m.token_counts(["a b", "", "c"]), [3, 1, 2])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_independent_reference(n: int, seed: int) -> None:
    docs = random_corpus(seed, n_docs=60)
    ref = ReferenceKN(docs, n)
    m = NGram(n=n).fit(docs)
    np.testing.assert_allclose(m.discounts_, np.array(ref.D[1:]), rtol=1e-12)
    rng = np.random.default_rng(seed)
    pool = [*sorted(ref.vocab), "zz", "yy"]
    contexts = [list(rng.choice(pool, size=rng.integers(0, n + 1))) for _ in range(25)]
    got = np.exp(m.next_token_log_probs(contexts))
    for i, ctx in enumerate(contexts):
        want = [ref.prob(w, tuple(ctx)) for w in ["<unk>", EOS, *sorted(ref.vocab)]]
        np.testing.assert_allclose(got[i], want, rtol=1e-10)
    held = [*random_corpus(seed + 100, n_docs=10, words="a b c d e f , . g"), ""]
    np.testing.assert_allclose(m.log_prob(held), [ref.log_prob(d) for d in held], rtol=1e-10)


def test_both_discount_branches_are_exercised() -> None:
    m = NGram(n=3).fit(random_corpus(0, n_docs=60))
    fallback = np.all(m.discounts_ == FALLBACK_DISCOUNTS, axis=1)
    assert fallback.any() and not fallback.all(), m.discounts_


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_next_token_distribution_sums_to_one(n: int) -> None:
    docs = [*random_corpus(3, n_docs=80), "", "x y z", "a a a a a a"]
    m = NGram(n=n).fit(docs)
    rng = np.random.default_rng(n)
    pool = [*m.vocab_.tolist(), "unseen", "also-unseen", "<s>", "</s>"]
    contexts = [list(rng.choice(pool, size=rng.integers(0, n + 2))) for _ in range(300)]
    total = np.exp(m.next_token_log_probs(contexts)).sum(axis=1)
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-9)
    # log_prob of a document is the sum of its next-token log-probabilities
    doc = "a b x . unseen f"
    toks = [*tokenize(doc), EOS]
    lp_tokens = m.next_token_log_probs([toks[:i] for i in range(len(toks))])
    cols = [m.outcomes_.index(t) if t in m.outcomes_ else 0 for t in toks]
    assert m.log_prob([doc])[0] == pytest.approx(
        lp_tokens[np.arange(len(toks)), cols].sum(), rel=1e-12
    )


def test_kjv_distribution_sums_to_one_and_perplexity_drops_with_more_data() -> None:
    verses = list(kjv())
    order = np.random.default_rng(0).permutation(len(verses))
    held = [verses[i] for i in order[:500]]
    ppl = []
    for size in (200, 1500, 6000):
        m = NGram(n=3).fit([verses[i] for i in order[500 : 500 + size]])
        lp = m.log_prob(held)
        assert np.all(np.isfinite(lp)) and np.all(lp < 0)
        ppl.append(np.exp(-lp.sum() / m.token_counts(held).sum()))
    assert ppl[0] > ppl[1] > ppl[2], ppl
    contexts = [tokenize(v)[:k] for v, k in zip(held[:40], range(40), strict=True)]
    np.testing.assert_allclose(np.exp(m.next_token_log_probs(contexts)).sum(axis=1), 1.0, atol=1e-9)


# -- sampling ------------------------------------------------------------------------------------
SMALL = random_corpus(5, n_docs=30, words="a b c d e ,")
COVERED = ["a", "b", "", "a b", "b a", "a a b b"]  # every outcome follows <s>: no "out" mass


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
@pytest.mark.parametrize(
    ("docs", "context"),
    [(SMALL, []), (SMALL, ["a"]), (SMALL, ["b", "a"]), (SMALL, ["zzz", "c"]), (SMALL, ["zzz"]),
     (COVERED, []), (COVERED, ["a"]), (COVERED, ["b", "b"])],
)  # fmt: skip
def test_sampler_draws_exactly_from_tempered_distribution(
    temperature: float, docs: list[str], context: list[str]
) -> None:
    m = NGram(n=3).fit(docs)
    exact = np.exp(m.next_token_log_probs([context])[0])
    q = exact[1:] ** (1 / temperature)  # <unk> (column 0) is never sampled
    q /= q.sum()
    t = m.tables_
    history = np.full((1, 2), t.bos)
    ids = [m.outcomes_.index(x) if x in m.outcomes_ else 0 for x in context]
    if ids:
        history[0, -len(ids) :] = ids
    ctx = np.repeat(t.context_ids(history), 40_000, axis=0)
    draws = TemperatureSampler(t, temperature).draw(ctx, np.random.default_rng(11))
    counts = np.bincount(draws, minlength=m.n_outcomes)
    assert counts[0] == 0
    keep = q * draws.size >= 5  # chi-square needs enough expected counts per cell
    observed = np.append(counts[1:][keep], counts[1:][~keep].sum())
    expected = np.append(q[keep], q[~keep].sum()) * draws.size
    observed, expected = observed[expected > 0], expected[expected > 0]
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_same_rng_same_samples_and_documents_end() -> None:
    verses = list(kjv()[:2000])
    m = NGram(n=3, max_tokens=150).fit(verses)
    a = m.sample(500, rng=np.random.default_rng(1))
    assert a == m.sample(500, rng=np.random.default_rng(1))
    assert a != m.sample(500, rng=np.random.default_rng(2))
    lengths = m.token_counts(a) - 1
    assert lengths.max() <= 150
    assert np.mean(lengths == 150) < 0.02  # documents end with </s> on their own
    # a Markov chain's lengths are roughly geometric, but the mean follows the training data
    real = m.token_counts(verses).mean() - 1
    assert 0.75 * real < lengths.mean() < 1.25 * real, (lengths.mean(), real)
    vocab = set(m.vocab_.tolist())
    for doc in a[:50]:
        assert set(tokenize(doc)) <= vocab
        assert detokenize(tokenize(doc)) == doc
    assert m.sample(0, rng=np.random.default_rng(0)) == []


def test_low_temperature_is_more_repetitive() -> None:
    m = NGram(n=3, max_tokens=40).fit(list(kjv()[:2000]))

    def distinct_share(temperature: float) -> float:
        docs = m.set_params(temperature=temperature).sample(200, rng=np.random.default_rng(3))
        toks = [t for d in docs for t in tokenize(d)]
        return len(set(toks)) / len(toks)

    hot, normal, cold = distinct_share(2.0), distinct_share(1.0), distinct_share(0.2)
    assert hot > normal > cold, (hot, normal, cold)


def test_max_tokens_cuts_documents() -> None:
    m = NGram(n=1, max_tokens=3).fit(["a b c d e f g h i j"] * 3)
    docs = m.sample(50, rng=np.random.default_rng(0))
    assert max(len(tokenize(d)) for d in docs) == 3


def test_empty_documents_are_allowed() -> None:
    m = NGram(n=2).fit(["", "", ""])
    assert m.outcomes_ == ["<unk>", "</s>"]
    assert m.sample(5, rng=np.random.default_rng(0)) == [""] * 5  # only </s> can be sampled
    lp = m.log_prob(["", "anything"])
    assert np.all(np.isfinite(lp)) and lp[0] > lp[1]


# -- checkpoints and validation ------------------------------------------------------------------
def test_state_dict_roundtrip_through_npz_without_pickle() -> None:
    docs = ["null \x00 token", "a b , c", "x\x00y"]
    m = NGram(n=3).fit(docs)
    state = m.state_dict()
    assert state["vocab"].dtype.kind == "U"
    assert all(v.dtype.kind in "iuU" for v in state.values())
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded = NGram(n=3).load_state_dict({k: npz[k] for k in npz.files})
    np.testing.assert_array_equal(loaded.log_prob(docs), m.log_prob(docs))
    assert loaded.outcomes_ == m.outcomes_
    assert loaded.sample(20, rng=np.random.default_rng(4)) == m.sample(
        20, rng=np.random.default_rng(4)
    )
    with pytest.raises(InvalidParameterError, match="order"):
        NGram(n=2).load_state_dict(state)
    broken = dict(state, ngram_keys_2=state["ngram_keys_2"][::-1].copy())
    with pytest.raises(DataError):
        NGram(n=3).load_state_dict(broken)
    with pytest.raises(DataError, match="missing"):
        NGram(n=3).load_state_dict({k: v for k, v in state.items() if k != "ctx_keys_1"})


def test_registered_and_validates_input() -> None:
    assert isinstance(build("ngram", {"n": 2}), NGram)
    with pytest.raises(NotFittedError):
        NGram().log_prob(["a"])
    with pytest.raises(DataError, match="at least 1"):
        NGram().fit([])
    with pytest.raises(DataError, match=r"docs\[2\]: expected str, got int"):
        NGram().fit(["a", "b", 3])
    with pytest.raises(DataError, match="sequence of str"):
        NGram().fit("just one string")
    with pytest.raises(DataError, match="sequence of str"):
        NGram().fit(None)
    for bad in ({"n": 0}, {"n": 2.0}, {"n": True}, {"temperature": 0.0}, {"temperature": np.nan}, {"temperature": 1e-310},
                {"max_tokens": 0}, {"lowercase": "yes"}):  # fmt: skip
        with pytest.raises(InvalidParameterError):
            NGram(**bad).fit(["a b"])
    m = NGram().fit(["a b"])
    with pytest.raises(DataError, match=r"docs\[1\]"):
        m.log_prob(["a", b"bytes"])
    with pytest.raises(InvalidParameterError, match="temperature"):
        m.set_params(temperature=-1.0).sample(2, rng=np.random.default_rng(0))
    assert m.log_prob([]).shape == (0,)


def test_lowercase_merges_case() -> None:
    docs = ["The cat", "the cat"]
    assert NGram(lowercase=True).fit(docs).vocab_.tolist() == ["cat", "the"]
    assert NGram().fit(docs).vocab_.tolist() == ["The", "cat", "the"]
    m = NGram(lowercase=True).fit(docs)
    assert m.log_prob(["THE CAT"])[0] == m.log_prob(["the cat"])[0]


# -- property tests ------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(
    docs=st.lists(
        st.lists(st.sampled_from(["a", "b", "c", "."]), max_size=7).map(" ".join),
        min_size=1,
        max_size=12,
    ),
    n=st.integers(1, 3),
)
def test_random_tiny_corpora_match_reference(docs: list[str], n: int) -> None:
    ref = ReferenceKN(docs, n)
    m = NGram(n=n).fit(docs)
    contexts = [[], ["a"], ["c", "b"], ["q", "a"], ["."]]
    got = np.exp(m.next_token_log_probs(contexts))
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-9)
    for i, ctx in enumerate(contexts):
        want = [ref.prob(w, tuple(ctx)) for w in m.outcomes_]
        np.testing.assert_allclose(got[i], want, rtol=1e-10)


odd_text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(
            [" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\x1c", "\x85", "\x00", ".", "a"]
        ),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(odd_text, min_size=1, max_size=6),
    held=st.lists(odd_text, max_size=4),
    n=st.integers(1, 4),
    temperature=st.sampled_from([1e-300, 0.05, 1.0, 3.0]),
    long_doc=st.booleans(),
)
def test_arbitrary_text_never_crashes(
    docs: list[str], held: list[str], n: int, temperature: float, long_doc: bool
) -> None:
    if long_doc:
        docs = [*docs, " ".join(docs) * 50 + " tail"]
    m = NGram(n=n, temperature=temperature, max_tokens=30).fit(docs)
    for data in (docs, held):
        lp = m.log_prob(data)
        assert lp.shape == (len(data),) and np.all(np.isfinite(lp)) and np.all(lp <= 0)
    out = m.sample(5, rng=np.random.default_rng(0))
    assert len(out) == 5 and all(isinstance(d, str) for d in out)
    assert np.all(np.isfinite(m.log_prob(out)))
    loaded = NGram(n=n).load_state_dict(m.state_dict())
    np.testing.assert_array_equal(loaded.log_prob(docs), m.log_prob(docs))
