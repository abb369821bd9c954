"""Writers: JSON lines and Parquet round-trip Documents exactly, and write atomically."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.document import Document, provenance
from modelcollapse.data.readers import read_documents
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.errors import DataError, InvalidParameterError

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def documents(draw):
    n = draw(st.integers(1, 6))
    docs = []
    for i in range(n):
        text = draw(TEXT)
        meta = draw(
            st.dictionaries(TEXT.filter(lambda k: k not in ("id", "text")), JSONISH, max_size=3)
        )
        meta["provenance"] = provenance(
            text, source=draw(st.sampled_from(["human", "synthetic", "unknown"])), generation=i
        )
        docs.append(Document(id=f"doc-{i}-{draw(TEXT)}", text=text, metadata=meta))
    return docs


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
@settings(max_examples=30, deadline=None)
@given(docs=documents())
def test_round_trip(tmp_path_factory, suffix, docs):
    path = tmp_path_factory.mktemp("rt") / f"docs{suffix}"
    writer = write_parquet if suffix == ".parquet" else write_jsonl
    assert writer(docs, path) == len(docs)
    back = read_documents(path).documents
    assert back == docs


def test_numpy_metadata_and_nan_are_written(tmp_path):
    doc = Document("a", "t", {"x": np.float32(1.5), "v": np.arange(3), "nan": math.nan})
    for path in (tmp_path / "d.jsonl", tmp_path / "d.parquet"):
        (write_jsonl if path.suffix == ".jsonl" else write_parquet)([doc], path)
        meta = read_documents(path).documents[0].metadata
        assert meta["x"] == 1.5 and meta["v"] == [0, 1, 2] and math.isnan(meta["nan"])


def test_lone_surrogate_in_metadata_survives_but_not_in_text(tmp_path):
    doc = Document("a", "t", {"note": "\ud800"})
    write_jsonl([doc], tmp_path / "d.jsonl")
    assert read_documents(tmp_path / "d.jsonl").documents[0].metadata["note"] == "\ud800"
    with pytest.raises(DataError, match="unpaired surrogate"):
        write_jsonl([Document("a", "\ud800")], tmp_path / "e.jsonl")


def test_bad_documents_are_refused_and_the_old_file_survives(tmp_path):
    path = tmp_path / "d.jsonl"
    write_jsonl([Document("a", "old")], path)
    bad = [Document("b", "new"), Document("c", "x", {"obj": object()})]
    with pytest.raises(InvalidParameterError, match="document 'c'"):
        write_jsonl(bad, path)
    assert [d.text for d in read_documents(path).documents] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl"]  # no temp file left
    with pytest.raises(InvalidParameterError, match="collides"):
        write_parquet([Document("a", "t", {"text": "dup"})], tmp_path / "d.parquet")
    with pytest.raises(InvalidParameterError, match="expected Document"):
        write_jsonl(["just a string"], path)  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="directory"):
        write_jsonl([Document("a", "t")], tmp_path)


def test_writers_create_parent_folders(tmp_path):
    path = tmp_path / "a" / "b" / "d.parquet"
    write_parquet([Document("a", "t")], path)
    assert read_documents(path).documents[0].id == "a"
