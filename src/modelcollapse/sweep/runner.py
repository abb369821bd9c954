"""Run a sweep: every run of the expansion as an executor task, resumable at the run level.

Layout of the sweep directory ``DIR``::

    sweep.yaml               the resolved sweep: name, swept keys, base config, grid, runs, and
                             every run's id and overrides (written first)
    runs/<run_id>/           a normal ``simulate`` run store per run
    results.parquet          all runs' metrics with the swept keys as columns (written last)
    mlflow/<run_id>.json     which MLflow run a sweep run was logged to (with --mlflow)

Resume: a run whose ``summary.json`` exists is finished (the run store writes it last) and is
skipped without recomputation; a run with only ``config.yaml`` and checkpoints continues from
them via ``run_experiment(..., resume=True)``; the rest start fresh. Every run executes with
``workers=1`` inside its task, so parallelism is across runs, and since every random number is
keyed by the run's seed, results do not depend on the executor or its worker count.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from modelcollapse.data.json_values import first_difference
from modelcollapse.errors import InvalidParameterError, ModelCollapseError
from modelcollapse.execution.base import Executor
from modelcollapse.execution.local import LocalExecutor
from modelcollapse.loop.config import ExperimentConfig
from modelcollapse.loop.store import (
    DEFAULT_CHECKPOINT_EVERY,
    atomic_write_bytes,
    check_checkpoint_every,
)
from modelcollapse.progress import progress_bar
from modelcollapse.sweep.expand import Run, expand
from modelcollapse.sweep.results import build_results, write_results
from modelcollapse.sweep.spec import SweepSpec

SWEEP_FILE = "sweep.yaml"
RESULTS_FILE = "results.parquet"


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        out_dir: the sweep directory.
        runs: every run, in expansion order.
        results: the ``results.parquet`` table.
        computed: ids of runs computed (or resumed mid-run) in this call.
        skipped: ids of runs already finished before this call.
        wall_time_s: seconds spent in this call.
    """

    out_dir: Path
    runs: list[Run]
    results: pa.Table
    computed: list[str]
    skipped: list[str]
    wall_time_s: float


def run_dir(out_dir: Path, run: Run) -> Path:
    return Path(out_dir) / "runs" / run.run_id


def is_finished(path: Path) -> bool:
    """A run store is finished when ``summary.json`` exists (written after metrics.parquet)."""
    return (path / "summary.json").is_file() and (path / "metrics.parquet").is_file()


def execute_run(task: tuple[str, ExperimentConfig, str, float]) -> str:
    """Executor task ``(run id, config, run directory, checkpoint_every)``: run (or resume) one
    sweep run with one worker.

    Module-level and picklable so process pools and Ray can ship it. Returns the run id.
    """
    from modelcollapse.loop.runner import run_experiment

    rid, cfg, folder, checkpoint_every = task
    resume = (Path(folder) / "config.yaml").is_file()
    try:
        run_experiment(
            cfg,
            folder,
            resume=resume,
            workers=1,
            progress=False,
            checkpoint_every=checkpoint_every,
        )
    except Exception as exc:
        raise ModelCollapseError(f"sweep run {rid}: {type(exc).__name__}: {exc}") from exc
    return rid


def _document(spec: SweepSpec, runs: list[Run]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "swept_keys": spec.swept_keys,
        **spec.identity(),
        "run_ids": [{"run_id": r.run_id, "overrides": r.overrides} for r in runs],
    }


def prepare(spec: SweepSpec, runs: list[Run], out_dir: Path, *, resume: bool) -> bool:
    """Write ``sweep.yaml`` for a new sweep, or check the stored one; True when continuing.

    A directory holding a different sweep, or files that are not a sweep, is refused.
    ``resume=True`` requires an existing sweep (there is nothing to resume otherwise).
    """
    path = out_dir / SWEEP_FILE
    if path.is_file():
        try:
            stored = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InvalidParameterError(
                f"{path}: expected a sweep written by modelcollapse, got an unreadable file ({exc})"
            ) from None
        if not isinstance(stored, dict):
            raise InvalidParameterError(
                f"{path}: expected a sweep written by modelcollapse, got {type(stored).__name__}"
            )
        stored_id = {k: stored.get(k) for k in ("base", "grid", "runs")}
        diff = first_difference(stored_id, spec.identity())
        if diff is not None:
            raise InvalidParameterError(
                f"{out_dir} holds a different sweep ({diff!r} differs from the stored "
                f"{SWEEP_FILE}); expected the same sweep file to resume, or a new --out directory"
            )
        return True
    if resume:
        raise InvalidParameterError(
            f"--resume: expected {out_dir} to hold an interrupted sweep, got no {SWEEP_FILE}"
        )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InvalidParameterError(
            f"{out_dir} is not empty and holds no {SWEEP_FILE}; expected an empty or new "
            "directory for a sweep"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(_document(spec, runs), sort_keys=False, allow_unicode=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    return False


def run_sweep(
    spec: SweepSpec,
    out_dir: str | Path,
    *,
    executor: Executor | None = None,
    resume: bool = False,
    progress: bool = True,
    mlflow_uri: str | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
) -> SweepResult:
    """Run every run of ``spec`` not yet finished in ``out_dir`` and write ``results.parquet``.

    ``executor`` runs the runs (default: in-process, one at a time); the caller closes an
    executor it passes. An existing ``out_dir`` holding the same sweep is continued whether or
    not ``resume`` is set; ``resume=True`` additionally requires that it exists. With
    ``mlflow_uri`` every run is logged to MLflow (experiment = the sweep's name) as it finishes,
    and runs finished earlier are logged once if they were not yet. ``checkpoint_every``: seconds
    between a run's checkpoint writes (see :func:`modelcollapse.loop.runner.run_experiment`).

    Raises InvalidParameterError for an invalid run config (before anything runs) or a
    different sweep in ``out_dir``, and ModelCollapseError naming the run when a run fails
    (finished runs are kept; rerun to continue).
    """
    start = time.perf_counter()
    checkpoint_every = check_checkpoint_every(checkpoint_every)
    out_dir = Path(out_dir)
    runs = expand(spec)
    logger = None
    if mlflow_uri is not None:
        from modelcollapse.loop.mlflow_log import SweepLogger

        logger = SweepLogger(mlflow_uri, spec.name, out_dir)
    prepare(spec, runs, out_dir, resume=resume)

    skipped = [r for r in runs if is_finished(run_dir(out_dir, r))]
    done_ids = {r.run_id for r in skipped}
    pending = [r for r in runs if r.run_id not in done_ids]
    by_id = {r.run_id: r for r in runs}
    computed: list[str] = []
    own = executor is None
    ex: Executor = LocalExecutor(1) if executor is None else executor
    try:
        desc = f"sweep {spec.name}: runs"
        with progress_bar(progress, len(runs), desc) as advance:
            advance(len(skipped))
            if logger is not None:
                for r in skipped:
                    logger.log(r, run_dir(out_dir, r))
            tasks = [
                (r.run_id, r.config, str(run_dir(out_dir, r)), checkpoint_every) for r in pending
            ]
            for _, rid in ex.map(execute_run, tasks):
                computed.append(rid)
                if logger is not None:
                    logger.log(by_id[rid], run_dir(out_dir, by_id[rid]))
                advance(1)
    finally:
        if own:
            ex.close()
    table = build_results(runs, spec.swept_keys, out_dir / "runs")
    write_results(table, out_dir / RESULTS_FILE)
    order = {r.run_id: r.index for r in runs}
    return SweepResult(
        out_dir,
        runs,
        table,
        sorted(computed, key=order.__getitem__),
        [r.run_id for r in skipped],
        time.perf_counter() - start,
    )


def read_sweep(out_dir: str | Path) -> dict[str, Any]:
    """The stored ``sweep.yaml`` of a sweep directory (for reports and tools)."""
    path = Path(out_dir) / SWEEP_FILE
    if not path.is_file():
        raise InvalidParameterError(f"{out_dir}: expected a sweep directory, got no {SWEEP_FILE}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def summary_rows(result: SweepResult) -> list[dict[str, Any]]:
    """One row per run for display: id, status, overrides, last-generation medians.

    Read from each run's ``summary.json`` (cheap, whatever the number of replicates).
    """
    computed = set(result.computed)
    rows = []
    for run in result.runs:
        summary = json.loads((run_dir(result.out_dir, run) / "summary.json").read_text())
        last = summary.get("last_generation", 0)
        final = {
            name: stats.get(f"generation_{last}", {}).get("median")
            for name, stats in summary.get("metrics", {}).items()
        }
        rows.append(
            {
                "run_id": run.run_id,
                "status": "ran" if run.run_id in computed else "skipped",
                "overrides": run.overrides,
                "last_generation": last,
                "final_median": final,
            }
        )
    return rows
