"""``modelcollapse simulate``: run a recursive-training experiment from a YAML config."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from modelcollapse.cli.measure import OnError

# Shared with ``sweep`` (which applies it within each run).
CHECKPOINT_EVERY_OPTION = typer.Option(
    1.0,
    "--checkpoint-every",
    min=0.0,
    metavar="SECONDS",
    help="Write a replicate's checkpoint at most this often (generation 0 and the last are "
    "always written; 0 writes every generation). A kill loses at most this much work; the "
    "results do not depend on it.",
)


def simulate(
    config: Path = typer.Argument(..., help="Experiment config (YAML)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run directory to write."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run in --out."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="Worker processes."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        help="Override a config key, e.g. --set generations=20 --set policy.kind=accumulate",
    ),
    on_error: OnError | None = typer.Option(
        None,
        "--on-error",
        help="For data.source 'path': 'fail' on the first bad record (default) or 'skip' bad "
        "records into a quarantine file beside the input and report their count.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    checkpoint_every: float = CHECKPOINT_EVERY_OPTION,
    mlflow: str | None = typer.Option(
        None,
        "--mlflow",
        metavar="URI",
        help="Log params (the resolved config) and per-generation metrics to MLflow: a tracking "
        "URI, or a path for the local file store (e.g. --mlflow mlruns). Needs the 'mlflow' extra.",
    ),
) -> None:
    """Train generation after generation on the previous generation's output.

    Writes config.yaml, metrics.parquet (generation, replicate, metric, value), summary.json and
    checkpoints to --out. Results do not depend on --workers, and a run killed at
    any point continues with --resume to the same metrics.parquet.

    Examples:

      modelcollapse simulate examples/gaussian_mle.yaml --out runs/gauss

      modelcollapse simulate examples/ngram_kjv.yaml --out runs/kjv --set policy.kind=accumulate

      modelcollapse simulate examples/gmm.yaml --out runs/gmm --workers 2 --resume

      modelcollapse simulate my.yaml --out runs/mine --on-error skip   (data.source: path)

      modelcollapse simulate examples/gaussian_mle.yaml --out runs/gauss --mlflow mlruns
    """
    from modelcollapse.cli.summary_table import summary_table
    from modelcollapse.errors import InvalidParameterError
    from modelcollapse.loop.config import load_config
    from modelcollapse.loop.runner import run_experiment

    overrides = list(set_)
    if on_error is not None:
        overrides.append(f"data.params.on_error={on_error.value}")
    cfg = load_config(config, overrides=overrides)
    if on_error is not None and cfg.data.source != "path":
        raise InvalidParameterError(
            f"--on-error applies to data.source 'path' (a user's file), got {cfg.data.source!r}"
        )
    if mlflow is not None:
        from modelcollapse.loop.mlflow_log import log_run, require_mlflow

        require_mlflow()  # fail before the run, not after it
    console = Console()
    run_experiment(
        cfg,
        out,
        resume=resume,
        workers=workers,
        progress=progress,
        checkpoint_every=checkpoint_every,
    )
    if mlflow is not None:
        mlflow_run = log_run(mlflow, out)
        console.print(f"logged MLflow run {mlflow_run} (experiment {cfg.name!r}) to {mlflow}")
    console.print(summary_table(out, title=f"{cfg.name}: {cfg.policy.kind}"))
    console.print(f"[green]wrote[/green] {out}")
