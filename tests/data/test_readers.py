"""read_documents / read_data: formats, metadata and provenance, and every kind of bad input."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelcollapse.data.quarantine import default_quarantine_path
from modelcollapse.data.readers import read_data, read_documents
from modelcollapse.errors import DataError, InvalidParameterError


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_fields_metadata_and_default_ids(tmp_path):
    path = _jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "a", "text": "hello", "lang": "en"},
            {"text": "world", "n": 3},
            {"id": 7, "text": "x"},
        ],
    )
    result = read_documents(path)
    ids = [d.id for d in result.documents]
    assert ids == ["a", "corpus:2", "7"]
    assert result.documents[0].metadata["lang"] == "en"
    assert result.documents[1].metadata["n"] == 3
    assert "text" not in result.documents[0].metadata and "id" not in result.documents[0].metadata
    prov = result.documents[0].metadata["provenance"]
    assert prov["source"] == "unknown" and len(prov["sha256"]) == 64
    assert (result.n_good, result.n_bad, result.quarantine_path) == (3, 0, None)


def test_existing_provenance_is_kept_and_completed(tmp_path):
    prov = {"source": "synthetic", "generator": "ngram", "generation": 3}
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "t", "provenance": prov}])
    got = read_documents(path).documents[0].metadata["provenance"]
    assert {k: got[k] for k in prov} == prov
    assert "sha256" in got and "created_at" in got


def test_custom_fields_and_did_you_mean(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"body": "b", "key": "k1"}])
    doc = read_documents(path, text_field="body", id_field="key").documents[0]
    assert (doc.id, doc.text) == ("k1", "b")
    path = _jsonl(tmp_path / "e.jsonl", [{"txt": "b"}])
    with pytest.raises(
        DataError, match=r"e\.jsonl:1: missing text field 'text' \(did you mean 'txt'\?\)"
    ):
        read_documents(path)


def test_txt_one_document_per_line_crlf_bom_and_blank_lines(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"\xef\xbb\xbffirst line\r\n\r\nsecond  line \r\n")
    docs = read_documents(path).documents
    assert [d.text for d in docs] == ["first line", "second  line "]
    assert [d.id for d in docs] == ["lines:1", "lines:3"]  # blank line 2 still counts


def test_gzip_jsonl_and_txt(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('{"text": "a"}\n{"text": "b"}\n')
    assert [d.text for d in read_documents(path).documents] == ["a", "b"]
    assert read_documents(path).documents[0].id == "d:1"
    path = tmp_path / "t.txt.gz"
    path.write_bytes(gzip.compress(b"x\ny\n"))
    assert [d.text for d in read_documents(path).documents] == ["x", "y"]


def test_corrupt_gzip_is_a_data_error(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "a"}\n' * 1000)[:60])
    with pytest.raises(DataError, match="could not read"):
        read_documents(path)


def test_csv_with_header_quotes_and_wrong_field_count(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        'id,text,tag\n1,"hello, ""you""",x\n2,"multi\nline",y\n3,short\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"d\.csv:5: expected 3 fields, got 2"):
        read_documents(path)
    result = read_documents(path, on_error="skip")
    assert [d.text for d in result.documents] == ['hello, "you"', "multi\nline"]
    assert result.documents[0].metadata["tag"] == "x"
    assert result.n_bad == 1


def test_csv_without_text_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.csv:1: expected a 'text' column"):
        read_documents(path)


def test_parquet_documents_and_not_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["a", None, "c"], "score": [1, 2, 3]}), path)
    with pytest.raises(DataError, match=r"d\.parquet:2: expected field 'text' to be a string"):
        read_documents(path)
    result = read_documents(path, on_error="skip")
    assert [d.text for d in result.documents] == ["a", "c"]
    assert result.documents[1].metadata["score"] == 3
    bad = tmp_path / "fake.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_documents(bad)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no records"),
        (b"\n  \n\r\n", "no records"),
        (b'{"text": "a"', "invalid JSON"),
        (b"[1, 2]", "expected a JSON object, got array"),
        (b'{"text": 5}', "expected field 'text' to be a string, got number"),
        (b'{"text": "a\xff"}', "invalid UTF-8"),
        (b'{"text": "\\ud800"}', "unpaired surrogate"),
        (b"[" * 100_000, "invalid JSON"),
        (b'{"text": "a", "n": ' + b"9" * 5000 + b"}", "invalid JSON"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
    ],
)
def test_bad_input_is_a_data_error_with_the_line(tmp_path, content, reason):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=reason) as exc:
        read_documents(path)
    if reason != "no records":
        assert exc.value.line == 1 and f"{path}:1:" in str(exc.value)


def test_huge_record_is_read(tmp_path):
    big = "w" * 5_000_000
    path = _jsonl(tmp_path / "big.jsonl", [{"text": big}, {"text": "small"}])
    docs = read_documents(path).documents
    assert len(docs[0].text) == 5_000_000 and docs[1].text == "small"
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(f"text\n{big}\nsmall\n", encoding="utf-8")
    assert len(read_documents(csv_path).documents[0].text) == 5_000_000


def test_huge_bad_record_is_quarantined_whole(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "' + b"x" * 5_000_000 + b"\n")
    result = read_documents(path, on_error="skip")
    assert result.n_bad == 1
    entry = json.loads(result.quarantine_path.read_text(encoding="utf-8"))
    assert entry["line"] == 2 and len(entry["raw"]) == 5_000_010


def test_default_quarantine_next_to_input_and_raw_bytes_replaced(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "ok"}\n\xff\xfebad\n')
    result = read_documents(path, on_error="skip")
    assert (
        result.quarantine_path
        == default_quarantine_path(path)
        == tmp_path / "d.jsonl.quarantine.jsonl"
    )
    entry = json.loads(result.quarantine_path.read_text(encoding="utf-8"))
    assert entry["line"] == 2 and entry["raw"] == "\ufffd\ufffdbad" and "UTF-8" in entry["reason"]
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_read_only_folder_needs_an_explicit_quarantine(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _jsonl(folder / "d.jsonl", [{"text": "a"}])
    real_access = os.access
    # Simulate a read-only input folder (chmod does not bind root, which runs CI here).
    monkeypatch.setattr(
        "modelcollapse.data.quarantine.os.access",
        lambda p, mode: False if Path(p) == folder else real_access(p, mode),
    )
    with pytest.raises(InvalidParameterError, match="pass quarantine"):
        read_documents(path, on_error="skip")
    assert read_documents(path, on_error="skip", quarantine=tmp_path / "q" / "q.jsonl").n_good == 1
    assert read_documents(path).n_good == 1  # fail mode writes nothing, so needs nothing


def test_quarantine_path_must_not_be_a_directory(tmp_path):
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "a"}])
    with pytest.raises(InvalidParameterError, match="directory"):
        read_documents(path, on_error="skip", quarantine=tmp_path)


def test_all_bad_in_skip_mode_still_writes_the_quarantine(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"1\n2\n")
    with pytest.raises(DataError, match="no valid records: all 2"):
        read_documents(path, on_error="skip")
    assert len(default_quarantine_path(path).read_text().splitlines()) == 2


def test_argument_and_path_errors(tmp_path):
    with pytest.raises(DataError, match="expected an existing data file"):
        read_documents(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="expected an existing data file, got a directory"):
        read_documents(tmp_path)
    odd = tmp_path / "d.xml"
    odd.write_text("<a/>")
    with pytest.raises(DataError, match=r"expected one of \.jsonl"):
        read_documents(odd)
    path = _jsonl(tmp_path / "d.jsonl", [{"text": "a"}])
    with pytest.raises(InvalidParameterError, match="on_error"):
        read_documents(path, on_error="ignore")
    with pytest.raises(InvalidParameterError, match="did you mean 'text'"):
        read_data(path, kind="txt")


def test_read_data_auto_dispatch(tmp_path):
    text = _jsonl(tmp_path / "t.jsonl", [{"text": "a"}, {"text": "b"}])
    data, info = read_data(text)
    assert data == ["a", "b"] and info.data_kind == "text" and len(info.documents) == 2
    nums = _jsonl(tmp_path / "n.jsonl", [{"x": 1, "y": 2}, {"x": 3, "y": 4}])
    data, info = read_data(nums)
    assert data.shape == (2, 2) and info.data_kind == "numeric"
    labels = tmp_path / "l.txt"
    labels.write_text("a\nb\na\n")
    data, info = read_data(labels, "discrete")
    assert data.tolist() == [0, 1, 0] and info.categories == ["a", "b"]
    data, _ = read_data(labels)  # .txt in auto mode is text
    assert data == ["a", "b", "a"]
