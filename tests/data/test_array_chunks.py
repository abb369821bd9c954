"""iter_array: numeric files chunk by chunk, with bad input of every kind.

Every example is read with several chunk sizes (1 record per chunk upwards, so chunk borders
fall everywhere, including between a bad record and the good ones around it). The oracle knows
the good rows and the bad lines, so in every mode and at every chunk size:

- the chunks concatenate to exactly the good rows, in order, each chunk at most ``chunk_size``
  rows and ``first_line`` the line of its first row;
- ``skip`` quarantines exactly the bad lines, in file order; ``fail`` raises DataError naming
  ``file:line`` of the first bad record;
- the result equals :func:`read_array`'s.
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelcollapse.data.array_readers as array_readers
from modelcollapse.data.array_readers import iter_array, read_array
from modelcollapse.data.quarantine import Quarantine
from modelcollapse.errors import DataError, InvalidParameterError

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)


def read_chunks(path: Path, chunk_size: int, on_error: str, **kw):
    """(rows, chunks, quarantined lines) of iter_array, or the DataError it raised."""
    qpath = path.with_name(path.name + f".{chunk_size}.q.jsonl")
    chunks = []
    with Quarantine(path, on_error, qpath) as q:
        chunks = list(iter_array(path, q, chunk_size=chunk_size, **kw))
    lines = [json.loads(x)["line"] for x in qpath.read_text().splitlines()] if q.written else []
    return chunks, lines


def check(path: Path, good: list[list[float]], bad: list[int], d: int, **kw) -> None:
    want = np.asarray(good, dtype=np.float64).reshape(len(good), d)
    for chunk_size in (1, 2, 3, 7, 4096):
        chunks, lines = read_chunks(path, chunk_size, "skip", **kw)
        got = np.concatenate([c.rows for c in chunks]) if chunks else np.empty((0, d))
        np.testing.assert_array_equal(got.reshape(-1, d), want)
        assert lines == bad
        assert all(0 < len(c.rows) <= chunk_size for c in chunks)
        assert all(c.rows.dtype == np.float64 and c.rows.shape[1] == d for c in chunks)
        if bad:
            with pytest.raises(DataError) as exc:
                read_chunks(path, chunk_size, "fail", **kw)
            assert f"{path}:{bad[0]}:" in str(exc.value)
            assert "\n" not in str(exc.value)
    if good:
        X, info = read_array(path, on_error="skip", quarantine=path.with_name("q.jsonl"), **kw)
        np.testing.assert_array_equal(X, want)
        assert (info.n_good, info.n_bad) == (len(good), len(bad))
    else:
        with pytest.raises(DataError, match=r"no (valid )?records"):
            read_array(path, on_error="skip", quarantine=path.with_name("q.jsonl"), **kw)


@st.composite
def csv_row(draw, d: int):
    kind = draw(st.sampled_from(["good"] * 5 + ["nonfinite", "ragged", "word", "utf8", "quote"]))
    values = draw(st.lists(FINITE, min_size=d, max_size=d))
    cells = [repr(v) for v in values]
    if kind == "nonfinite":
        cells[draw(st.integers(0, d - 1))] = draw(st.sampled_from(["nan", "inf", "-Infinity"]))
    elif kind == "ragged":
        cells = [*cells, "1.0"] if draw(st.booleans()) or d == 1 else cells[:-1]
    elif kind == "word":
        # An empty cell in a one-column file is a blank line, which CSV readers skip.
        words = ["abc", "1,5x", "0x1"] if d == 1 else ["abc", "", "1,5x", "0x1"]
        cells[draw(st.integers(0, d - 1))] = draw(st.sampled_from(words))
    raw = ",".join(cells).encode()
    if kind == "utf8":
        raw += b",\xff\xfe"
    elif kind == "quote":
        raw = b'"unterminated,' + raw  # malformed: a quote runs to the end of the file...
    return kind, raw, values


@settings(max_examples=50, deadline=None)
@given(d=st.integers(1, 4), gz=st.booleans(), crlf=st.booleans(), data=st.data())
def test_csv_chunks_bad_input(d, gz, crlf, data):
    rows = data.draw(st.lists(csv_row(d), max_size=14))
    quotes = [i for i, (kind, _, _) in enumerate(rows) if kind == "quote"]
    if quotes:  # ...so it ends the example: the rest would be inside the quoted field
        rows = rows[: quotes[0] + 1]
    header = [f"c{j}" for j in range(d)]
    eol = b"\r\n" if crlf else b"\n"
    body = ",".join(header).encode() + eol
    good, bad = [], []
    for line, (kind, raw, values) in enumerate(rows, start=2):
        body += raw + eol
        (good.append(values) if kind == "good" else bad.append(line))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.csv.gz" if gz else "x.csv")
        path.write_bytes(gzip.compress(body) if gz else body)
        check(path, good, bad, d, columns=header)


@st.composite
def json_row(draw, d: int):
    kind = draw(
        st.sampled_from(["good"] * 5 + ["nonfinite", "ragged", "type", "json", "scalar", "big"])
    )
    values = draw(st.lists(FINITE, min_size=d, max_size=d))
    row: list = list(values)
    if kind == "nonfinite":
        row[draw(st.integers(0, d - 1))] = draw(st.sampled_from([math.nan, math.inf]))
    elif kind == "ragged":
        row = [*row, 1.0] if draw(st.booleans()) or d == 1 else row[:-1]
    elif kind == "type":
        row[draw(st.integers(0, d - 1))] = draw(st.sampled_from(["1.0", None, True, [1.0]]))
    elif kind == "big":
        row[0] = 10**400  # a JSON integer beyond float64
    raw = json.dumps(row).encode()
    if kind == "json":
        raw = raw[:-1]
    elif kind == "scalar":
        raw = b'"not a row"'
    return kind, raw, values


@settings(max_examples=50, deadline=None)
@given(d=st.integers(1, 3), gz=st.booleans(), data=st.data())
def test_jsonl_chunks_bad_input(d, gz, data):
    rows = data.draw(st.lists(json_row(d), max_size=14))
    # The first good row fixes the width: rows before it of another (valid) width would set it.
    good = [v for kind, _, v in rows if kind == "good"]
    bad = [i for i, (kind, _, _) in enumerate(rows, start=1) if kind != "good"]
    body = b"".join(raw + b"\n" for _, raw, _ in rows)
    first_good = next((i for i, (k, _, _) in enumerate(rows) if k == "good"), len(rows))
    if any(k == "ragged" for k, _, _ in rows[:first_good]):
        return  # a ragged row before the first good one is a good row of its own width
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.jsonl.gz" if gz else "x.jsonl")
        path.write_bytes(gzip.compress(body) if gz else body)
        check(path, good, bad, d)


PARQUET_VALUE = st.one_of(FINITE, FINITE, FINITE, st.none(), st.sampled_from([math.nan, -math.inf]))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 16), group=st.integers(1, 6), vector=st.booleans(), data=st.data())
def test_parquet_chunks_bad_input(n, group, vector, data):
    if vector:  # one list column: ragged and null rows are bad
        rows = data.draw(
            st.lists(
                st.one_of(st.lists(PARQUET_VALUE, min_size=2, max_size=2), st.none(), st.just([])),
                min_size=n,
                max_size=n,
            )
        )
        table = pa.table({"v": pa.array(rows, pa.list_(pa.float64())), "s": ["x"] * n})

        def ok(r):
            return (
                r is not None and len(r) == 2 and all(v is not None and math.isfinite(v) for v in r)
            )

        good = [r for r in rows if ok(r)]
        bad = [i for i, r in enumerate(rows, start=1) if not ok(r)]
    else:
        cols = data.draw(
            st.lists(st.lists(PARQUET_VALUE, min_size=n, max_size=n), min_size=2, max_size=2)
        )
        table = pa.table(
            {"a": pa.array(cols[0], pa.float64()), "b": pa.array(cols[1], pa.float64())}
        )
        pairs = list(zip(*cols, strict=True))
        good = [list(p) for p in pairs if all(v is not None and math.isfinite(v) for v in p)]
        bad = [i for i, p in enumerate(pairs, start=1) if list(p) not in good]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.parquet"
        pq.write_table(table, path, row_group_size=group)
        check(path, good, bad, 2)


def test_empty_blank_and_header_only_files(tmp_path):
    for name, content in [("e.csv", b""), ("b.jsonl", b"\n  \n\r\n"), ("h.csv", b"a,b\n")]:
        path = tmp_path / name
        path.write_bytes(content)
        chunks, lines = read_chunks(path, 3, "skip")
        assert chunks == [] and lines == []
        with pytest.raises(DataError, match=rf"{name}: no records"):
            read_array(path)


def test_wrong_encoding_is_one_error_naming_line_1(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(DataError, match=r"x\.csv:1: expected UTF-8 text"):
        read_chunks(path, 2, "skip")
    latin = tmp_path / "y.jsonl"
    latin.write_bytes(b"[1, 2]\n[3, \xe9]\n[5, 6]\n")
    chunks, lines = read_chunks(latin, 1, "skip")
    assert lines == [2] and [c.first_line for c in chunks] == [1, 3]


def test_huge_records(tmp_path):
    # One record of 200,000 values, then a ragged one, then a 2 MB non-numeric CSV field.
    wide = np.arange(200_000, dtype=np.float64)
    path = tmp_path / "wide.jsonl"
    path.write_text(
        json.dumps(wide.tolist()) + "\n" + json.dumps(wide[:-1].tolist()) + "\n", encoding="utf-8"
    )
    chunks, lines = read_chunks(path, 1, "skip")
    assert lines == [2] and chunks[0].rows.shape == (1, 200_000)
    np.testing.assert_array_equal(chunks[0].rows[0], wide)
    csv = tmp_path / "big.csv"
    csv.write_text("a,b\n1,2\n" + "x" * 2_000_000 + ",3\n4,5\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"big\.csv:3: expected a number in column 'a', got 'x{40}\.\.\.'$"
    ):
        read_chunks(csv, 2, "fail")
    chunks, lines = read_chunks(csv, 2, "skip")
    assert lines == [3] and np.concatenate([c.rows for c in chunks]).tolist() == [[1, 2], [4, 5]]


def test_chunks_carry_first_lines_and_names(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,a,b\nu,1,2\nv,3,nan\nw,5,6\n\nz,7,8\n", encoding="utf-8")
    chunks, lines = read_chunks(path, 2, "skip")
    assert lines == [3]
    assert [(c.first_line, c.rows.tolist(), c.names) for c in chunks] == [
        (2, [[1, 2]], ["a", "b"]),
        (4, [[5, 6], [7, 8]], ["a", "b"]),
    ]
    np.save(tmp_path / "x.npy", np.array([[1.0, np.inf], [2.0, 3.0], [4.0, 5.0]]))
    chunks, lines = read_chunks(tmp_path / "x.npy", 2, "skip", columns=[1, 0])
    assert lines == [1] and [c.first_line for c in chunks] == [2, 3]
    assert np.concatenate([c.rows for c in chunks]).tolist() == [[3, 2], [5, 4]]


def test_csv_numeric_columns_are_chosen_on_the_first_rows(tmp_path, monkeypatch):
    # The choice is made before the rest of the file is read: later rows follow it.
    monkeypatch.setattr(array_readers, "SNIFF_ROWS", 3)
    path = tmp_path / "x.csv"
    path.write_text("name,a\nx,1\ny,2\nz,3\n4,5\n6,7\n8,9\n", encoding="utf-8")
    X, info = read_array(path)
    assert info.columns == ["a"] and X.tolist() == [[1], [2], [3], [5], [7], [9]]
    path.write_text("name,a\nx,1\ny,2\n3,z\n4,w\n5,v\n", encoding="utf-8")
    X, info = read_array(path, on_error="skip")
    assert info.columns == ["a"] and X.tolist() == [[1], [2]] and info.n_bad == 3


def test_bad_chunk_size(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n", encoding="utf-8")
    with Quarantine(path, "fail") as q, pytest.raises(InvalidParameterError, match="chunk_size"):
        iter_array(path, q, chunk_size=0)
