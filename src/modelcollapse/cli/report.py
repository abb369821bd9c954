"""``modelcollapse report``: one self-contained, interactive HTML page of a run, sweep or measurement."""

from __future__ import annotations

from pathlib import Path

import typer

from modelcollapse.errors import InvalidParameterError


def parse_generations(value: str | None) -> list[int] | None:
    """``"0,5,10"`` -> ``[0, 5, 10]``; None when not given."""
    if value is None or not value.strip():
        return None
    out = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise InvalidParameterError(
                f"--generations: expected comma-separated integers like 0,5,10, got {value!r}"
            ) from None
    return out or None


def report(
    source: Path = typer.Argument(
        ...,
        help="A simulate run directory, a sweep directory, a folder of runs (demo --out) or a "
        "measure JSON file (measure --json > result.json).",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="HTML file to write (default: SOURCE/report.html, or NAME.html beside a JSON file).",
    ),
    generations: str | None = typer.Option(
        None,
        "--generations",
        "-g",
        help="Generations whose samples are shown side by side, e.g. 0,5,10 (default: first, "
        "middle, last).",
    ),
    title: str | None = typer.Option(None, "--title", help="Page title."),
) -> None:
    """Write one self-contained HTML report (interactive plots, works offline).

    For a run: each metric per generation (median and 90% band across replicates, theory curve
    where one applies), generation 0 against the last as histograms (numeric) or rank-frequency
    plots and sample documents (text), and the resolved config. For a sweep or a folder of runs:
    the same with one colour per arm. For a measure result: the verdict and the metric table.

    Examples:

      modelcollapse report runs/gauss

      modelcollapse report runs/kjv --out kjv.html --generations 0,5,10

      modelcollapse report sweeps/gauss --out sweep.html

      modelcollapse measure -r human.jsonl -c synthetic.jsonl --json > result.json
      modelcollapse report result.json
    """
    from modelcollapse.report import build_report

    path = build_report(source, out, generations=parse_generations(generations), title=title)
    typer.echo(f"wrote {path}")


def measure_report(
    result: object,
    out: Path,
    *,
    reference: Path,
    candidate: Path,
    kind: str,
    seed: int,
    text_field: str,
    on_error: str,
    max_records: int,
    tokenizer: str,
) -> Path:
    """``measure --report``: the measurement's page, with the distributions of the very records
    the verdict used (single files; sharded inputs are summarised without them)."""
    from modelcollapse.measure.sharded import is_sharded
    from modelcollapse.report import read_inputs, write_measure_report

    inputs, reason = None, None
    if is_sharded(reference) or is_sharded(candidate):
        reason = (
            "Sharded inputs: each shard was sampled on its own worker, so the distributions are "
            "left out of this report."
        )
    else:
        inputs = read_inputs(
            reference, candidate, kind=kind, seed=seed, text_field=text_field,
            on_error=on_error, max_records=max_records, tokenizer=tokenizer,
        )  # fmt: skip
    title = f"modelcollapse measurement: {candidate} vs {reference}"
    path = write_measure_report(result, out, inputs=inputs, inputs_note=reason, title=title)
    typer.echo(f"wrote report {path}", err=True)
    return path
