"""``modelcollapse monitor``: a trend of collapse metrics over dataset or model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from modelcollapse.cli.measure import (
    EXIT_GATE,
    TOKENIZER_HELP,
    VERDICT_STYLE,
    FailOn,
    Kind,
    OnError,
    fmt,
    split_metrics,
)

if TYPE_CHECKING:
    from modelcollapse.measure.monitor import MonitorResult


def trend_table(result: MonitorResult, reference: str) -> Table:
    """Rows: metrics (reference value first, then each version); last row: the verdicts.

    A flagged value is shown in red with a ``*``; the first version reaching early or late is
    marked in the header."""
    first_early, first_late = result.first_early, result.first_late
    table = Table(title=f"trend against {reference}", title_justify="left")
    table.add_column("metric")
    table.add_column("reference", justify="right")
    for i, name in enumerate(result.names):
        mark = " (first late)" if name == first_late else ""
        if not mark and name == first_early:
            mark = " (first early)"
        table.add_column(f"{i + 1}. {Path(name).name}{mark}", justify="right")
    metric_names = list(dict.fromkeys(n for r in result.results for n in r.metrics))
    for metric in metric_names:
        ref_value = next(
            (r.metrics[metric].reference for r in result.results if metric in r.metrics), None
        )
        cells = []
        for r in result.results:
            m = r.metrics.get(metric)
            if m is None:
                cells.append("-")
            elif m.flagged:
                cells.append(f"[bold red]{fmt(m.candidate)}*[/bold red]")
            else:
                cells.append(fmt(m.candidate))
        table.add_row(metric, fmt(ref_value), *cells)
    verdicts = [
        f"[{VERDICT_STYLE[r.verdict]}]{r.verdict}[/{VERDICT_STYLE[r.verdict]}]"
        for r in result.results
    ]
    table.add_row("[bold]verdict[/bold]", "", *verdicts, end_section=True)
    return table


def monitor(
    reference: Path = typer.Argument(..., help="Human reference data."),
    candidates: list[Path] = typer.Argument(..., help="Versions to check, oldest first."),
    kind: Kind = typer.Option(Kind.text, "--kind", "-k", help="text, numeric or embedding."),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text."),
    metrics: list[str] = typer.Option(
        [], "--metrics", "-m", help="Metric names, comma-separated or repeated (default: a suite)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Exit with code 1 when any version's verdict reaches this stage."
    ),
    on_error: OnError = typer.Option(
        OnError.fail, "--on-error", help="'fail' on the first bad record, or 'skip' (quarantine)."
    ),
    n_boot: int = typer.Option(200, "--n-boot", min=2, help="Bootstrap replicates per metric."),
    n_boot_expensive: int = typer.Option(
        30,
        "--n-boot-expensive",
        min=2,
        help="Replicates for the expensive metrics (self_bleu, perplexity, prdc, mmd, ...).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (same for every version)."),
    max_records: int = typer.Option(
        5000, "--max-records", min=2, help="Records of each input used for the verdict."
    ),
    embeddings: bool = typer.Option(
        False, "--embeddings/--no-embeddings", help="Also compare sentence embeddings of text."
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    tokenizer: str = typer.Option("whitespace", "--tokenizer", "-t", help=TOKENIZER_HELP),
) -> None:
    """Measure dataset or model versions, in order, against one human reference.

    Prints a trend table of every metric (flagged values starred) with each version's verdict,
    and names the first version that crosses into early and into late collapse.

    Exit code: 0; 1 when --fail-on is given and some version reaches it; 2 for a user error.

    Examples:

      modelcollapse monitor human.jsonl v1.jsonl v2.jsonl v3.jsonl

      modelcollapse monitor runs/kjv/samples/rep_00000/gen_0000.jsonl \\
          runs/kjv/samples/rep_00000/gen_00{01,05,10}.jsonl --metrics rare_recall,perplexity

      modelcollapse monitor real.npy gen1.npy gen2.npy --kind numeric --json --fail-on late
    """
    from modelcollapse.data.tokenize import check_tokenizer
    from modelcollapse.measure.monitor import monitor_files

    result = monitor_files(
        reference, candidates, rng=seed, kind=kind.value, metrics=split_metrics(metrics),
        text_field=text_field, on_error=on_error.value, max_records=max_records, n_boot=n_boot,
        n_boot_expensive=n_boot_expensive,
        embeddings=embeddings if kind == Kind.text else False, cache_dir=cache_dir,
        tokenizer=check_tokenizer(tokenizer),
    )  # fmt: skip
    if as_json:
        recorded = {"tokenizer": tokenizer if kind == Kind.text else None}
        doc = {"reference": str(reference), **recorded, **result.to_dict()}
        typer.echo(json.dumps(doc, indent=2))
    else:
        console = Console()
        console.print(trend_table(result, str(reference)))
        if kind == Kind.text:
            console.print(f"tokenizer: {tokenizer}", markup=False, highlight=False)
        for stage in ("early", "late"):
            first = result.first_reaching(stage)
            text = first if first is not None else "none"
            console.print(f"first version reaching {stage}: {text}")
    if fail_on is not None and result.first_reaching(fail_on.value) is not None:
        raise typer.Exit(code=EXIT_GATE)
