"""``Streams``: one tokenization and one shared unigram count per side give the same values as a
state per metric, and shards merge to one pass; ``TokenizedDocs`` is never re-tokenized."""

from __future__ import annotations

import itertools
import json
import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.measure.streams import STREAMING, Streams
from modelcollapse.measure.token_stats import TokenStats
from modelcollapse.metrics.functional.distribution import unigram_js, unigram_kl, zipf_exponent
from modelcollapse.metrics.functional.repetition import rep_n
from modelcollapse.metrics.functional.text import (
    TokenizedDocs,
    distinct_2,
    ngram_state,
    token_counter,
    tokenize_documents,
    unigram_counts,
    unigram_entropy,
    vocab_size,
)

TEXT = list(STREAMING["text"])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Documents with at least one whitespace token (measure drops the others as bad records).
docs_st = st.lists(
    st.lists(
        st.sampled_from(["a", "b", "c", "dé", "ü", "x.", "日本"]), min_size=1, max_size=12
    ).map(" ".join),
    min_size=1,
    max_size=30,
)


def chunks(docs, cuts):
    bounds = [0, *sorted(c % (len(docs) + 1) for c in cuts), len(docs)]
    return [docs[a:b] for a, b in itertools.pairwise(bounds)]


def same(a, b):
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@SETTINGS
@given(cand=docs_st, ref=docs_st, cuts=st.lists(st.integers(0, 100), max_size=4))
def test_shared_counts_match_the_functional_metrics(cand, ref, cuts):
    # Shards of both sides, each in its own Streams (through pickle, as a worker sends them),
    # merged in order: the values equal the functions on the whole corpora.
    merged = Streams("text", TEXT)
    for side, docs in (("candidate", cand), ("reference", ref)):
        for part in chunks(docs, cuts):
            shard = Streams("text", TEXT)
            shard.update(side, part)
            merged.merge(pickle.loads(pickle.dumps(shard)))
    got = merged.values()
    for side, docs in ((0, cand), (1, ref)):
        assert got["vocab_size"][side] == vocab_size(docs)
        assert same(got["entropy"][side], unigram_entropy(docs))
        assert same(got["zipf_exponent"][side], zipf_exponent(docs))
        assert same(got["distinct_2"][side], distinct_2(docs))
        assert same(got["rep_n"][side], rep_n(docs))
    assert same(got["js"][0], unigram_js(cand, ref))
    assert same(got["kl"][0], unigram_kl(cand, ref))
    assert got["js"][1] is None


@SETTINGS
@given(
    docs=st.lists(st.lists(st.sampled_from(["a", "b", "", "é", "a b", "\x00"]), max_size=8)),
    cuts=st.lists(st.integers(0, 100), max_size=4),
)
def test_token_stats_merge_to_the_counter_and_set_states(docs, cuts):
    # Empty documents, odd tokens ("", spaces, NUL) and empty shards included.
    merged = TokenStats()
    for i, part in enumerate(chunks(docs, cuts)):
        # Plain token lists and a TokenizedDocs (its shared integer encoding) alternate.
        batch = TokenizedDocs(part, None) if i % 2 else part
        merged.merge(pickle.loads(pickle.dumps(TokenStats().update(batch))))
    expected = token_counter(docs)
    assert merged.counter() == expected and list(merged.counter()) == list(expected)
    assert merged.docs == len(docs)
    state, expected_state = merged.bigram_state(), ngram_state(docs, 2)
    assert state == expected_state and len(state.distinct) == len(expected_state.distinct)
    assert all(gram in state.distinct for gram in expected_state.distinct)
    assert ("never", "seen") not in state.distinct and "a" not in state.distinct


def test_unigram_metrics_share_one_count_per_side():
    streams = Streams("text", ["vocab_size", "entropy", "js", "distinct_2"])
    streams.update("candidate", ["a b a", "c"])
    streams.update("reference", ["a"])
    assert set(streams.stats) == {"candidate", "reference"}
    # The metrics that share keep no state of their own; distinct_2 keeps its own.
    assert streams.one["vocab_size"]["candidate"].state[1] == {}
    assert streams.one["distinct_2"]["candidate"].state[0] == 0
    assert streams.stats["candidate"].counter() == {"a": 2, "b": 1, "c": 1}
    assert streams.values()["vocab_size"] == (3.0, 1.0)
    # No metric that shares asked: no shared statistics kept.
    assert Streams("text", ["rep_n", "ngram_diversity"]).stats == {}
    assert Streams("numeric", ["mean", "variance"]).stats == {}


def test_tokenized_docs_are_used_as_they_are():
    calls = []

    def tok(doc):
        calls.append(doc)
        return doc.split()

    batch = TokenizedDocs.of(["a b", "b", ""], tok)
    assert calls == ["a b", "b", ""] and batch == [["a", "b"], ["b"], []]
    assert tokenize_documents(batch, tok) is batch and len(calls) == 3
    assert token_counter(batch) is batch.counts() == {"a": 1, "b": 2}
    # unigram_counts hands out a copy: a caller may modify it without touching the batch.
    copy = unigram_counts(batch, tok)
    copy["a"] += 5
    assert batch.counts()["a"] == 1
    with pytest.raises(InvalidParameterError, match="tokenized with"):
        tokenize_documents(batch, "words")
    with pytest.raises(DataError, match="at least 4 document"):
        tokenize_documents(batch, tok, min_docs=4)
    assert TokenizedDocs.of([], None) == []


def test_a_read_chunk_is_tokenized_once_for_the_check_and_every_metric(tmp_path):
    # The reader's no-token check and every text metric share one tokenization per document.
    from modelcollapse.data.quarantine import Quarantine
    from modelcollapse.measure.files import _text_chunks

    calls = []

    def tok(doc):
        calls.append(doc)
        return doc.split()

    lines = [f"w{i % 7} w{i % 3} shared" for i in range(40)] + ['{"text": " "}']
    path = tmp_path / "docs.jsonl"
    path.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in lines[:40]) + lines[40] + "\n",
        encoding="utf-8",
    )
    streams = Streams("text", TEXT, tokenizer=tok)
    with Quarantine(path, "skip") as q:
        for chunk in _text_chunks(path, q, "text", "id", 16, [], tok):
            streams.update("candidate", chunk)
    assert q.n_bad == 1 and len(calls) == 41  # once per line, the token-less one included
    expected = Streams("text", TEXT, tokenizer=tok)
    expected.update("candidate", lines[:40])
    got, want = streams.stats["candidate"], expected.stats["candidate"]
    assert got.counter() == want.counter() and got.bigram_state() == want.bigram_state()
    assert streams.one["rep_n"]["candidate"].state == expected.one["rep_n"]["candidate"].state
