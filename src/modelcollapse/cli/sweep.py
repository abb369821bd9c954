"""``modelcollapse sweep``: run a grid (or list) of experiment configs and collect one table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from modelcollapse.cli.simulate import CHECKPOINT_EVERY_OPTION


def sweep(
    sweep_file: Path = typer.Argument(..., help="Sweep file (YAML): base config plus grid/runs."),
    out: Path = typer.Option(..., "--out", "-o", help="Sweep directory to write."),
    executor: str = typer.Option(
        "local", "--executor", "-e", help="Where runs execute: 'local' (processes) or 'ray'."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Runs at a time (default: every core)."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster address (ray.init(address=...)); ray only."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue the interrupted sweep in --out (required to exist). Finished runs are "
        "skipped, half-finished ones continue from their checkpoints.",
    ),
    mlflow: str | None = typer.Option(
        None,
        "--mlflow",
        metavar="URI",
        help="Log every run's params and per-generation metrics to MLflow: a tracking URI, or a "
        "path for the local file store (e.g. --mlflow mlruns). Needs the 'mlflow' extra.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    checkpoint_every: float = CHECKPOINT_EVERY_OPTION,
) -> None:
    r"""Run every combination of a sweep file and write one results table.

    A sweep file names a base config and a grid (cartesian product)
    and/or a list of overrides ("runs") over dotted config keys:

      base: gaussian_mle.yaml     # next to the sweep file; or `config:`
      set: {replicates: 200}      # fixed overrides (optional)
      grid:
        policy.kind: \[replace, accumulate]
        samples_per_generation: \[50, 200]
        seed: \[0, 1]

    Writes, under --out: runs/RUN_ID/ (a simulate run store per run),
    sweep.yaml (the resolved sweep) and results.parquet (run_id, one
    column per swept key, generation, replicate, metric, value).
    Rerunning the same command continues an interrupted sweep: finished
    runs are skipped. Results do not depend on --executor or --workers.

    Examples:

      modelcollapse sweep examples/sweep_gaussian.yaml --out runs/sw -w 2

      modelcollapse sweep examples/sweep_gaussian.yaml --out runs/sw --resume

      modelcollapse sweep my.yaml --out runs/big --executor ray
      --address 10.0.0.5:6379

      modelcollapse sweep examples/sweep_gaussian.yaml --out runs/sw
      --mlflow mlruns
    """
    from rich.table import Table

    from modelcollapse.execution import get_executor
    from modelcollapse.sweep import load_sweep, run_sweep
    from modelcollapse.sweep.runner import RESULTS_FILE, SWEEP_FILE, summary_rows

    console = Console()
    spec = load_sweep(sweep_file)
    if mlflow is not None:
        from modelcollapse.loop.mlflow_log import require_mlflow, tracking_uri

        require_mlflow()  # before any run: a missing extra should not surface an hour in
        mlflow = tracking_uri(mlflow)
    if not resume and (out / SWEEP_FILE).is_file():
        console.print(f"continuing the sweep in {out} (finished runs are skipped)", soft_wrap=True)
    with get_executor(executor, workers=workers, address=address) as ex:
        result = run_sweep(
            spec,
            out,
            executor=ex,
            resume=resume,
            progress=progress,
            mlflow_uri=mlflow,
            checkpoint_every=checkpoint_every,
        )

    # Swept values, status and the last generation's median of the config's first two metrics;
    # run ids (directory names) are in sweep.yaml and the results' run_id column.
    rows = summary_rows(result)
    order = [*spec.base.get("metrics", []), *(n for row in rows for n in row["final_median"])]
    shown = [n for n in dict.fromkeys(order) if any(n in row["final_median"] for row in rows)][:2]
    table = Table(title=f"sweep {spec.name}: {len(result.runs)} runs")
    for key in spec.swept_keys:
        table.add_column(key)
    table.add_column("status")
    for name in shown:
        table.add_column(f"{name} (last gen, median)", justify="right")
    for row in rows:
        cells = [str(row["overrides"].get(key, "")) for key in spec.swept_keys]
        cells.append(row["status"])
        for name in shown:
            v = row["final_median"].get(name)
            cells.append("nan" if v is None else f"{v:.4g}")
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"computed {len(result.computed)} runs, skipped {len(result.skipped)} finished; "
        f"{result.wall_time_s:.1f} s on {ex.name} ({ex.workers} workers)",
        soft_wrap=True,  # paths and counts stay on one line, whatever the terminal width
    )
    console.print(f"run stores: {out / 'runs'}/RUN_ID (ids in {out / SWEEP_FILE})", soft_wrap=True)
    if mlflow is not None:
        console.print(f"logged to MLflow at {mlflow} (experiment {spec.name!r})", soft_wrap=True)
    console.print(
        f"[green]wrote[/green] {out / RESULTS_FILE} ({result.results.num_rows} rows)",
        soft_wrap=True,
    )
