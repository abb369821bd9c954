"""Numeric measure inputs streamed from every format: same measurement, bad records, widths."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelcollapse.errors import DataError
from modelcollapse.measure.files import load_input, measure_files
from modelcollapse.metrics.functional.moments import data_variance

METRICS = ["mean", "variance", "frechet_distance", "mmd"]


def write_all(root: Path, stem: str, X: np.ndarray) -> list[Path]:
    """X as .npy, .csv (with a header), .jsonl (arrays), .jsonl.gz (objects) and .parquet."""
    d = X.shape[1]
    np.save(root / f"{stem}.npy", X)
    rows = X.tolist()
    (root / f"{stem}.csv").write_text(
        ",".join(f"x{j}" for j in range(d))
        + "\n"
        + "".join(",".join(repr(v) for v in row) + "\n" for row in rows),
        encoding="utf-8",
    )
    (root / f"{stem}.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8"
    )
    objects = "".join(json.dumps({f"x{j}": v for j, v in enumerate(row)}) + "\n" for row in rows)
    (root / f"{stem}.jsonl.gz").write_bytes(gzip.compress(objects.encode()))
    pq.write_table(
        pa.table({"emb": pa.array(rows, pa.list_(pa.float64()))}), root / f"{stem}.parquet"
    )
    return [root / f"{stem}.{ext}" for ext in ("npy", "csv", "jsonl", "jsonl.gz", "parquet")]


def test_every_format_gives_the_same_measurement(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((700, 3))
    cand = 0.8 * rng.standard_normal((900, 3)) + 0.1
    np.save(tmp_path / "ref.npy", ref)
    paths = write_all(tmp_path, "cand", cand)
    results = []
    for p in paths:
        r = measure_files(
            tmp_path / "ref.npy", p, kind="numeric", metrics=METRICS, rng=3, n_boot=10,
            max_records=300, chunk_size=128,
        )  # fmt: skip
        results.append(r.to_dict())
    for other in results[1:]:
        assert other["metrics"] == results[0]["metrics"]
    full = results[0]["metrics"]["variance"]
    # more records than max_records: the streamed value covers the whole file
    assert full["full_candidate"] == pytest.approx(data_variance(cand), rel=1e-12)


def test_bad_numeric_records_name_the_file_and_line(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "ref.npy", rng.standard_normal((40, 2)))
    cand = tmp_path / "cand.csv"
    lines = ["a,b"] + [f"{x:.4f},{y:.4f}" for x, y in rng.standard_normal((30, 2))]
    lines[5] = "0.5,nan"
    lines[9] = "1.0"
    lines[20] = "2.0,abc"
    cand.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cand\.csv:6: non-finite value nan in column 'b'"):
        measure_files(tmp_path / "ref.npy", cand, kind="numeric", metrics=["mean"], rng=0)
    r = measure_files(
        tmp_path / "ref.npy", cand, kind="numeric", metrics=["mean"], rng=0, n_boot=5,
        on_error="skip", chunk_size=4,
    )  # fmt: skip
    assert (r.n_candidate_total, r.n_bad_candidate) == (27, 3)
    quarantine = tmp_path / "cand.csv.quarantine.jsonl"
    rows = [json.loads(x) for x in quarantine.read_text().splitlines()]
    assert [row["line"] for row in rows] == [6, 10, 21]
    assert rows[1]["reason"] == "expected 2 fields, got 1"


def test_mismatched_width_names_the_first_record(tmp_path):
    np.save(tmp_path / "ref.npy", np.zeros((10, 3)))
    cand = tmp_path / "cand.jsonl"
    cand.write_text('"junk"\n[1, 2]\n[3, 4]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"cand\.jsonl:2: expected 3 values per record"):
        measure_files(
            tmp_path / "ref.npy", cand, kind="embedding", metrics=["mean"], rng=0, on_error="skip"
        )


def test_load_input_streams_in_chunks(tmp_path):
    X = np.arange(60.0).reshape(20, 3)
    X[4, 1] = np.inf
    (path,) = [p for p in write_all(tmp_path, "x", X) if p.suffix == ".csv"]
    info = load_input(
        path, "numeric", side="candidate", streams=None, rng=np.random.default_rng(0),
        on_error="skip", max_records=8, chunk_size=3,
    )  # fmt: skip
    assert (info.n_good, info.n_bad, info.first_line) == (19, 1, 2)
    assert info.data.shape == (8, 3) and np.all(np.diff(info.data[:, 0]) > 0)  # file order
    assert set(info.data[:, 0]) <= set(np.delete(X, 4, axis=0)[:, 0])
