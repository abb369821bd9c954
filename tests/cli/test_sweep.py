"""``modelcollapse sweep`` as a user runs it, including a real SIGKILL mid-sweep and --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.sweep.conftest import identical, small_config, write_sweep

from modelcollapse.cli.app import main
from modelcollapse.sweep import load_sweep, run_sweep

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return int(exc.value.code or 0)


def test_help_shows_a_real_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "modelcollapse sweep examples/sweep_gaussian.yaml --out" in out
    assert "policy.kind: [replace, accumulate]" in out  # rich markup must not eat the list
    assert (EXAMPLES / "sweep_gaussian.yaml").is_file()


def test_sweep_runs_and_reruns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = write_sweep(tmp_path / "s.yaml", grid={"policy.kind": ["replace", "accumulate"]})
    out = tmp_path / "out"
    argv = ["sweep", str(sweep), "--out", str(out), "--no-progress", "--workers", "1"]
    assert _run(argv) == 0
    text = capsys.readouterr().out
    assert "computed 2 runs, skipped 0 finished" in text and "results.parquet" in text
    table = pq.read_table(out / "results.parquet")
    assert set(table.column("policy.kind").to_pylist()) == {"replace", "accumulate"}
    assert _run([*argv, "--resume"]) == 0
    assert "computed 0 runs, skipped 2 finished" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"grid": {"policy.knd": ["replace"]}}, "did you mean 'policy.kind'"),
        ({"grid": {}}, "got an empty grid"),
        ({"grid": {"seed": 5}}, "expected a list of values"),
    ],
)
def test_bad_sweep_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: dict, message: str
) -> None:
    sweep = write_sweep(tmp_path / "bad.yaml", **sections)
    assert _run(["sweep", str(sweep), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_other_sweep_in_dir_and_bad_executor(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    first = write_sweep(tmp_path / "a.yaml", grid={"seed": [0, 1]})
    assert _run(["sweep", str(first), "--out", str(out), "--no-progress", "-w", "1"]) == 0
    second = write_sweep(tmp_path / "b.yaml", grid={"seed": [0, 2]})
    capsys.readouterr()
    assert _run(["sweep", str(second), "--out", str(out), "--no-progress"]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert _run(["sweep", str(first), "--out", str(out), "--executor", "lokal"]) == 2
    assert "did you mean 'local'" in capsys.readouterr().err


def _state(out: Path) -> tuple[int, int]:
    """(finished runs, runs part-way through: a generation checkpoint but no summary)."""
    runs = [p for p in (out / "runs").glob("*") if p.is_dir()] if (out / "runs").is_dir() else []
    finished = sum((p / "summary.json").is_file() for p in runs)
    partial = sum(
        (not (p / "summary.json").exists()) and any(p.glob("checkpoints/rep_*/gen_0001.npz"))
        for p in runs
    )
    return finished, partial


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_mid_sweep_then_resume_matches_uninterrupted(tmp_path: Path) -> None:
    # General engine (a checkpoint per generation), ~0.4 s per run, 4 runs, 2 worker processes.
    sweep = write_sweep(
        tmp_path / "s.yaml",
        config=small_config(general=True, generations=25),
        grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 1]},
    )
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "modelcollapse.cli.app", "sweep", str(sweep), "--out", str(out)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "2", "--no-progress", "--checkpoint-every", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill reaches the pool workers too
    )
    deadline = time.monotonic() + 120
    try:
        while True:
            finished, partial = _state(out)
            if finished >= 1 and partial >= 1:
                break
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(
                    f"the sweep ended (rc={proc.returncode}) before the kill: {err[-2000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail("the sweep made no progress within 120 s")
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    finished, partial = _state(out)
    assert 1 <= finished < 4 and partial >= 1 and not (out / "results.parquet").exists()
    done_before = {
        p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")
    }

    resumed = subprocess.run(
        [*cmd, "--resume", "--workers", "1", "--no-progress"],  # any worker count: same results
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"skipped {len(done_before)} finished" in resumed.stdout
    for name, mtime in done_before.items():  # finished runs were not redone
        assert (out / "runs" / name / "summary.json").stat().st_mtime_ns == mtime

    clean = run_sweep(load_sweep(sweep), tmp_path / "clean", progress=False)
    killed_table = pq.read_table(out / "results.parquet")
    assert identical(killed_table, clean.results)
    assert (out / "results.parquet").read_bytes() == (
        tmp_path / "clean" / "results.parquet"
    ).read_bytes()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporaries left
