"""The demo: model collapse in under two minutes on bundled data.

Two models, three data policies each (Shumailov et al. 2024; Gerstgrasser et al. 2024):

- a 1-D Gaussian refitted by maximum likelihood on M = 100 of its own samples, 1,000 chains;
- a trigram Kneser-Ney language model refitted on its own samples of King James Bible verses.

Policies: ``replace`` (train only on the last generation's samples), ``accumulate`` (real data
plus every synthetic set so far) and ``fresh`` (10% fresh real data each generation).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from modelcollapse.loop.config import ExperimentConfig, parse_config
from modelcollapse.loop.results import Metrics
from modelcollapse.loop.runner import run_experiment

POLICIES: dict[str, dict] = {
    "replace": {"kind": "replace"},
    "accumulate": {"kind": "accumulate"},
    "fresh λ=0.1": {"kind": "fresh", "params": {"lambda": 0.1}},
}


@dataclass(frozen=True)
class DemoPart:
    title: str
    base: dict
    metrics: list[tuple[str, str]]  # (metric name, label)
    generations_shown: tuple[int, ...]
    statistic: str  # how replicates are summarised: "median" or "mean"


GAUSSIAN = DemoPart(
    title="1-D Gaussian, MLE, M = 100 samples per generation, 1,000 chains (median over chains)",
    base={
        "seed": 0,
        "generations": 100,
        "replicates": 1000,
        "samples_per_generation": 100,
        "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 100}},
        "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
        "metrics": ["variance_ratio", "w2"],
    },
    metrics=[("variance_ratio", "variance ratio"), ("w2", "W2 to truth")],
    generations_shown=(0, 1, 10, 25, 50, 100),
    statistic="median",
)

NGRAM = DemoPart(
    title=(
        "Trigram Kneser-Ney LM on King James Bible verses, 2,000 per generation (perplexity of "
        "held-out human verses; rare recall: share of the real data's rare words still produced)"
    ),
    base={
        "seed": 0,
        "generations": 10,
        "replicates": 1,
        "samples_per_generation": 2000,
        "data": {"source": "kjv", "params": {"n_docs": 2000, "n_heldout": 500}},
        "model": {"kind": "ngram", "params": {"n": 3}},
        "metrics": ["vocab_size", "perplexity", "rare_recall"],
    },
    metrics=[
        ("vocab_size", "vocabulary"),
        ("perplexity", "perplexity"),
        ("rare_recall", "rare recall"),
    ],
    generations_shown=(0, 1, 2, 5, 10),
    statistic="mean",
)


def _config(part: DemoPart, name: str, policy: dict) -> ExperimentConfig:
    raw = dict(part.base, name=f"demo-{part.base['model']['kind']}-{policy['kind']}", policy=policy)
    return parse_config(raw)


def _summarise(run_dir: Path, metric: str, generations: tuple[int, ...], stat: str) -> list[float]:
    m = Metrics.read(run_dir)
    reduce = np.nanmedian if stat == "median" else np.nanmean
    return [float(reduce(m.values(metric, g))) for g in generations]


def _table(
    part: DemoPart, runs: dict[str, Path]
) -> tuple[Table, dict[tuple[str, str], list[float]]]:
    table = Table(title=part.title, title_justify="left")
    table.add_column("metric", style="bold", no_wrap=True)
    table.add_column("policy", no_wrap=True)
    for g in part.generations_shown:
        table.add_column(f"gen {g}", justify="right")
    values: dict[tuple[str, str], list[float]] = {}
    for metric, label in part.metrics:
        for policy, run_dir in runs.items():
            row = _summarise(run_dir, metric, part.generations_shown, part.statistic)
            values[(metric, policy)] = row
            style = "red" if policy == "replace" else None
            table.add_row(label, policy, *(f"{v:.4g}" for v in row), style=style)
        table.add_section()
    return table, values


DEFAULT_REPORT = Path("runs") / "demo-report.html"


def run_demo(
    out: Path | None = None,
    *,
    progress: bool = True,
    console: Console | None = None,
    report: Path | None = None,
) -> dict:
    """Run both parts under every policy; print the tables; write the HTML report (``report``,
    default ``OUT/report.html``, or :data:`DEFAULT_REPORT` when the runs go to a temporary
    folder) and print its path; return the summarised values."""
    console = console or Console()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="modelcollapse-demo-") as tmp:
        root = Path(out) if out is not None else Path(tmp)
        results = {}
        for part in (GAUSSIAN, NGRAM):
            runs = {}
            for label, policy in POLICIES.items():
                cfg = _config(part, label, policy)
                run_dir = root / cfg.name
                console.print(f"[bold]running[/bold] {cfg.name}")
                run_experiment(cfg, run_dir, resume=False, workers=1, progress=progress)
                runs[label] = run_dir
            table, values = _table(part, runs)
            console.print(table)
            results[part.base["model"]["kind"]] = values
        # Written before the temporary folder (and the samples the report reads) is removed.
        from modelcollapse.report import build_report

        if report is None:
            report = root / "report.html" if out is not None else DEFAULT_REPORT
        title = "modelcollapse demo: a Gaussian and an n-gram model under three data policies"
        report_path = build_report(root, report, title=title)
    g = results["gaussian"]
    t = results["ngram"]
    console.print(
        "[bold]Replace collapses:[/bold] the median variance ratio fell to "
        f"{g[('variance_ratio', 'replace')][-1]:.3f} (accumulate: "
        f"{g[('variance_ratio', 'accumulate')][-1]:.3f}); the vocabulary shrank from "
        f"{t[('vocab_size', 'replace')][0]:.0f} to {t[('vocab_size', 'replace')][-1]:.0f} words "
        f"(accumulate: {t[('vocab_size', 'accumulate')][-1]:.0f}) and held-out perplexity went from "
        f"{t[('perplexity', 'replace')][0]:.1f} to {t[('perplexity', 'replace')][-1]:.1f} "
        f"(accumulate: {t[('perplexity', 'accumulate')][-1]:.1f})."
    )
    console.print(f"[bold]report:[/bold] {report_path.resolve()}", soft_wrap=True)
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    return results
