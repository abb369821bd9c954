"""Reading measure inputs: chunks, the subsample cap, streamed full values, bad records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError
from modelcollapse.measure.files import NO_TOKENS, Reservoir, load_input, measure_files
from modelcollapse.metrics.functional.distribution import unigram_js
from modelcollapse.metrics.functional.text import distinct_2, unigram_entropy, vocab_size

CHEAP = ["vocab_size", "entropy", "distinct_2", "rare_recall", "js"]


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def write_txt(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    return path


def test_reservoir_is_uniform_ordered_and_seeded():
    hits = np.zeros(40)
    for seed in range(600):
        res = Reservoir(10, np.random.default_rng(seed))
        for start in range(0, 40, 7):  # uneven chunks
            res.add(list(range(start, min(start + 7, 40))))
        sample = res.sample()
        assert len(sample) == 10 and sample == sorted(sample) and len(set(sample)) == 10
        hits[sample] += 1
    # each item is kept with probability 10/40: 150 of 600 times (sd about 10.6)
    assert np.all(np.abs(hits - 150) < 50), hits
    a, b = Reservoir(5, np.random.default_rng(1)), Reservoir(5, np.random.default_rng(1))
    for r in (a, b):
        r.add(list(range(100)))
    assert a.sample() == b.sample()
    small = Reservoir(50, np.random.default_rng(0))
    small.add(["x", "y"])
    assert small.sample() == ["x", "y"] and small.seen == 2


def test_reservoir_of_rows_copies_them():
    res = Reservoir(4, np.random.default_rng(0))
    chunk = np.arange(20.0).reshape(10, 2)
    res.add(chunk)
    kept = res.sample().copy()
    chunk[:] = -1.0  # the caller reuses its buffer
    assert np.array_equal(res.sample(), kept) and kept.shape == (4, 2)
    assert np.all(np.diff(kept[:, 0]) > 0)  # stream order
    assert set(kept[:, 0]) <= set(range(0, 20, 2))


def test_formats_give_the_same_measurement(tmp_path, kjv_halves):
    ref, cand = kjv_halves[0][:300], kjv_halves[1][:300]
    ref_path = write_jsonl(tmp_path / "ref.jsonl", ref)
    paths = [write_txt(tmp_path / "c.txt", cand), write_jsonl(tmp_path / "c.jsonl", cand)]
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("text\n" + "".join(json.dumps(d) + "\n" for d in cand), encoding="utf-8")
    pq.write_table(pa.table({"text": cand}), tmp_path / "c.parquet")
    paths += [csv_path, tmp_path / "c.parquet"]
    results = [measure_files(ref_path, p, metrics=CHEAP, rng=0, n_boot=10) for p in paths]
    first = results[0].to_dict()["metrics"]
    for r in results[1:]:
        assert r.to_dict()["metrics"] == first
    # equal sizes: nothing is subsampled, the candidate value is the metric of the file
    assert results[0].metrics["vocab_size"].candidate == vocab_size(cand)
    assert results[0].n_candidate == results[0].n_candidate_total == 300


def test_streamed_full_values_cover_every_record(tmp_path, verses):
    ref, cand = verses[:1500], verses[1500:2700]
    r = measure_files(
        write_jsonl(tmp_path / "r.jsonl", ref), write_txt(tmp_path / "c.txt", cand),
        metrics=CHEAP, rng=0, n_boot=5, max_records=400, chunk_size=97,
    )  # fmt: skip
    assert r.n_candidate == r.n_reference == 400
    assert (r.n_candidate_total, r.n_reference_total) == (1200, 1500)
    m = r.metrics
    assert m["vocab_size"].full_candidate == vocab_size(cand)
    assert m["vocab_size"].full_reference == vocab_size(ref)
    assert m["entropy"].full_candidate == pytest.approx(unigram_entropy(cand), abs=1e-12)
    assert m["distinct_2"].full_reference == pytest.approx(distinct_2(ref), abs=1e-12)
    assert m["js"].full_candidate == pytest.approx(unigram_js(cand, ref), abs=1e-12)
    assert m["js"].full_reference is None and m["rare_recall"].full_candidate is None
    assert any("subsampled to 400" in note for note in r.notes)


def test_bad_text_records_fail_with_file_and_line(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", ["In the beginning", "God created"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a b"}\n{"text": "  ... "}\n{"text": "   "}\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad.jsonl:3: {NO_TOKENS}"):
        measure_files(good, bad, metrics=["vocab_size"], rng=0)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a b"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.jsonl:2: invalid JSON"):
        measure_files(good, broken, metrics=["vocab_size"], rng=0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty.txt: no records"):
        measure_files(empty, good, metrics=["vocab_size"], rng=0)
    with pytest.raises(DataError, match=r"expected a text format"):
        np.save(tmp_path / "x.npy", np.ones((3, 2)))
        measure_files(good, tmp_path / "x.npy", metrics=["vocab_size"], rng=0)


def test_skip_quarantines_and_counts(tmp_path, kjv_halves):
    ref = write_jsonl(tmp_path / "ref.jsonl", kjv_halves[0][:50])
    lines = [json.dumps({"text": d}) for d in kjv_halves[1][:40]]
    lines[3] = '{"text": "   "}'
    lines[10] = "not json"
    lines[20] = '{"txt": "typo"}'
    cand = tmp_path / "cand.jsonl"
    cand.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = measure_files(ref, cand, metrics=["vocab_size"], rng=0, on_error="skip", n_boot=5)
    assert (r.n_bad_candidate, r.n_candidate_total, r.n_bad_reference) == (3, 37, 0)
    quarantine = tmp_path / "cand.jsonl.quarantine.jsonl"
    rows = [json.loads(x) for x in quarantine.read_text().splitlines()]
    assert [row["line"] for row in rows] == [4, 11, 21]
    assert rows[0]["reason"].startswith(NO_TOKENS) and "'whitespace'" in rows[0]["reason"]
    assert "missing text field 'text'" in rows[2]["reason"]
    assert any(str(quarantine) in note for note in r.notes)


def test_numeric_bad_values_and_widths(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(60, 3))
    cand = rng.normal(size=(50, 3))
    cand[7, 2] = np.nan
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "cand.npy", cand)
    with pytest.raises(DataError, match=r"cand.npy:8: non-finite value nan in column 2"):
        measure_files(tmp_path / "ref.npy", tmp_path / "cand.npy", kind="numeric", rng=0)
    r = measure_files(
        tmp_path / "ref.npy", tmp_path / "cand.npy", kind="numeric", metrics=["variance"],
        rng=0, on_error="skip", n_boot=5,
    )  # fmt: skip
    assert r.n_bad_candidate == 1 and r.n_candidate_total == 49
    np.save(tmp_path / "narrow.npy", rng.normal(size=(50, 2)))
    with pytest.raises(
        DataError, match=r"narrow.npy:1: expected 3 values per record like the reference"
    ):
        measure_files(tmp_path / "ref.npy", tmp_path / "narrow.npy", kind="embedding", rng=0)
    rows = tmp_path / "rows.jsonl"
    rows.write_text("[1, 2, 3]\n[1, 2]\n[4, 5, 6]\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"rows.jsonl:2: expected 3 values, got 2"):
        measure_files(tmp_path / "ref.npy", rows, kind="embedding", metrics=["variance"], rng=0)
    csv = tmp_path / "cand.csv"
    csv.write_text("a,b,c\n" + "\n".join(",".join(map(str, row)) for row in ref[:30]) + "\n")
    r = measure_files(tmp_path / "ref.npy", csv, kind="numeric", metrics=["mean"], rng=0, n_boot=5)
    assert r.n_candidate == 30


def test_load_input_keeps_file_order_under_the_cap(tmp_path):
    docs = [f"doc number {i}" for i in range(30)]
    info = load_input(
        write_txt(tmp_path / "d.txt", docs), "text", side="candidate", streams=None,
        rng=np.random.default_rng(0), max_records=12, chunk_size=5,
    )  # fmt: skip
    assert info.n_good == 30 and len(info.data) == 12
    assert info.data == sorted(info.data, key=docs.index) and info.first_line == 1


lines = st.one_of(
    st.text(max_size=40).map(lambda t: json.dumps({"text": t})),
    st.text(max_size=40),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
    st.just('{"text": 5}'),
    st.just('{"text": "NaN"}'),
)


@given(st.lists(lines, min_size=0, max_size=25))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_arbitrary_records_never_crash(tmp_path, content):
    ref = write_jsonl(tmp_path / "ref.jsonl", ["the word of the Lord", "and it was so"])
    cand = tmp_path / "cand.jsonl"
    cand.write_bytes(("\n".join(content) + "\n").encode("utf-8", "surrogatepass"))
    quarantine = tmp_path / "cand.jsonl.quarantine.jsonl"
    quarantine.unlink(missing_ok=True)
    try:
        r = measure_files(ref, cand, metrics=["vocab_size", "js"], rng=0, on_error="skip", n_boot=3)
    except DataError as exc:  # nothing usable in the file: a one-line error naming it
        assert "cand.jsonl" in str(exc) and "\n" not in str(exc)
        return
    n_bad = len(quarantine.read_text().splitlines()) if quarantine.exists() else 0
    assert r.n_bad_candidate == n_bad
    assert r.n_candidate_total >= 1
