"""Self-contained interactive HTML reports of simulations, sweeps and measurements.

>>> from modelcollapse.report import build_report
>>> build_report("runs/gauss")                     # writes runs/gauss/report.html

Modules, one concept each: :mod:`.load` (reading runs; :mod:`.sweep_dir` sweeps,
:mod:`.measure_json` measure results), :mod:`.bands` (median and 90% band
across replicates), :mod:`.theory_overlay` (closed-form curves), :mod:`.samples` (stored
generated data), :mod:`.distributions` (histograms, rank-frequency), :mod:`.figures` (Plotly
figure dicts), :mod:`.simulation` and :mod:`.measurement` (the pages), :mod:`.page` (HTML).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelcollapse.report.load import detect_source, load_collection
from modelcollapse.report.measure_json import load_measure
from modelcollapse.report.measurement import Inputs, measure_page, read_inputs
from modelcollapse.report.page import write
from modelcollapse.report.simulation import simulation_page

__all__ = [
    "Inputs",
    "build_report",
    "default_report_path",
    "read_inputs",
    "write_measure_report",
]


def default_report_path(source: str | Path) -> Path:
    """``DIR/report.html`` for a directory, ``NAME.html`` next to a measure JSON file."""
    source = Path(source)
    return source.with_suffix(".html") if source.is_file() else source / "report.html"


def build_report(
    source: str | Path,
    out: str | Path | None = None,
    *,
    generations: Sequence[int] | None = None,
    title: str | None = None,
) -> Path:
    """Write the report of a run, a folder of runs, a sweep or a measure JSON; returns its path.

    ``generations``: whose samples are shown side by side (simulations; default 0, the middle
    and the last generation).
    """
    source = Path(source)
    kind = detect_source(source)
    if kind == "measure":
        page = measure_page(load_measure(source), title=title, source=str(source))
    else:
        page = simulation_page(load_collection(source), generations=generations, title=title)
    return write(page, out if out is not None else default_report_path(source))


def write_measure_report(
    result: Any,
    out: str | Path,
    *,
    inputs: Inputs | None = None,
    inputs_note: str | None = None,
    title: str | None = None,
) -> Path:
    """Write the report of a ``MeasureResult`` (with the compared data when ``inputs`` is given;
    ``inputs_note`` says why they are not)."""
    page = measure_page(result, inputs=inputs, inputs_note=inputs_note, title=title)
    return write(page, out)
