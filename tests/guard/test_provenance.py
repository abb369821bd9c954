"""Provenance survives read -> pipeline -> write byte for byte (JSONL and Parquet), and the
samples `simulate` saves carry complete provenance that the registry picks up."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.document import Document, content_hash, provenance
from modelcollapse.data.readers import read_documents
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.guard.pipeline import Filter, run_pipeline

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
VALUE = (
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | TEXT | st.floats(allow_nan=False)
)
PROV_KEYS = {"source", "generator", "generation", "created_at", "sha256"}


@st.composite
def documents(draw):
    docs = []
    for i in range(draw(st.integers(1, 12))):
        text = draw(TEXT)
        prov = provenance(
            text,
            source=draw(st.sampled_from(["human", "synthetic", "unknown"])),
            generator=draw(st.none() | st.sampled_from(["ngram", "hf", "transformer"])),
            generation=draw(st.none() | st.integers(0, 50)),
            created_at=draw(st.sampled_from(["2024-01-02T03:04:05+00:00", "1611-01-01"])),
        )
        prov["extra"] = draw(st.dictionaries(TEXT, VALUE, max_size=2))  # unknown keys survive
        meta = draw(
            st.dictionaries(TEXT.filter(lambda k: k not in ("id", "text")), VALUE, max_size=2)
        )
        docs.append(Document(f"d{i}", text, {**meta, "provenance": prov}))
    return docs


def _drop_odd(doc: Document) -> str | None:
    return "odd" if int(doc.id[1:]) % 2 else None


def _jsonl_lines(path) -> dict[str, bytes]:
    return {json.loads(line)["id"]: line for line in path.read_bytes().splitlines()}


@settings(max_examples=25, deadline=None)
@given(docs=documents())
def test_jsonl_provenance_is_byte_identical(tmp_path_factory, docs):
    tmp = tmp_path_factory.mktemp("j")
    write_jsonl(docs, tmp / "in.jsonl")
    read = read_documents(tmp / "in.jsonl").documents
    run_pipeline(
        read,
        [Filter.from_function(_drop_odd)],
        exclusions_path=tmp / "ex.jsonl",
        output_path=tmp / "out.jsonl",
    )
    before = _jsonl_lines(tmp / "in.jsonl")
    kept = _jsonl_lines(tmp / "out.jsonl")
    for doc_id, line in kept.items():
        assert line == before[doc_id]  # the whole record, provenance included, byte for byte
    excluded = [json.loads(x) for x in (tmp / "ex.jsonl").read_bytes().splitlines()]
    assert len(kept) + len(excluded) == len(docs)
    for rec in excluded:
        original = json.loads(before[rec["id"]])
        assert rec.pop("exclusion") == {"step": "_drop_odd", "reason": "odd"}
        assert json.dumps(rec["provenance"]) == json.dumps(original["provenance"])
        assert rec == original
    for back in read_documents(tmp / "out.jsonl").documents:
        assert back.metadata["provenance"] == docs[int(back.id[1:])].metadata["provenance"]


@settings(max_examples=25, deadline=None)
@given(docs=documents())
def test_parquet_provenance_is_byte_identical(tmp_path_factory, docs):
    tmp = tmp_path_factory.mktemp("p")
    write_parquet(docs, tmp / "in.parquet")
    read = read_documents(tmp / "in.parquet").documents
    run_pipeline(
        read,
        [Filter.from_function(_drop_odd)],
        exclusions_path=tmp / "ex.parquet",
        output_path=tmp / "out.parquet",
    )
    before = {r["id"]: r for r in pq.read_table(tmp / "in.parquet").to_pylist()}
    kept = pq.read_table(tmp / "out.parquet").to_pylist()
    for row in kept:
        assert row == before[row["id"]]  # the metadata JSON string is identical
    excluded = read_documents(tmp / "ex.parquet").documents if len(kept) < len(docs) else []
    assert len(kept) + len(excluded) == len(docs)
    for doc in excluded:
        original = json.loads(before[doc.id]["metadata"])
        assert json.dumps(doc.metadata["provenance"]) == json.dumps(original["provenance"])


def test_simulate_samples_carry_provenance_into_the_registry(tmp_path):
    from modelcollapse.guard.registry import Registry
    from modelcollapse.loop.config import parse_config
    from modelcollapse.loop.runner import run_experiment

    cfg = parse_config(
        {
            "name": "kjv",
            "generations": 1,
            "samples_per_generation": 20,
            "data": {"source": "kjv", "params": {"n_docs": 40, "n_heldout": 10}},
            "model": {"kind": "ngram", "params": {"n": 2}},
            "policy": {"kind": "fresh", "params": {"lambda": 0.5}},
            "save_samples": True,
        }
    )
    run_experiment(cfg, tmp_path / "run", progress=False)
    files = sorted((tmp_path / "run" / "samples" / "rep_00000").glob("gen_*.jsonl"))
    assert [f.name for f in files] == ["gen_0000.jsonl", "gen_0001.jsonl"]
    registry = Registry(f"sqlite:///{tmp_path / 'reg.db'}")
    for generation, path in enumerate(files):
        docs = read_documents(path).documents
        assert len(docs) == 20
        for doc in docs:
            prov = doc.metadata["provenance"]
            assert set(prov) == PROV_KEYS
            assert prov["source"] == "synthetic" and prov["generator"] == "ngram"
            assert prov["generation"] == generation and prov["sha256"] == content_hash(doc.text)
            datetime.fromisoformat(prov["created_at"])
        registry.register(docs)
        for m in registry.lookup(docs, near=False):
            assert (m.kind, m.generator) == ("exact", "ngram")
            # A text sampled again in a later generation keeps its first registration.
            assert m.generation <= generation
    assert registry.check().ok
