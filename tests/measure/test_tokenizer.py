"""``measure``, ``measure_files`` and ``monitor`` follow the chosen tokenizer and record it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.measure import measure
from modelcollapse.measure.files import NO_TOKENS, measure_files
from modelcollapse.measure.monitor import monitor
from modelcollapse.metrics import distinct_2, vocab_size

FAST = {"rng": 0, "n_boot": 5, "n_boot_expensive": 3}
METRICS = ["vocab_size", "distinct_2", "rare_recall", "perplexity"]


@pytest.fixture(scope="module")
def halves(kjv_halves):
    return kjv_halves[0][:150], kjv_halves[1][:150]


def test_the_default_is_whitespace_and_is_recorded(halves):
    ref, cand = halves
    r = measure(ref, cand, metrics=METRICS, **FAST)
    assert r.tokenizer == "whitespace" and r.to_dict()["tokenizer"] == "whitespace"
    assert r.metrics["vocab_size"].candidate == vocab_size(
        cand[: r.metrics["vocab_size"].n_matched]
    )
    same = measure(ref, cand, metrics=METRICS, tokenizer="whitespace", **FAST)
    assert same.to_dict() == r.to_dict()


def test_the_tokenizer_changes_token_metrics_but_not_perplexity(halves):
    ref, cand = halves
    ws = measure(ref, cand, metrics=METRICS, **FAST)
    words = measure(ref, cand, metrics=METRICS, tokenizer="words", **FAST)
    assert words.tokenizer == "words"
    n = ws.metrics["distinct_2"].n_matched
    assert words.metrics["distinct_2"].candidate == distinct_2(cand[:n], tokenizer="words")
    # KJV verses end in punctuation: "earth." and "earth" are two whitespace tokens
    assert ws.metrics["vocab_size"].candidate > words.metrics["vocab_size"].candidate
    assert ws.metrics["rare_recall"].candidate != words.metrics["rare_recall"].candidate
    # perplexity is per model token (the n-gram model's own tokenizer) whatever the metrics use
    assert ws.metrics["perplexity"].candidate == words.metrics["perplexity"].candidate
    assert ws.metrics["perplexity"].ci_low == words.metrics["perplexity"].ci_low


def test_records_need_a_token_of_the_chosen_tokenizer():
    ref, cand = ["a b", "c d"], ["x y", "42 !", "z"]
    assert measure(ref, cand, metrics=["vocab_size"], **FAST).n_candidate == 3
    with pytest.raises(DataError, match="candidate: record 2 has no tokens"):
        measure(ref, cand, metrics=["vocab_size"], tokenizer="regex:[a-z]+", **FAST)
    with pytest.raises(InvalidParameterError, match="did you mean 'words'"):
        measure(ref, cand, metrics=["vocab_size"], tokenizer="word", **FAST)


def test_a_callable_tokenizer_is_recorded_by_name(halves):
    ref, cand = halves
    r = measure(ref, cand, metrics=["vocab_size"], tokenizer=str.split, **FAST)
    assert r.tokenizer == "callable:str.split"
    assert (
        r.metrics["vocab_size"].candidate
        == measure(ref, cand, metrics=["vocab_size"], **FAST).metrics["vocab_size"].candidate
    )


def _jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def test_files_check_streams_and_record_the_tokenizer(tmp_path, kjv_halves):
    ref = _jsonl(tmp_path / "ref.jsonl", kjv_halves[0][:300])
    docs = kjv_halves[1][:300]
    cand = _jsonl(tmp_path / "cand.jsonl", [*docs[:3], "123 456", *docs[3:]])
    # "123 456" has whitespace tokens ...
    r = measure_files(ref, cand, metrics=["vocab_size"], max_records=50, **FAST)
    assert r.tokenizer == "whitespace" and r.n_candidate_total == 301
    # ... but no token of regex:[A-Za-z]+: a bad record, named by file:line
    tok = "regex:[A-Za-z]+"
    with pytest.raises(DataError, match=rf"cand.jsonl:4: {NO_TOKENS}; .*'regex:\[A-Za-z\]\+'"):
        measure_files(ref, cand, metrics=["vocab_size"], tokenizer=tok, **FAST)
    r = measure_files(
        ref, cand, metrics=["vocab_size", "distinct_2"], tokenizer=tok, on_error="skip",
        max_records=50, **FAST,
    )  # fmt: skip
    assert (r.tokenizer, r.n_bad_candidate, r.n_candidate_total) == (tok, 1, 300)
    # the streamed full-file values use the tokenizer too
    assert r.metrics["vocab_size"].full_candidate == vocab_size(docs, tokenizer=tok)
    assert r.metrics["distinct_2"].full_reference == distinct_2(kjv_halves[0][:300], tokenizer=tok)
    with pytest.raises(InvalidParameterError, match="unknown tokenizer"):
        measure_files(ref, tmp_path / "missing.jsonl", tokenizer="nope", **FAST)


def test_monitor_passes_the_tokenizer_to_every_version(halves):
    ref, cand = halves
    out = monitor(ref, [cand, cand[:100]], metrics=["vocab_size"], tokenizer="words", **FAST)
    assert [r.tokenizer for r in out.results] == ["words", "words"]
    assert all(v["tokenizer"] == "words" for v in out.to_dict()["versions"])
