"""run_sweep: identical results whatever the workers, run-level resume, directory checks."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import modelcollapse.loop.runner as loop_runner
from modelcollapse.errors import InvalidParameterError, ModelCollapseError
from modelcollapse.execution import LocalExecutor
from modelcollapse.sweep import load_sweep, read_results, read_sweep, run_sweep
from modelcollapse.sweep.runner import summary_rows

from .conftest import identical, small_config, write_sweep


def _mtimes(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}


def test_results_table_layout(grid_sweep: Path, tmp_path: Path) -> None:
    spec = load_sweep(grid_sweep)
    res = run_sweep(spec, tmp_path / "out", progress=False)
    table, keys = read_results(tmp_path / "out" / "results.parquet")
    assert keys == ["policy.kind", "seed"]
    assert table.column_names == [
        "run_id", "policy.kind", "seed", "generation", "replicate", "metric", "value"
    ]  # fmt: skip
    # 4 runs x 5 generations x 3 replicates x 2 metrics
    assert table.num_rows == 4 * 5 * 3 * 2
    assert identical(table, res.results)
    rows = table.to_pylist()
    assert {(r["policy.kind"], r["seed"]) for r in rows} == {
        ("replace", 0), ("replace", 1), ("accumulate", 0), ("accumulate", 1)
    }  # fmt: skip
    # Each run's rows are its run store's metrics.parquet, in order.
    first = res.runs[0]
    own = pq.read_table(tmp_path / "out" / "runs" / first.run_id / "metrics.parquet")
    sub = table.filter(table.column("run_id").to_numpy(zero_copy_only=False) == first.run_id)
    assert sub.select(["generation", "replicate", "metric", "value"]).equals(own)
    assert res.computed == [r.run_id for r in res.runs] and res.skipped == []
    stored = read_sweep(tmp_path / "out")
    assert [e["run_id"] for e in stored["run_ids"]] == res.computed
    assert stored["swept_keys"] == keys
    assert [row["status"] for row in summary_rows(res)] == ["ran"] * 4


@pytest.mark.slow  # starting two spawned workers costs a few seconds of imports
def test_same_results_for_one_and_two_workers(tmp_path: Path) -> None:
    # Both engines: the vectorised one (replace/accumulate, batched metrics) and the general one.
    path = write_sweep(
        tmp_path / "s.yaml",
        config=small_config(general=True),
        grid={"policy.kind": ["replace", "accumulate"]},
        runs=[{}, {"metrics": ["variance", "w2"]}],
    )
    spec = load_sweep(path)
    one = run_sweep(spec, tmp_path / "w1", executor=LocalExecutor(1), progress=False)
    with LocalExecutor(2) as ex:
        two = run_sweep(spec, tmp_path / "w2", executor=ex, progress=False)
    assert identical(one.results, two.results)
    b1 = (tmp_path / "w1" / "results.parquet").read_bytes()
    assert b1 == (tmp_path / "w2" / "results.parquet").read_bytes()
    engines = {
        __import__("json").loads((tmp_path / "w1" / "runs" / r / "summary.json").read_text())[
            "engine"
        ]
        for r in one.computed
    }
    assert engines == {"general", "vectorized"}


def test_interrupted_sweep_resumes_without_redoing_finished_runs(
    grid_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_sweep(grid_sweep)
    reference = run_sweep(spec, tmp_path / "ref", progress=False)

    real = loop_runner.run_experiment
    calls: list[tuple[str, bool]] = []

    def failing_third(cfg, out_dir, **kw):
        calls.append((Path(out_dir).name, kw["resume"]))
        if len(calls) == 3:
            raise KeyboardInterrupt  # an interruption in the middle of the sweep
        return real(cfg, out_dir, **kw)

    monkeypatch.setattr(loop_runner, "run_experiment", failing_third)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, progress=False)
    assert len(_mtimes(out)) == 2 and not (out / "results.parquet").exists()
    before = _mtimes(out)

    calls.clear()

    def counting(cfg, out_dir, **kw):
        calls.append((Path(out_dir).name, kw["resume"]))
        return real(cfg, out_dir, **kw)

    monkeypatch.setattr(loop_runner, "run_experiment", counting)
    res = run_sweep(spec, out, resume=True, progress=False)
    # Only the two unfinished runs ran; the finished ones were not touched.
    assert [name for name, _ in calls] == [r.run_id for r in res.runs[2:]]
    assert res.skipped == [r.run_id for r in res.runs[:2]]
    assert res.computed == [r.run_id for r in res.runs[2:]]
    after = _mtimes(out)
    assert {k: after[k] for k in before} == before
    assert identical(res.results, reference.results)

    # A third invocation (no --resume needed for the same sweep) recomputes nothing.
    calls.clear()
    again = run_sweep(spec, out, progress=False)
    assert calls == [] and again.computed == [] and len(again.skipped) == 4
    assert identical(again.results, reference.results)


def test_half_finished_run_continues_from_its_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_sweep(
        tmp_path / "s.yaml", config=small_config(general=True, generations=6), grid={"seed": [0, 1]}
    )
    spec = load_sweep(path)
    reference = run_sweep(spec, tmp_path / "ref", progress=False)
    out = tmp_path / "out"
    run_sweep(spec, out, progress=False)
    # Make run 1 look killed after generation 2: no summary/metrics, later checkpoints gone.
    killed = out / "runs" / reference.runs[1].run_id
    (killed / "summary.json").unlink()
    (killed / "metrics.parquet").unlink()
    for ckpt in killed.glob("checkpoints/rep_*/gen_*.npz"):
        if int(ckpt.stem.split("_")[1]) > 2:
            ckpt.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in killed.glob("checkpoints/rep_00000/*.npz")}

    real = loop_runner.run_experiment
    calls = []
    monkeypatch.setattr(
        loop_runner,
        "run_experiment",
        lambda cfg, d, **kw: calls.append((Path(d).name, kw)) or real(cfg, d, **kw),
    )
    res = run_sweep(spec, out, resume=True, progress=False)
    assert [(name, kw["resume"], kw["workers"]) for name, kw in calls] == [
        (reference.runs[1].run_id, True, 1)
    ]
    # Generations 0..2 were restored, not recomputed.
    for name, mtime in kept.items():
        assert (killed / "checkpoints" / "rep_00000" / name).stat().st_mtime_ns == mtime
    assert identical(res.results, reference.results)


def test_different_sweep_in_existing_dir_is_refused(grid_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(load_sweep(grid_sweep), out, progress=False)
    other = write_sweep(
        tmp_path / "other.yaml", grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 2]}
    )
    with pytest.raises(InvalidParameterError, match=r"holds a different sweep \('grid\.seed\.1'"):
        run_sweep(load_sweep(other), out, progress=False)
    changed_base = write_sweep(
        tmp_path / "base.yaml",
        config={**small_config(), "replicates": 4},
        grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 1]},
    )
    with pytest.raises(InvalidParameterError, match=r"'base\.replicates' differs"):
        run_sweep(load_sweep(changed_base), out, progress=False)
    # A renamed but otherwise identical sweep is the same sweep.
    renamed = write_sweep(
        tmp_path / "renamed.yaml",
        name="another-name",
        grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 1]},
    )
    assert len(run_sweep(load_sweep(renamed), out, progress=False).skipped) == 4


def test_directory_checks(grid_sweep: Path, tmp_path: Path) -> None:
    spec = load_sweep(grid_sweep)
    with pytest.raises(
        InvalidParameterError, match=r"--resume: expected .* to hold an interrupted"
    ):
        run_sweep(spec, tmp_path / "nothing", resume=True, progress=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InvalidParameterError, match=r"not empty and holds no sweep\.yaml"):
        run_sweep(spec, busy, progress=False)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


def test_failing_run_is_named_and_finished_runs_are_kept(tmp_path: Path) -> None:
    # Runs 0 and 1 are fine; run 2 reads a data file that does not exist.
    cfg = small_config()
    path = write_sweep(
        tmp_path / "s.yaml",
        config=cfg,
        runs=[
            {"seed": 1},
            {"seed": 2},
            {"data.source": "path", "data.params": {"path": "nope.npy"}},
        ],
    )
    spec = load_sweep(path)
    with pytest.raises(
        ModelCollapseError,
        match=r"task 2 failed: .*sweep run source-path_params-path-nope\.npy-[0-9a-f]{8}: .*nope\.npy",
    ):
        run_sweep(spec, tmp_path / "out", progress=False)
    assert len(_mtimes(tmp_path / "out")) == 2


def test_nan_values_and_damaged_sweep_file(tmp_path: Path) -> None:
    path = write_sweep(tmp_path / "s.yaml", grid={"model.params.scale": [1.0, float("nan")]})
    spec = load_sweep(path)
    out = tmp_path / "out"
    from modelcollapse.sweep import expand
    from modelcollapse.sweep.runner import prepare

    runs = expand(spec, check=False)
    assert prepare(spec, runs, out, resume=False) is False
    assert prepare(load_sweep(path), runs, out, resume=True) is True  # NaN == NaN here
    (out / "sweep.yaml").write_text("- not\n- a sweep\n")
    with pytest.raises(InvalidParameterError, match="expected a sweep written by modelcollapse"):
        prepare(spec, runs, out, resume=True)
