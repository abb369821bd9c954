"""Kill a running experiment with SIGKILL, resume it, and get the uninterrupted metrics.parquet.

The run happens in a subprocess (a small script around ``modelcollapse.loop.runner.main``) whose
checkpoint writer sleeps after each write, so the kill reliably lands mid-run. The test then
plants the kind of half-written temporary file a kill can leave, resumes in-process and compares
with an uninterrupted run of the same config, bit for bit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment
from modelcollapse.loop.store import load_npz

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")

SCRIPT = """
import sys, time
from modelcollapse.loop import store

_write = store.atomic_savez

def slow_write(path, arrays):
    _write(path, arrays)
    time.sleep(float(sys.argv[3]))  # keeps the run alive long enough to be killed mid-run

store.atomic_savez = slow_write
from modelcollapse.loop.runner import main
sys.exit(main([sys.argv[1], sys.argv[2], "--checkpoint-every", "0"]))
"""


def _kill_mid_run(tmp_path: Path, raw: dict, enough, delay: float) -> Path:
    """Start the run in a subprocess, SIGKILL it once ``enough(out)`` holds; return its dir."""
    cfg_path, script, out = tmp_path / "cfg.yaml", tmp_path / "run.py", tmp_path / "killed"
    cfg_path.write_text(yaml.safe_dump(raw))
    script.write_text(SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cfg_path), str(out), str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while not enough(out):
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(
                    f"the run ended (rc={proc.returncode}) before it could be killed: {err.decode()[-2000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the run made no progress within 120 s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert (out / "config.yaml").is_file() and not (out / "metrics.parquet").exists()
    # Atomic writes: every file under its final name is complete.
    finals = list(out.rglob("gen_*.npz"))
    assert finals and all(load_npz(p) is not None for p in finals)
    return out


def _resume_and_compare(
    tmp_path: Path, raw: dict, killed: Path, leftover: Path, same_table
) -> None:
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"PK\x03\x04 half-written by a killed writer")
    cfg = parse_config(raw)
    resumed = run_experiment(cfg, killed, resume=True, progress=False)
    assert resumed.resumed
    clean = run_experiment(cfg, tmp_path / "clean", progress=False)
    assert resumed.engine == clean.engine
    assert same_table(
        pq.read_table(killed / "metrics.parquet"),
        pq.read_table(tmp_path / "clean" / "metrics.parquet"),
    )
    assert (killed / "metrics.parquet").read_bytes() == (
        tmp_path / "clean" / "metrics.parquet"
    ).read_bytes()
    assert not leftover.exists()
    assert not [p for p in killed.rglob("*") if p.name.startswith(".")]


def test_sigkill_then_resume_general_engine(tmp_path, same_table):
    raw = {
        "name": "kill-general",
        "seed": 21,
        "generations": 6,
        "replicates": 3,
        "samples_per_generation": 60,
        "data": {"source": "gaussian", "params": {"n": 60, "n_heldout": 100}},
        "model": {"kind": "kde"},
        "policy": {"kind": "fresh", "params": {"lambda": 0.2}},
        "save_samples": True,
    }

    def enough(out: Path) -> bool:  # replicate 0 done, replicate 1 half way
        return (out / "checkpoints" / "rep_00001" / "gen_0003.npz").exists()

    killed = _kill_mid_run(tmp_path, raw, enough, delay=0.05)
    assert not (killed / "checkpoints" / "rep_00002").exists()
    leftover = killed / "checkpoints" / "rep_00001" / f".gen_0005.npz.tmp-{os.getpid()}"
    _resume_and_compare(tmp_path, raw, killed, leftover, same_table)
    assert len(list((killed / "samples" / "rep_00002").glob("gen_*.npy"))) == 7


def test_sigkill_then_resume_vectorised_engine(tmp_path, same_table):
    raw = {
        "name": "kill-vector",
        "seed": 22,
        "generations": 30,
        "replicates": 2500,
        "samples_per_generation": 50,
        "data": {"source": "gaussian", "params": {"n": 50, "n_heldout": 200}},
        "model": {"kind": "gaussian"},
        "policy": {"kind": "accumulate"},
    }

    def enough(out: Path) -> bool:
        return (out / "checkpoints" / "gen_0005.npz").exists()

    killed = _kill_mid_run(tmp_path, raw, enough, delay=0.05)
    assert not (killed / "checkpoints" / "gen_0030.npz").exists()
    leftover = killed / "checkpoints" / ".gen_0012.npz.tmp-31337"
    _resume_and_compare(tmp_path, raw, killed, leftover, same_table)


@pytest.mark.slow
def test_sigkill_then_resume_warm_started_transformer(tmp_path, same_table):
    """A neural generator: safetensors weights, warm starts, bit-identical after a kill."""
    pytest.importorskip("torch", reason="the torch extra is not installed")
    pytest.importorskip("tokenizers", reason="the torch extra is not installed")
    raw = {
        "name": "kill-transformer",
        "seed": 23,
        "generations": 3,
        "samples_per_generation": 40,
        "data": {"source": "kjv", "params": {"n_docs": 40, "n_heldout": 30}},
        "model": {
            "kind": "transformer",
            "params": {
                "tokenizer": "bpe",
                "vocab_size": 300,
                "n_layer": 1,
                "n_head": 2,
                "n_embd": 16,
                "block_size": 48,
                "steps": 30,
                "batch_size": 16,
                "warmup_steps": 5,
                "max_new_tokens": 48,
                "threads": 1,
                "warm_start": True,
            },
        },
        "metrics": ["perplexity", "vocab_size"],
    }

    def enough(out: Path) -> bool:
        return (out / "checkpoints" / "rep_00000" / "gen_0001.npz").exists()

    killed = _kill_mid_run(tmp_path, raw, enough, delay=0.5)
    assert (killed / "checkpoints" / "rep_00000" / "gen_0000.model.safetensors").is_file()
    leftover = killed / "checkpoints" / "rep_00000" / ".gen_0002.model.safetensors.tmp-4242"
    _resume_and_compare(tmp_path, raw, killed, leftover, same_table)
