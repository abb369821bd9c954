"""Numeric inputs larger than the memory available: measure streams CSV, JSONL.gz and Parquet.

Mirrors ``test_memory.py`` (text). A subprocess caps its address space (RLIMIT_AS) at what it
uses after importing, plus 64 MiB, and measures a generated numeric file of 600,000 rows x 16
values: the decoded float64 array alone is 73 MiB, more than the whole headroom, and the files
are 80 to 90 MB. Streaming must succeed and report the exact whole-file streamed values (the
file repeats one block, so the whole file has the block's mean and MLE covariance). Reading
the same data whole (``read_data``) must fail under the same cap, which shows that the cap
binds; that is checked on Parquet, the fastest to decode.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux"),
]

HEADROOM_MIB = 64
BLOCK_ROWS, D, REPEATS = 5000, 16, 120
N_ROWS = BLOCK_ROWS * REPEATS

SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import pyarrow.parquet  # imported before the cap, as every other module is
    # Imported lazily while reading (pyarrow's to_numpy loads pyarrow.compute, and pandas when
    # it is installed): libraries are not data, so they too come before the cap.
    import pyarrow.compute, scipy.stats
    try:
        import pandas
    except ImportError:
        pass
    from modelcollapse.data.readers import read_data
    from modelcollapse.measure.files import measure_files

    page = resource.getpagesize()
    used = int(open("/proc/self/statm").read().split()[0]) * page
    cap = used + int(sys.argv[4]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if sys.argv[3] == "stream":
        r = measure_files(sys.argv[1], sys.argv[2], kind="numeric", rng=0,
                          metrics=["mean", "variance"], max_records=1000, n_boot=20)
        m = r.metrics
        print(r.n_candidate_total, r.n_bad_candidate, repr(m["mean"].full_candidate),
              repr(m["variance"].full_candidate))
    else:
        try:
            X, _ = read_data(sys.argv[2], "numeric")
            print("loaded", X.shape)
        except MemoryError:
            print("MemoryError")
    """
)


@pytest.fixture(scope="module")
def block() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((BLOCK_ROWS, D)).round(5)


@pytest.fixture(scope="module")
def files(tmp_path_factory, block):
    """The reference (.npy) and the three big candidates, each ``REPEATS`` copies of ``block``."""
    root = tmp_path_factory.mktemp("big_numeric")
    np.save(root / "ref.npy", block[:2000])
    csv_lines = "".join(",".join(f"{v:.5f}" for v in row) + "\n" for row in block.tolist())
    with open(root / "big.csv", "w", encoding="utf-8") as fh:
        fh.write(",".join(f"x{j}" for j in range(D)) + "\n")
        for _ in range(REPEATS):
            fh.write(csv_lines)
    json_lines = "".join(json.dumps(row) + "\n" for row in block.tolist()).encode()
    with gzip.open(root / "big.jsonl.gz", "wb", compresslevel=1) as fh:
        for _ in range(REPEATS):
            fh.write(json_lines)
    table = pa.table({f"x{j}": block[:, j] for j in range(D)})
    with pq.ParquetWriter(root / "big.parquet", table.schema) as writer:
        for _ in range(REPEATS):
            writer.write_table(table)  # one row group per block
    return root


def run(ref, path, mode):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ref), str(path), mode, str(HEADROOM_MIB)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_the_data_does_not_fit_in_the_headroom():
    assert N_ROWS * D * 8 > HEADROOM_MIB * 2**20


@pytest.mark.parametrize("name", ["big.csv", "big.jsonl.gz", "big.parquet"])
def test_streaming_stays_within_the_cap(files, block, name):
    out = run(files / "ref.npy", files / name, "stream")
    assert out.returncode == 0, out.stderr[-2000:]
    n, n_bad, mean, variance = out.stdout.split()
    assert (int(n), int(n_bad)) == (N_ROWS, 0)
    # Streamed over every row: the block's values (the file is the block repeated).
    assert float(mean) == pytest.approx(block.mean(axis=0).mean(), abs=1e-9)
    cov = np.cov(block, rowvar=False, ddof=0)
    assert float(variance) == pytest.approx(np.trace(cov), rel=1e-9)


def test_reading_the_file_whole_does_not_fit(files):
    out = run(files / "ref.npy", files / "big.parquet", "whole")
    assert "MemoryError" in out.stdout or out.returncode != 0
    assert "loaded" not in out.stdout
