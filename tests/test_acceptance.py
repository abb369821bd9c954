"""The issue's acceptance checks, run the way a user runs them."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelcollapse.loop import theory
from modelcollapse.loop.results import Metrics

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "modelcollapse.cli.app", *args]


@pytest.mark.slow
def test_shumailov_gaussian_example(tmp_path):
    """examples/gaussian_mle.yaml as shipped: 10,000 chains, M = 100, 100 generations."""
    out = tmp_path / "R"
    proc = subprocess.run(
        _cli(
            "simulate", str(ROOT / "examples/gaussian_mle.yaml"), "--out", str(out), "--no-progress"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    m = Metrics.read(out)
    logs = np.log(m.values("variance_ratio", 100))
    assert logs.size == 10_000
    expected = theory.gaussian_log_variance(100, 100)  # -2.0185
    assert abs(logs.mean() - (-2.02)) < 0.05
    se = math.sqrt(theory.gaussian_log_variance_var(100, 100) / logs.size)
    assert abs(logs.mean() - expected) < 4 * se


def _checkpoints(out: Path) -> int:
    return len(list((out / "checkpoints").glob("rep_*/gen_*.npz"))) if out.exists() else 0


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_then_resume_through_the_cli(tmp_path):
    cfg = {
        "name": "kill-me",
        "seed": 5,
        "generations": 20,
        "replicates": 2,
        "samples_per_generation": 1000,
        "data": {"source": "kjv", "params": {"n_docs": 1000, "n_heldout": 300}},
        "model": {"kind": "ngram", "params": {"n": 3}},
        "policy": {"kind": "accumulate-subsample", "params": {"budget": 1500}},
        "metrics": ["vocab_size", "perplexity", "rare_recall", "distinct_2"],
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    killed, clean = tmp_path / "killed", tmp_path / "clean"

    proc = subprocess.Popen(
        _cli("simulate", str(path), "--out", str(killed), "--no-progress"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while _checkpoints(killed) < 4:
        assert proc.poll() is None, f"run ended before the kill: {proc.stderr.read().decode()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "metrics.parquet").exists()
    n_done = _checkpoints(killed)
    assert 4 <= n_done < 2 * 21

    resumed = subprocess.run(
        _cli("simulate", str(path), "--out", str(killed), "--resume", "--no-progress"),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    full = subprocess.run(
        _cli("simulate", str(path), "--out", str(clean), "--no-progress", "--workers", "2"),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert full.returncode == 0, full.stderr
    assert (killed / "metrics.parquet").read_bytes() == (clean / "metrics.parquet").read_bytes()
