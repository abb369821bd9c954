"""Property tests: readers never crash on bad input, never lose a record, and say where it is.

Each example is a file mixing good records with bad ones of every kind (random bytes, invalid
UTF-8, malformed JSON, non-object JSON, missing or non-string text, NaN/inf numbers, wrong
column counts), with CRLF or LF endings, an optional UTF-8 BOM and blank lines. The oracle knows
which lines are bad, so:

- fail mode raises DataError naming ``file:line`` of the first bad record;
- skip mode keeps exactly the good records (in order) and quarantines exactly the bad ones, each
  with its line number, so good + bad == all records.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.data.readers import read_array, read_documents
from modelcollapse.errors import DataError

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def good_doc(draw):
    text = draw(TEXT)
    obj = {"text": text}
    if draw(st.booleans()):
        obj["id"] = draw(st.one_of(TEXT, st.integers(0, 10**6)))
    if draw(st.booleans()):
        obj["score"] = draw(st.floats(allow_nan=True, allow_infinity=True))  # fine in metadata
    ensure_ascii = draw(st.booleans())
    return ("good", json.dumps(obj, ensure_ascii=ensure_ascii).encode("utf-8"), text)


@st.composite
def bad_doc(draw):
    kind = draw(
        st.sampled_from(
            ["bytes", "utf8", "json", "nonobject", "missing", "nonstring", "badid", "provenance"]
        )
    )
    if kind == "bytes":  # 0xff never occurs in UTF-8
        raw = b"\xff" + draw(st.binary(max_size=60)).replace(b"\n", b"").replace(b"\r", b"")
    elif kind == "utf8":
        raw = b'{"text": "ab\xc3(' + draw(TEXT).encode().replace(b"\n", b"") + b'"}'
    elif kind == "json":
        raw = json.dumps({"text": draw(TEXT)}).encode()[:-1]  # missing closing brace
    elif kind == "nonobject":
        value = draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), TEXT, st.none()))
        raw = json.dumps(value).encode()
    elif kind == "missing":
        raw = json.dumps({"body": draw(TEXT)}).encode()
    elif kind == "nonstring":
        value = draw(st.one_of(st.integers(), st.none(), st.lists(TEXT, max_size=2), st.booleans()))
        raw = json.dumps({"text": value}).encode()
    elif kind == "badid":
        raw = json.dumps({"text": "x", "id": [1, 2]}).encode()
    else:
        raw = json.dumps({"text": "x", "provenance": {"source": "alien"}}).encode()
    return ("bad", raw, None)


def _write(records, crlf: bool, bom: bool, blanks: list[bool], path: Path) -> tuple[list, list]:
    """Write the records; return (good texts, bad line numbers) as the reader must see them."""
    eol = b"\r\n" if crlf else b"\n"
    out = bytearray(b"\xef\xbb\xbf" if bom else b"")
    line = 0
    good, bad = [], []
    for (kind, raw, text), blank in zip(records, blanks, strict=True):
        if blank:
            out += b"   " + eol
            line += 1
        out += raw + eol
        line += 1
        (good.append(text) if kind == "good" else bad.append(line))
    path.write_bytes(bytes(out))
    return good, bad


@settings(max_examples=80, deadline=None)
@given(
    records=st.lists(st.one_of(good_doc(), bad_doc()), max_size=12),
    crlf=st.booleans(),
    bom=st.booleans(),
    data=st.data(),
)
def test_documents_bad_input_fail_and_skip(records, crlf, bom, data):
    blanks = data.draw(st.lists(st.booleans(), min_size=len(records), max_size=len(records)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "docs.jsonl"
        good, bad = _write(records, crlf, bom, blanks, path)

        # fail mode: the first bad record stops the read with file:line
        if bad:
            with pytest.raises(DataError) as exc:
                read_documents(path)
            assert f"{path}:{bad[0]}:" in str(exc.value)
            assert exc.value.line == bad[0]
        elif good:
            assert [d.text for d in read_documents(path).documents] == good

        # skip mode: exactly the good ones kept, exactly the bad ones quarantined
        qpath = Path(tmp) / "q.jsonl"
        if not good:
            with pytest.raises(DataError, match="no records" if not bad else "no valid records"):
                read_documents(path, on_error="skip", quarantine=qpath)
        else:
            result = read_documents(path, on_error="skip", quarantine=qpath)
            assert [d.text for d in result.documents] == good
            assert result.n_good == len(good) and result.n_bad == len(bad)
            assert result.n_good + result.n_bad == len(records)
            for doc in result.documents:
                assert doc.metadata["provenance"]["source"] == "unknown"
        if bad:
            lines = [json.loads(x) for x in qpath.read_text(encoding="utf-8").splitlines()]
            assert [q["line"] for q in lines] == bad
            assert all(q["reason"] and isinstance(q["raw"], str) for q in lines)
        else:
            assert not qpath.exists()


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def numeric_row(draw, d: int):
    kind = draw(st.sampled_from(["good"] * 4 + ["nonfinite", "width", "word", "utf8"]))
    values = draw(st.lists(FINITE, min_size=d, max_size=d))
    cells = [repr(v) for v in values]
    if kind == "nonfinite":
        cells[draw(st.integers(0, d - 1))] = draw(st.sampled_from(["nan", "inf", "-inf", "NaN"]))
    elif kind == "width":
        cells = [*cells, "1.0"] if draw(st.booleans()) or d == 1 else cells[:-1]
    elif kind == "word":
        cells[draw(st.integers(0, d - 1))] = "abc"
    raw = ",".join(cells).encode()
    if kind == "utf8":
        raw = raw + b",\xff"
    return kind, raw, values


@settings(max_examples=60, deadline=None)
@given(
    d=st.integers(1, 4),
    crlf=st.booleans(),
    bom=st.booleans(),
    data=st.data(),
)
def test_csv_numeric_bad_input(d, crlf, bom, data):
    rows = data.draw(st.lists(numeric_row(d), max_size=12))
    # The header makes the layout explicit, so a bad first row cannot be taken for it.
    header = [f"c{j}" for j in range(d)]
    eol = b"\r\n" if crlf else b"\n"
    body = (b"\xef\xbb\xbf" if bom else b"") + ",".join(header).encode() + eol
    good, bad = [], []
    for i, (kind, raw, values) in enumerate(rows, start=2):
        body += raw + eol
        (good.append(values) if kind == "good" else bad.append(i))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.csv"
        path.write_bytes(body)
        if bad:
            with pytest.raises(DataError) as exc:
                read_array(path, columns=header)
            assert f"{path}:{bad[0]}:" in str(exc.value)
        qpath = Path(tmp) / "q.jsonl"
        if not good:
            with pytest.raises(DataError, match="no"):
                read_array(path, columns=header, on_error="skip", quarantine=qpath)
            return
        X, info = read_array(path, columns=header, on_error="skip", quarantine=qpath)
        assert X.dtype == np.float64 and X.shape == (len(good), d)
        np.testing.assert_array_equal(X, np.asarray(good))
        assert info.n_good == len(good) and info.n_bad == len(bad)
        if bad:
            lines = [json.loads(x) for x in qpath.read_text(encoding="utf-8").splitlines()]
            assert sorted(q["line"] for q in lines) == bad


@st.composite
def json_numeric_row(draw, d: int):
    kind = draw(st.sampled_from(["good"] * 4 + ["nonfinite", "width", "type", "json", "array"]))
    values = draw(st.lists(FINITE, min_size=d, max_size=d))
    obj: dict = {f"x{j}": v for j, v in enumerate(values)}
    if kind == "nonfinite":
        obj[f"x{draw(st.integers(0, d - 1))}"] = draw(st.sampled_from([math.nan, math.inf]))
    elif kind == "width":
        del obj[f"x{d - 1}"]
    elif kind == "type":
        obj["x0"] = draw(st.sampled_from(["1.0", None, True, {"a": 1.0}]))
    raw = json.dumps(obj).encode()  # Python writes NaN/Infinity, which the reader must refuse
    if kind == "json":
        raw = raw[:-1]
    elif kind == "array":
        raw = b'"not a row"'
    return kind, raw, values


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 3), data=st.data())
def test_jsonl_numeric_bad_input(d, data):
    rows = data.draw(st.lists(json_numeric_row(d), max_size=10))
    columns = [f"x{j}" for j in range(d)]
    good = [v for k, _, v in rows if k == "good"]
    bad = [i for i, (k, _, _) in enumerate(rows, start=1) if k != "good"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl"
        path.write_bytes(b"".join(raw + b"\n" for _, raw, _ in rows))
        qpath = Path(tmp) / "q.jsonl"
        if not good:
            with pytest.raises(DataError):
                read_array(path, columns=columns, on_error="skip", quarantine=qpath)
            return
        X, info = read_array(path, columns=columns, on_error="skip", quarantine=qpath)
        np.testing.assert_array_equal(X, np.asarray(good).reshape(len(good), d))
        assert (info.n_good, info.n_bad) == (len(good), len(bad))
        if bad:
            with pytest.raises(DataError) as exc:
                read_array(path, columns=columns)
            assert f"{path}:{bad[0]}:" in str(exc.value)
