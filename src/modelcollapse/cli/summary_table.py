"""A rich table of a run's metrics: first versus last generation, across replicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.table import Table

from modelcollapse.loop.results import Metrics


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return str(x)
    return f"{x:.4g}"


def summary_table(run_dir: Path, *, title: str) -> Table:
    """Mean ± sd and median over replicates at generation 0 and the last generation."""
    m = Metrics.read(run_dir)
    last = m.last_generation
    table = Table(title=title)
    table.add_column("metric", style="bold", no_wrap=True)
    for g in (0, last):
        table.add_column(f"gen {g}: mean ± sd", justify="right")
        table.add_column(f"gen {g}: median", justify="right")
    for name in m.names:
        row = [name]
        for g in (0, last):
            v = m.values(name, g)
            v = v[~np.isnan(v)]
            if v.size == 0:
                row += ["nan", "nan"]
                continue
            if v.size > 1 and np.isfinite(v).all():
                mean = f"{_fmt(v.mean())} ± {_fmt(v.std(ddof=1))}"
            else:
                mean = _fmt(v.mean())
            row += [mean, _fmt(float(np.median(v)))]
        table.add_row(*row)
    return table
