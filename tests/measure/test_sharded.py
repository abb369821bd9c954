"""Sharded measure with the local executor: shard listing, exact merges, bad and empty shards."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.execution import LocalExecutor
from modelcollapse.measure.files import measure_files
from modelcollapse.measure.sharded import (
    SampleMerge,
    ShardResult,
    expand_shards,
    is_sharded,
    measure_shards,
)
from modelcollapse.metrics.functional.text import vocab_size

CHEAP = ["vocab_size", "entropy", "distinct_2", "rare_recall", "js"]


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


def write_shards(folder: Path, docs: list[str], sizes: list[int], fmt: str = "jsonl") -> Path:
    """``docs`` cut into consecutive shards of ``sizes`` (a size may be 0: an empty shard)."""
    folder.mkdir(parents=True, exist_ok=True)
    start = 0
    for i, size in enumerate(sizes):
        part = docs[start : start + size]
        start += size
        path = folder / f"part-{i:03d}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.table({"text": pa.array(part, pa.string())}), path)
        else:
            write_jsonl(path, part)
    assert start == len(docs)
    return folder


def without_notes(result) -> dict:
    out = result.to_dict()
    out.pop("notes")
    return out


def test_expand_shards_orders_and_filters(tmp_path):
    folder = write_shards(tmp_path / "d", ["a b", "c d", "e f"], [1, 1, 1])
    (folder / "part-001.jsonl.quarantine.jsonl").write_text("{}\n")
    (folder / ".part-009.jsonl").write_text("{}\n")
    (folder / "README.md").write_text("not data\n")
    names = [p.name for p in expand_shards(folder)]
    assert names == ["part-000.jsonl", "part-001.jsonl", "part-002.jsonl"]
    assert [p.name for p in expand_shards(str(folder / "part-00[12].jsonl"))] == names[1:]
    listed = [folder / "part-002.jsonl", folder / "part-000.jsonl"]
    assert expand_shards(listed) == listed  # a list keeps its order
    assert is_sharded(folder) and is_sharded(str(folder / "*.jsonl")) and is_sharded(listed)
    assert not is_sharded(folder / "part-000.jsonl")
    with pytest.raises(InvalidParameterError, match="expected each shard once"):
        expand_shards([folder, folder / "part-001.jsonl"])
    with pytest.raises(InvalidParameterError, match="expected at least one shard"):
        expand_shards([])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: expected data files"):
        expand_shards(tmp_path / "empty")
    with pytest.raises(DataError, match="expected data files matching"):
        expand_shards(str(tmp_path / "*.parquet"))
    with pytest.raises(DataError, match="expected an existing data file"):
        expand_shards(tmp_path / "missing.jsonl")


def test_one_shard_per_side_is_measure_files(tmp_path, kjv_halves):
    ref = write_jsonl(tmp_path / "ref.jsonl", kjv_halves[0][:700])
    cand = write_jsonl(tmp_path / "cand.jsonl", kjv_halves[1][:600])
    kw = dict(metrics=CHEAP, rng=7, n_boot=10, max_records=250, chunk_size=64)
    expected = measure_files(ref, cand, **kw)
    got = measure_shards([ref], [cand], executor=LocalExecutor(1), **kw)
    assert got.to_dict() == expected.to_dict()  # reservoir draws included
    assert got.n_candidate == 250 and got.metrics["vocab_size"].full_candidate is not None


def test_under_the_cap_equals_measure_files_on_the_whole_corpus(tmp_path, kjv_halves):
    ref_docs, cand_docs = kjv_halves[0][:300], kjv_halves[1][:280]
    ref = write_shards(tmp_path / "ref", ref_docs, [100, 0, 120, 80])
    cand = write_shards(tmp_path / "cand", cand_docs, [200, 80], fmt="parquet")
    kw = dict(metrics=CHEAP, rng=3, n_boot=10)
    got = measure_shards(ref, cand, executor="local", workers=1, **kw)
    expected = measure_files(
        write_jsonl(tmp_path / "r.jsonl", ref_docs),
        write_jsonl(tmp_path / "c.jsonl", cand_docs),
        **kw,
    )
    assert without_notes(got) == without_notes(expected)
    assert got.notes == ["sharded input: 4 reference and 2 candidate shard(s)"]
    assert got.metrics["vocab_size"].candidate == vocab_size(cand_docs)


def test_streamed_values_merge_exactly_and_samples_stay_in_order(tmp_path, verses):
    ref_docs, cand_docs = verses[:1500], verses[1500:2600]
    ref = write_shards(tmp_path / "ref", ref_docs, [400, 400, 700])
    cand = write_shards(tmp_path / "cand", cand_docs, [1, 599, 500])
    kw = dict(metrics=CHEAP, rng=0, n_boot=5, max_records=300, chunk_size=97)
    got = measure_shards(ref, cand, executor="local", workers=1, **kw)
    whole = measure_files(
        write_jsonl(tmp_path / "r.jsonl", ref_docs),
        write_jsonl(tmp_path / "c.jsonl", cand_docs),
        **kw,
    )
    assert (got.n_reference, got.n_candidate) == (300, 300)
    assert (got.n_reference_total, got.n_candidate_total) == (1500, 1100)
    for name in ("vocab_size", "entropy", "distinct_2", "js"):
        g, w = got.metrics[name], whole.metrics[name]
        assert g.full_candidate == pytest.approx(w.full_candidate, rel=1e-12), name
        if w.full_reference is not None:
            assert g.full_reference == pytest.approx(w.full_reference, rel=1e-12), name
    again = measure_shards(ref, cand, executor="local", workers=1, **kw)
    assert again.to_dict() == got.to_dict()
    other_seed = measure_shards(ref, cand, executor="local", workers=1, **{**kw, "rng": 1})
    assert other_seed.metrics["vocab_size"].candidate != got.metrics["vocab_size"].candidate


def _shard(items: list[int], capacity: int, seed: int) -> ShardResult:
    from modelcollapse.measure.files import Reservoir

    res = Reservoir(capacity, np.random.default_rng(seed))
    if items:
        res.add(items)
    sample = res.sample() if items else []
    return ShardResult(Path("x"), "candidate", None, sample, len(items), 0, None, None)  # type: ignore[arg-type]


def test_sample_merge_is_uniform_and_ordered():
    sizes = [3, 0, 17, 1, 19]  # 40 items, uneven shards, one empty
    hits = np.zeros(40)
    for seed in range(600):
        merge = SampleMerge(10, np.random.default_rng([seed, 99]))
        start = 0
        for k, size in enumerate(sizes):
            merge.add(_shard(list(range(start, start + size)), 10, seed * 10 + k))
            start += size
        sample = merge.items
        assert len(sample) == 10 and sample == sorted(sample) and len(set(sample)) == 10
        hits[sample] += 1
    # each item is kept with probability 10/40: 150 of 600 times (sd about 10.6)
    assert np.all(np.abs(hits - 150) < 50), hits


def test_sample_merge_of_rows_checks_widths():
    merge = SampleMerge(4, np.random.default_rng(0))
    rows = np.arange(12.0).reshape(6, 2)
    a = ShardResult(Path("a.npy"), "reference", None, rows[:3], 3, 0, None, 1)  # type: ignore[arg-type]
    merge.add(a)
    merge.add(ShardResult(Path("b.npy"), "reference", None, rows[3:], 3, 0, None, 1))  # type: ignore[arg-type]
    assert merge.items.shape == (4, 2) and merge.items.flags.writeable
    assert np.all(np.diff(merge.items[:, 0]) > 0)
    wide = ShardResult(Path("c.npy"), "reference", None, np.ones((2, 3)), 2, 0, None, 5)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"c.npy:5: expected 2 values per record like"):
        merge.add(wide)


def test_numeric_shards_of_mixed_formats(tmp_path):
    rng = np.random.default_rng(0)
    ref, cand = rng.normal(size=(90, 3)), rng.normal(scale=0.5, size=(70, 3))
    np.save(tmp_path / "ref.npy", ref)
    (tmp_path / "c").mkdir()
    np.save(tmp_path / "c" / "a.npy", cand[:30])
    pq.write_table(
        pa.table({f"x{j}": cand[30:, j] for j in range(3)}), tmp_path / "c" / "b.parquet"
    )
    kw = dict(kind="numeric", metrics=["variance", "mean"], rng=0, n_boot=5)
    got = measure_shards(tmp_path / "ref.npy", tmp_path / "c", executor="local", workers=1, **kw)
    np.save(tmp_path / "cand.npy", cand)
    expected = measure_files(tmp_path / "ref.npy", tmp_path / "cand.npy", **kw)
    assert without_notes(got) == without_notes(expected)
    np.save(tmp_path / "c" / "z.npy", np.ones((5, 2)))
    with pytest.raises(
        DataError, match=r"z.npy:1: expected 3 values per record like the candidate"
    ):
        measure_shards(tmp_path / "ref.npy", tmp_path / "c", executor="local", workers=1, **kw)


def test_bad_records_fail_naming_the_shard_or_are_quarantined(tmp_path, kjv_halves):
    ref = write_shards(tmp_path / "ref", kjv_halves[0][:60], [30, 30])
    cand = write_shards(tmp_path / "cand", kjv_halves[1][:50], [20, 30])
    bad = cand / "part-001.jsonl"
    lines = bad.read_text().splitlines()
    lines[4] = "not json"
    lines[9] = '{"text": "   "}'
    bad.write_text("\n".join(lines) + "\n")
    kw = dict(metrics=["vocab_size"], rng=0, n_boot=3, executor="local", workers=1)
    with pytest.raises(DataError, match=r"part-001.jsonl:5: invalid JSON"):
        measure_shards(ref, cand, **kw)
    r = measure_shards(ref, cand, on_error="skip", **kw)
    assert (r.n_bad_candidate, r.n_candidate_total, r.n_bad_reference) == (2, 48, 0)
    quarantine = cand / "part-001.jsonl.quarantine.jsonl"
    assert [json.loads(x)["line"] for x in quarantine.read_text().splitlines()] == [5, 10]
    assert any(str(quarantine) in note for note in r.notes)
    again = measure_shards(ref, cand, on_error="skip", **kw)  # the quarantine is not a shard
    assert again.to_dict() == r.to_dict()
    empty = tmp_path / "none"
    write_shards(empty, [], [0, 0])
    with pytest.raises(DataError, match=r"none/\*.jsonl \(2 shards\): no records"):
        measure_shards(ref, empty / "*.jsonl", **kw)


@pytest.mark.slow
def test_workers_do_not_change_the_result(tmp_path, verses):
    ref = write_shards(tmp_path / "ref", verses[:900], [300, 300, 300])
    cand = write_shards(tmp_path / "cand", verses[900:1700], [100, 0, 500, 200], fmt="parquet")
    kw = dict(metrics=CHEAP, rng=5, n_boot=5, max_records=200)
    one = measure_shards(ref, cand, executor="local", workers=1, **kw)
    with LocalExecutor(2) as ex:
        two = measure_shards(ref, cand, executor=ex, **kw)
        assert ex._pool is not None  # it really ran in a pool, and stays open for reuse
    assert two.to_dict() == one.to_dict()


record = st.one_of(
    st.sampled_from(["in the beginning", "and God said", "let there be light", "amen"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),  # may be blank: bad
    st.just("\x00 broken"),
)
shard = st.tuples(
    st.sampled_from(["jsonl", "parquet"]),
    st.lists(record, max_size=8),
    st.lists(st.sampled_from(["not json", "[1, 2]", '{"txt": "x"}']), max_size=2),
)


@given(st.lists(shard, min_size=1, max_size=5), st.integers(2, 12))
@settings(max_examples=40, deadline=None)
def test_arbitrary_shards_never_crash_and_lose_nothing(shards, max_records):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cand"
        folder.mkdir()
        good: list[str] = []
        n_bad = 0
        for i, (fmt, docs, junk) in enumerate(shards):
            path = folder / f"s{i:02d}.{fmt}"
            valid = [d for d in docs if d.split()]
            n_bad += len(docs) - len(valid)
            good += valid
            if fmt == "parquet":  # Parquet has no malformed lines: only its records can be bad
                pq.write_table(pa.table({"text": pa.array(docs, pa.string())}), path)
            else:
                lines = [json.dumps({"text": d}) for d in docs] + junk
                n_bad += len(junk)
                path.write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        # a reference larger than any candidate: the candidate is measured whole
        ref = write_jsonl(Path(tmp) / "ref.jsonl", [f"verse {i} of the Lord" for i in range(100)])
        kw = dict(metrics=["vocab_size"], rng=0, n_boot=2, on_error="skip", max_records=max_records)
        try:
            r = measure_shards(ref, folder, executor="local", workers=1, **kw)
        except DataError as exc:
            assert not good and "cand" in str(exc) and "\n" not in str(exc)
            return
        assert r.n_candidate_total == len(good) and r.n_bad_candidate == n_bad
        assert r.n_candidate == min(len(good), max_records)
        if len(good) <= max_records:
            assert r.metrics["vocab_size"].candidate == vocab_size(good)
        quarantined = sum(
            len(q.read_text().splitlines()) for q in folder.glob("*.quarantine.jsonl")
        )
        assert quarantined == n_bad
