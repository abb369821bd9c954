"""The command line as a user runs it: exit codes, one-line errors, real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from modelcollapse.cli.app import main

SMALL = {
    "name": "cli-small",
    "seed": 3,
    "generations": 4,
    "replicates": 3,
    "samples_per_generation": 50,
    "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 50}},
    "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
    "policy": {"kind": "replace"},
    "metrics": ["variance", "variance_ratio"],
}


def _write(tmp_path: Path, cfg: dict, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return int(exc.value.code or 0)


def test_simulate_writes_run_store(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "run"
    assert _run(["simulate", str(cfg), "--out", str(out), "--no-progress"]) == 0
    for name in ("config.yaml", "metrics.parquet", "summary.json"):
        assert (out / name).is_file(), name
    table = pq.read_table(out / "metrics.parquet")
    assert table.column_names[:4] == ["generation", "replicate", "metric", "value"]
    # generations 0..4, 3 replicates, 2 metrics
    assert table.num_rows == 5 * 3 * 2
    json.loads((out / "summary.json").read_text())
    assert "variance_ratio" in capsys.readouterr().out


def test_checkpoint_every_sets_how_often_checkpoint_files_are_written(
    tmp_path, capsys, monkeypatch
):
    # extreme_quantile_ratio has no batched form: the general engine, one checkpoint per write.
    cfg = _write(tmp_path, {**SMALL, "metrics": ["variance", "extreme_quantile_ratio"]})
    every, batched = tmp_path / "every", tmp_path / "batched"
    base = ["simulate", str(cfg), "--no-progress"]
    assert _run([*base, "--out", str(every), "--checkpoint-every", "0"]) == 0
    assert _run([*base, "--out", str(batched), "--checkpoint-every", "3600"]) == 0
    names = {p.name for p in (every / "checkpoints" / "rep_00001").iterdir()}
    assert names == {f"gen_{g:04d}.npz" for g in range(5)}
    names = {p.name for p in (batched / "checkpoints" / "rep_00001").iterdir()}
    assert names == {"gen_0000.npz", "gen_0004.npz"}
    same = pq.read_table(every / "metrics.parquet") == pq.read_table(batched / "metrics.parquet")
    assert same
    capsys.readouterr()
    assert _run([*base, "--out", str(tmp_path / "bad"), "--checkpoint-every", "-1"]) == 2
    assert "checkpoint-every" in capsys.readouterr().err
    # The CLI spells the library's default out (importing the run store would slow start-up).
    from modelcollapse.cli.simulate import CHECKPOINT_EVERY_OPTION
    from modelcollapse.loop.store import DEFAULT_CHECKPOINT_EVERY

    assert CHECKPOINT_EVERY_OPTION.default == DEFAULT_CHECKPOINT_EVERY
    monkeypatch.setenv("COLUMNS", "200")  # rich shortens long option names in narrow help
    assert _run(["simulate", "--help"]) == 0
    assert "--checkpoint-every" in capsys.readouterr().out


def test_set_overrides_config(tmp_path):
    cfg = _write(tmp_path, SMALL)
    out = tmp_path / "run"
    argv = ["simulate", str(cfg), "--out", str(out), "--no-progress", "--set", "generations=2"]
    assert _run(argv) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["generations"] == 2
    assert pq.read_table(out / "metrics.parquet").column("generation").to_numpy().max() == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"policy": {"kind": "replce"}}, "did you mean 'replace'"),
        ({"generations": "many"}, "generations"),
        ({"data": {"source": "gausian"}}, "did you mean 'gaussian'"),
        ({"model": {"kind": "gausian"}}, "did you mean 'gaussian'"),
        ({"polcy": {"kind": "replace"}}, "did you mean 'policy'"),
    ],
)
def test_invalid_config_is_one_line_exit_2(tmp_path, capsys, change, expected):
    cfg = _write(tmp_path, {**SMALL, **change})
    code = _run(["simulate", str(cfg), "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    assert expected in err
    assert "Traceback" not in err


def test_missing_config_file(tmp_path, capsys):
    assert _run(["simulate", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "r")]) == 2
    assert "not found" in capsys.readouterr().err


def test_malformed_yaml_names_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ngenerations: [1, 2\nseed: 0\n", encoding="utf-8")
    assert _run(["simulate", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{path}:" in err and "invalid YAML" in err


def test_debug_shows_traceback(tmp_path):
    cfg = _write(tmp_path, {**SMALL, "policy": {"kind": "replce"}})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelcollapse.cli.app",
            "--debug",
            "simulate",
            str(cfg),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_help_shows_examples(capsys):
    assert _run(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "modelcollapse simulate examples/" in out
    assert "--resume" in out and "--workers" in out and "--set" in out


def test_datasets_lists_sizes(capsys):
    assert _run(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "kjv" in out and "31,103" in out
    assert "digits" in out and "1,797" in out


def test_examples_are_valid_configs():
    from modelcollapse.loop.config import load_config

    examples = sorted(Path(__file__).resolve().parents[2].joinpath("examples").glob("*.yaml"))
    # sweep_*.yaml are sweep files (checked in tests/test_examples.py), not experiment configs.
    examples = [p for p in examples if not p.stem.startswith("sweep_")]
    assert len(examples) >= 7
    for path in examples:
        load_config(path)


def _path_config(tmp_path: Path, data_file: Path) -> Path:
    cfg = {
        **SMALL,
        "replicates": 1,
        "data": {"source": "path", "params": {"path": str(data_file)}},
        "model": {"kind": "ngram", "params": {"n": 2}},
        "metrics": ["vocab_size"],
    }
    return _write(tmp_path, cfg)


def test_malformed_data_file_names_file_and_line(tmp_path, capsys):
    data = tmp_path / "docs.jsonl"
    good = [json.dumps({"text": f"verse number {i} of the book"}) for i in range(20)]
    data.write_text("\n".join([*good[:3], "{not json", *good[3:]]) + "\n", encoding="utf-8")
    cfg = _path_config(tmp_path, data)
    assert _run(["simulate", str(cfg), "--out", str(tmp_path / "r1"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{data}:4:" in err and len(err.strip().splitlines()) == 1


def test_on_error_skip_quarantines_and_reports(tmp_path, caplog):
    data = tmp_path / "docs.jsonl"
    good = [json.dumps({"text": f"verse number {i} of the book"}) for i in range(20)]
    bad = ["{not json", json.dumps({"text": 7}), json.dumps(["a list"])]
    data.write_text("\n".join([*good[:5], *bad, *good[5:]]) + "\n", encoding="utf-8")
    cfg = _path_config(tmp_path, data)
    argv = ["simulate", str(cfg), "--out", str(tmp_path / "r2"), "--no-progress"]
    assert _run([*argv, "--on-error", "skip"]) == 0
    quarantine = [
        json.loads(x)
        for x in data.with_name("docs.jsonl.quarantine.jsonl").read_text().splitlines()
    ]
    assert [q["line"] for q in quarantine] == [6, 7, 8]
    assert "3 bad record(s) quarantined" in caplog.text


def test_on_error_needs_a_path_source(tmp_path, capsys):
    cfg = _write(tmp_path, SMALL)
    argv = ["simulate", str(cfg), "--out", str(tmp_path / "r"), "--on-error", "skip"]
    assert _run(argv) == 2
    assert "--on-error applies to data.source 'path'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "no records"), ("1.0,2.0\n3.0,nan\n", ":2:"), ("1.0,2.0\n3.0\n", ":2:")],
)
def test_bad_numeric_files_are_clear_errors(tmp_path, capsys, content, expected):
    data = tmp_path / "x.csv"
    data.write_text(content, encoding="utf-8")
    cfg = {**SMALL, "data": {"source": "path", "params": {"path": str(data)}}}
    path = _write(tmp_path, cfg)
    assert _run(["simulate", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_relative_data_path_resolves_next_to_the_config(tmp_path, monkeypatch):
    from modelcollapse.loop.config import load_config

    monkeypatch.chdir(tmp_path)  # anywhere but the repository
    example = Path(__file__).resolve().parents[2] / "examples" / "gmm.yaml"
    cfg = load_config(example)
    assert Path(cfg.data.params["path"]) == example.parent / "data" / "two_gaussians.npy"
    overridden = load_config(example, overrides=["data.params.path=mine.npy"])
    assert overridden.data.params["path"] == "mine.npy"


def test_log_lines_follow_the_current_stderr(monkeypatch):
    # A handler that kept the stderr of the first main() call printed "Logging error"
    # tracebacks once that stream was closed (tests swap stderr; so may embedding programs).
    import io
    import logging

    from modelcollapse.cli.app import _setup_logging

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    _setup_logging()
    logging.getLogger("modelcollapse.test").info("one")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("modelcollapse.test").info("two")
    assert second.getvalue() == "INFO: two\n"
