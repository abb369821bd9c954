"""``modelcollapse demo``: collapse under replace, stability under accumulate, on bundled data."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Keep the six run directories here (default: a temporary folder)."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Where to write the HTML report (default: OUT/report.html, or "
        "runs/demo-report.html without --out).",
    ),
) -> None:
    """Show model collapse on bundled data in under two minutes on 2 cores.

    A 1-D Gaussian (1,000 chains, M = 100, 100 generations) and a trigram language model on King
    James Bible verses (10 generations), each under replace, accumulate and fresh (λ = 0.1).
    Ends by writing an interactive HTML report of the six runs and printing its path.

    Example:

      modelcollapse demo --out runs/demo
    """
    from modelcollapse.demo import run_demo

    run_demo(out, progress=progress, report=report)
