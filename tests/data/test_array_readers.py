"""read_array and read_labels: every format, column selection, and bad numeric input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelcollapse.data.readers import read_array, read_labels
from modelcollapse.errors import DataError, InvalidParameterError


def test_npy_1d_2d_and_columns(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(6, dtype=np.int32).reshape(3, 2))
    X, info = read_array(path)
    assert info.columns == ["0", "1"] and info.n_good == 3
    assert X.dtype == np.float64 and X.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert read_array(path, columns=[1])[0].tolist() == [[1], [3], [5]]
    np.save(path, np.array([1.5, 2.5]))
    assert read_array(path)[0].shape == (2, 1)
    with pytest.raises(InvalidParameterError, match="integer column indices"):
        read_array(path, columns=["a"])


def test_npy_nonfinite_rows_and_bad_arrays(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([[1.0, 2.0], [np.nan, 0.0], [3.0, np.inf]]))
    with pytest.raises(DataError, match=r"x\.npy:2: non-finite value nan in column 0"):
        read_array(path)
    X, info = read_array(path, on_error="skip")
    assert X.tolist() == [[1.0, 2.0]] and info.n_bad == 2
    np.save(path, np.array(["a", "b"]))
    with pytest.raises(DataError, match="expected a numeric array"):
        read_array(path)
    np.save(path, np.zeros((2, 2, 2)))
    with pytest.raises(DataError, match="1-D or 2-D"):
        read_array(path)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"not a readable \.npy file"):
        read_array(path)  # pickles are refused, not executed
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"not a readable \.npy file"):
        read_array(path)
    np.save(path, np.zeros((0, 3)))
    with pytest.raises(DataError, match="no records"):
        read_array(path)


def test_csv_header_detection_and_numeric_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("1,2\n3,4\n", encoding="utf-8")
    X, info = read_array(path)
    assert X.tolist() == [[1, 2], [3, 4]] and info.columns == ["0", "1"]
    path.write_text("name,a,b\nx,1,2\ny,3,4e0\n", encoding="utf-8")
    X, info = read_array(path)
    assert X.tolist() == [[1, 2], [3, 4]] and info.columns == ["a", "b"]
    assert read_array(path, columns=["b"])[0].tolist() == [[2], [4]]
    assert read_array(path, columns=[2, 1])[0].tolist() == [[2, 1], [4, 3]]
    with pytest.raises(InvalidParameterError, match="did you mean 'b'"):
        read_array(path, columns=["bb"])
    path.write_text("name,tag\nx,y\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected numeric columns"):
        read_array(path)


def test_csv_bad_rows_name_column_and_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,oops\n5,inf\n6\n7,8\n", encoding="utf-8")
    for line, reason in [(3, "expected a number in column 'b', got 'oops'")]:
        with pytest.raises(DataError, match=rf"x\.csv:{line}: {reason}"):
            read_array(path)
    X, info = read_array(path, on_error="skip")
    assert X.tolist() == [[1, 2], [7, 8]] and info.n_bad == 3
    reasons = [json.loads(x)["reason"] for x in info.quarantine_path.read_text().splitlines()]
    assert reasons == [
        "expected a number in column 'b', got 'oops'",
        "non-finite value inf in column 'b'",
        "expected 2 fields, got 1",
    ]


def test_jsonl_arrays_fields_and_vectors(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("[1, 2]\n[3, 4.5]\n", encoding="utf-8")
    assert read_array(path)[0].tolist() == [[1, 2], [3, 4.5]]
    path.write_text('{"a": 1, "b": 2, "s": "x"}\n{"a": 3, "b": 4, "s": "y"}\n', encoding="utf-8")
    X, info = read_array(path)
    assert X.tolist() == [[1, 2], [3, 4]] and info.columns == ["a", "b"]
    path.write_text(
        '{"emb": [1, 2, 3], "s": "x"}\n{"emb": [4, 5, 6], "s": "y"}\n', encoding="utf-8"
    )
    X, info = read_array(path)
    assert X.shape == (2, 3) and info.columns == ["emb[0]", "emb[1]", "emb[2]"]
    path.write_text(
        '{"emb": [1, 2, 3]}\n{"emb": [4, 5]}\n{"emb": [1, true, 3]}\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"x\.jsonl:2: expected 3 values, got 2"):
        read_array(path)
    assert read_array(path, on_error="skip")[1].n_bad == 2


def test_jsonl_null_in_first_record_is_not_a_dropped_column(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": null, "b": 1}\n{"a": 2, "b": 3}\n', encoding="utf-8")
    X, info = read_array(path, on_error="skip")
    assert X.tolist() == [[2, 3]] and info.n_bad == 1


def test_parquet_numeric_and_list_columns(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(
        pa.table({"a": [1.0, float("nan"), 3.0], "b": [1, 2, None], "s": ["x", "y", "z"]}), path
    )
    with pytest.raises(DataError, match=r"x\.parquet:2: non-finite value nan in field 'a'"):
        read_array(path)
    X, info = read_array(path, on_error="skip")
    assert X.tolist() == [[1, 1]] and info.n_bad == 2 and info.columns == ["a", "b"]
    pq.write_table(pa.table({"v": [[1.0, 2.0], [3.0, 4.0]], "s": ["x", "y"]}), path)
    assert read_array(path)[0].tolist() == [[1, 2], [3, 4]]
    with pytest.raises(DataError, match="expected column"):
        read_array(path, columns=["nope"])


def test_txt_is_not_numeric(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("1\n")
    with pytest.raises(DataError, match="expected a numeric format"):
        read_array(path)


@pytest.mark.parametrize(
    ("name", "content", "expected", "categories"),
    [
        ("l.txt", "3\n1\n\n3\n", [3, 1, 3], None),
        ("l.txt", "b\na\nb\n", [1, 0, 1], ["a", "b"]),
        ("l.txt", "-1\n2\n", [0, 1], ["-1", "2"]),
        ("l.csv", "x,label\n1,0\n2,4\n", [0, 4], None),
        ("l.csv", "y\ncat\ndog\n", [0, 1], ["cat", "dog"]),
        ("l.jsonl", '1\n2\n{"label": 0}\n', [1, 2, 0], None),
        ("l.jsonl", '{"label": "x"}\n{"label": "y"}\n', [0, 1], ["x", "y"]),
    ],
)
def test_labels_formats(tmp_path, name, content, expected, categories):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    y, info = read_labels(path)
    assert y.dtype == np.int64 and y.tolist() == expected and info.categories == categories


def test_labels_npy_parquet_and_bad_labels(tmp_path):
    path = tmp_path / "l.npy"
    np.save(path, np.array([2.0, 0.0, np.nan, 1.5]))
    with pytest.raises(DataError, match=r"l\.npy:3: expected an integer or string label"):
        read_labels(path)
    y, info = read_labels(path, on_error="skip")
    assert y.tolist() == [2, 0] and info.n_bad == 2
    path = tmp_path / "l.parquet"
    pq.write_table(pa.table({"label": ["a", None, "b"], "x": [1, 2, 3]}), path)
    y, info = read_labels(path, on_error="skip")
    assert y.tolist() == [0, 1] and info.n_bad == 1
    assert read_labels(path, column="x")[0].tolist() == [1, 2, 3]
    path = tmp_path / "l.jsonl"
    path.write_text('{"label": [1]}\n{"other": 1, "label2": 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match="no valid records"):
        read_labels(path, on_error="skip", quarantine=tmp_path / "q.jsonl")
    assert len(Path(tmp_path / "q.jsonl").read_text().splitlines()) == 2
