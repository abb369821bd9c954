"""``modelcollapse measure``: a candidate against a human reference, with a collapse verdict."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from modelcollapse.measure.result import MeasureResult


class Kind(StrEnum):
    text = "text"
    numeric = "numeric"
    embedding = "embedding"


class FailOn(StrEnum):
    early = "early"
    late = "late"


class OnError(StrEnum):
    fail = "fail"
    skip = "skip"


class ExecutorName(StrEnum):
    local = "local"
    ray = "ray"


# Shared by every command that runs over shards (measure, guard filter).
EXECUTOR_OPTION = typer.Option(
    None,
    "--executor",
    help="Sharded inputs (a directory or a quoted glob of files): run one task per shard on "
    "'local' processes or a 'ray' cluster (default: local). Same result either way.",
)
WORKERS_OPTION = typer.Option(
    None, "--workers", min=1, help="Shard tasks at once (default: every core or cluster CPU)."
)
ADDRESS_OPTION = typer.Option(
    None, "--address", help="Ray cluster address, e.g. 127.0.0.1:6379 (implies --executor ray)."
)


VERDICT_STYLE = {"healthy": "bold green", "early": "bold yellow", "late": "bold red"}

# Exit codes: 0 ran (verdict below --fail-on), 1 the verdict reached --fail-on, 2 user error.
EXIT_GATE = 1

TOKENIZER_HELP = (
    "How text metrics split documents into tokens: 'whitespace' (str.split, the default), "
    "'words' (words and single punctuation characters), 'regex:PATTERN' (the matches of a "
    "Python regular expression) or 'lower:SPEC' (lowercase, then SPEC). Perplexity is per "
    "model token whatever this is."
)


def fmt(x: float | None) -> str:
    """A metric value in a table cell: 4 significant digits, '-' when missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4g}"


def split_metrics(values: list[str] | None) -> list[str] | None:
    """``--metrics a,b --metrics c`` as ``[a, b, c]`` (None when not given)."""
    if not values:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return names or None


def result_table(result: MeasureResult, title: str) -> Table:
    """The rich table of one measurement."""
    table = Table(title=title, title_justify="left")
    for col, justify in (
        ("metric", "left"), ("role", "left"), ("candidate", "right"), ("reference", "right"),
        (f"{result.level:.0%} CI", "right"), ("change", "right"), ("flagged", "center"),
    ):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for name, m in result.metrics.items():
        change = m.change
        table.add_row(
            name,
            m.role or "-",
            fmt(m.candidate),
            fmt(m.reference),
            f"[{fmt(m.ci_low)}, {fmt(m.ci_high)}]",
            "-" if math.isnan(change) else f"{change:+.1%}",
            "[bold red]yes[/bold red]" if m.flagged else "no",
        )
    return table


def print_result(console: Console, result: MeasureResult, title: str) -> None:
    console.print(result_table(result, title))
    style = VERDICT_STYLE[result.verdict]
    console.print(f"verdict: [{style}]{result.verdict}[/{style}]")
    for reason in result.reasons:
        console.print(f"  {reason}")
    if result.tokenizer is not None:
        # markup off: a regex:PATTERN tokenizer may hold brackets that rich would parse
        console.print(f"tokenizer: {result.tokenizer}", style="dim", markup=False, highlight=False)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")


def measure(
    reference: Path = typer.Option(
        ..., "--reference", "-r", help="Human reference data (.jsonl, .csv, .parquet, .txt, .npy)."
    ),
    candidate: Path = typer.Option(..., "--candidate", "-c", help="Candidate data to check."),
    kind: Kind = typer.Option(
        Kind.text,
        "--kind",
        "-k",
        help="text: documents; numeric: rows of numbers; embedding: rows that already are vectors.",
    ),
    text_field: str = typer.Option("text", "--text-field", help="Field holding the text."),
    metrics: list[str] = typer.Option(
        [], "--metrics", "-m", help="Metric names, comma-separated or repeated (default: a suite)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    fail_on: FailOn | None = typer.Option(
        None, "--fail-on", help="Exit with code 1 when the verdict reaches this stage."
    ),
    on_error: OnError = typer.Option(
        OnError.fail,
        "--on-error",
        help="'fail' on the first bad record, or 'skip' bad records into <input>.quarantine.jsonl.",
    ),
    n_boot: int = typer.Option(200, "--n-boot", min=2, help="Bootstrap replicates per metric."),
    n_boot_expensive: int = typer.Option(
        30,
        "--n-boot-expensive",
        min=2,
        help="Replicates for the expensive metrics (self_bleu, perplexity, prdc, mmd, ...).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Random seed (same seed, same result)."),
    max_records: int = typer.Option(
        5000, "--max-records", min=2, help="Records of each input used for the verdict."
    ),
    embeddings: bool | None = typer.Option(
        None,
        "--embeddings/--no-embeddings",
        help="Also compare sentence embeddings of text (default: when the hf extra is installed).",
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache folder."),
    tokenizer: str = typer.Option("whitespace", "--tokenizer", "-t", help=TOKENIZER_HELP),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Also write a self-contained HTML report: verdict, metric table with CIs and the "
        "distributions compared.",
    ),
    executor: ExecutorName | None = EXECUTOR_OPTION,
    workers: int | None = WORKERS_OPTION,
    address: str | None = ADDRESS_OPTION,
) -> None:
    """Compare a candidate dataset with a human reference and give a collapse verdict.

    Every metric gets a bootstrap confidence interval and a flag; the verdict is healthy,
    early (tails gone) or late (variance gone, repetition up, fidelity lost).

    Exit code: 0; 1 when --fail-on is given and the verdict reaches it (late reaches early);
    2 for a user error (bad file, bad record, unknown metric).

    A bad record stops the run with a one-line error naming file:line;
    with --on-error skip it is quarantined to <input>.quarantine.jsonl and counted.

    Examples:

      modelcollapse measure -r human.jsonl -c synthetic.jsonl

      modelcollapse measure -r human.txt -c generated.txt --metrics rare_recall,self_bleu --json

      modelcollapse measure -r real.npy -c samples.npy --kind numeric --fail-on late

      modelcollapse measure -r ref_emb.npy -c cand_emb.npy --kind embedding

      modelcollapse measure -r human.csv -c batch.parquet --on-error skip --fail-on early

      modelcollapse measure -r human.txt -c generated.txt --tokenizer words

      modelcollapse measure -r human.jsonl -c synthetic.jsonl --report report.html

      modelcollapse measure -r human_shards/ -c 'synthetic/part-*.parquet' --workers 2

      modelcollapse measure -r human_shards/ -c synthetic/ --executor ray --address 127.0.0.1:6379
    """
    from modelcollapse.data.tokenize import check_tokenizer
    from modelcollapse.measure.files import measure_files
    from modelcollapse.measure.sharded import is_sharded, measure_shards

    if executor or workers or address or is_sharded(reference) or is_sharded(candidate):
        name = executor.value if executor else ("ray" if address else "local")
        read = partial(measure_shards, executor=name, workers=workers, address=address)
    else:
        read = measure_files
    result = read(
        reference, candidate, kind=kind.value, metrics=split_metrics(metrics), rng=seed,
        text_field=text_field, on_error=on_error.value, max_records=max_records, n_boot=n_boot,
        n_boot_expensive=n_boot_expensive,
        embeddings=embeddings if kind == Kind.text else False, cache_dir=cache_dir,
        tokenizer=check_tokenizer(tokenizer),
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        print_result(Console(), result, f"{candidate} vs {reference} ({result.kind})")
    if report is not None:
        from modelcollapse.cli.report import measure_report

        measure_report(
            result, report, reference=reference, candidate=candidate, kind=kind.value, seed=seed,
            text_field=text_field, on_error=on_error.value, max_records=max_records,
            tokenizer=check_tokenizer(tokenizer),
        )  # fmt: skip
    if fail_on is not None:
        from modelcollapse.measure.verdict import reaches

        if reaches(result.verdict, fail_on.value):
            raise typer.Exit(code=EXIT_GATE)
