"""The report of a measurement (``modelcollapse measure``): verdict, metric table, distributions.

The page shows

- the verdict (healthy, early or late) and the reasons that drove it;
- the metric table: candidate and reference values with their bootstrap confidence intervals,
  the interval of ``candidate - reference`` the flag is decided on, the relative change and the
  flag (definitions in :mod:`modelcollapse.measure.result` and :mod:`modelcollapse.measure.verdict`);
- a plot of each metric's relative change ``(candidate - reference) / scale`` with its interval
  against the tolerance;
- the two distributions compared, when the data are at hand (``measure --report``): for text,
  rank-frequency (Zipf) curves and the histogram of document lengths in tokens; for numeric data
  and embeddings, histograms of the first coordinates and of the distance to the reference mean.
  The records are the same seeded subsample (at most ``max_records`` each) the verdict used.
  A report made later from the JSON alone says the distributions were not stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.tokenize import get_tokenizer
from modelcollapse.report import page as pg
from modelcollapse.report.distributions import histograms, rank_frequency
from modelcollapse.report.figures import change_figure, histogram_figure, zipf_figure
from modelcollapse.report.measure_json import measure_from_dict

MAX_COORDINATES = 4


@dataclass(frozen=True)
class Inputs:
    """The compared data: documents (text) or rows (numeric, embedding)."""

    kind: str
    reference: Any
    candidate: Any
    tokenizer: str | None = None
    reference_path: str = "reference"
    candidate_path: str = "candidate"


def read_inputs(
    reference: str | Path,
    candidate: str | Path,
    *,
    kind: str,
    seed: int,
    text_field: str = "text",
    on_error: str = "fail",
    max_records: int = 5000,
    tokenizer: str | None = None,
) -> Inputs:
    """The records ``measure_files`` compared for seed ``seed``: the same reservoir samples,
    drawn from the same spawned generators (see :func:`modelcollapse.measure.files.measure_files`)."""
    from modelcollapse.measure.files import load_input
    from modelcollapse.rng import as_generator

    ref_rng, cand_rng, _ = as_generator(seed).spawn(3)
    common: dict[str, Any] = dict(
        streams=None, text_field=text_field, on_error=on_error, max_records=max_records,
        tokenizer=tokenizer,
    )  # fmt: skip
    ref = load_input(reference, kind, side="reference", rng=ref_rng, **common)
    cand = load_input(candidate, kind, side="candidate", rng=cand_rng, **common)
    return Inputs(kind, ref.data, cand.data, tokenizer, str(reference), str(candidate))


def _cell(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float):
        return ("inf" if x > 0 else "-inf") if math.isinf(x) else f"{x:.4g}"
    return str(x)


def _interval(lo: Any, hi: Any) -> str:
    return f"[{_cell(lo)}, {_cell(hi)}]"


def metric_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The metric table of a validated measure result."""
    level = doc.get("level", 0.95)
    ci = f"{float(level):.0%} CI" if isinstance(level, (int, float)) else "CI"
    columns = ["metric", "role", "candidate", f"candidate {ci}", "reference", f"reference {ci}",
               f"candidate − reference {ci}", "change", "flagged"]  # fmt: skip
    rows = []
    for name, m in doc["metrics"].items():
        change = m.get("change", math.nan)
        rows.append([
            name, _cell(m.get("role")), _cell(m["candidate"]), _interval(m["ci_low"], m["ci_high"]),
            _cell(m["reference"]), _interval(m.get("reference_ci_low"), m.get("reference_ci_high")),
            _interval(m.get("delta_low"), m.get("delta_high")),
            "-" if not isinstance(change, float) or not math.isfinite(change) else f"{change:+.1%}",
            "yes" if m["flagged"] else "no",
        ])  # fmt: skip
    return columns, rows


def _distribution_blocks(inputs: Inputs) -> list[pg.Block]:
    labels = (f"reference ({inputs.reference_path})", f"candidate ({inputs.candidate_path})")
    if inputs.kind == "text":
        tok = get_tokenizer(inputs.tokenizer)
        curves = {
            labels[0]: rank_frequency(inputs.reference, inputs.tokenizer),
            labels[1]: rank_frequency(inputs.candidate, inputs.tokenizer),
        }
        lengths = {
            labels[0]: np.array([len(tok(d)) for d in inputs.reference], dtype=np.float64),
            labels[1]: np.array([len(tok(d)) for d in inputs.candidate], dtype=np.float64),
        }
        blocks = [pg.figure(zipf_figure("Rank-frequency (Zipf)", curves),
                            f"Tokens by the measurement's tokenizer ({inputs.tokenizer or 'whitespace'}).")]  # fmt: skip
        hist = histograms(lengths)
        if hist is not None:
            blocks.append(
                pg.figure(histogram_figure("Document length", hist, "tokens per document"))
            )
        return blocks
    ref = np.asarray(inputs.reference, dtype=np.float64)
    cand = np.asarray(inputs.candidate, dtype=np.float64)
    blocks = []
    centre = ref.mean(axis=0)
    dist = histograms(
        {
            labels[0]: np.linalg.norm(ref - centre, axis=1),
            labels[1]: np.linalg.norm(cand - centre, axis=1),
        }
    )
    if dist is not None:
        blocks.append(pg.figure(
            histogram_figure("Distance to the reference mean", dist, "Euclidean distance"),
            "A candidate that lost its tails has less mass on the right.",
        ))  # fmt: skip
    for j in range(min(ref.shape[1], MAX_COORDINATES)):
        hist = histograms({labels[0]: ref[:, j], labels[1]: cand[:, j]})
        if hist is not None:
            blocks.append(pg.figure(histogram_figure(f"Coordinate {j}", hist, f"x[{j}]")))
    if ref.shape[1] > MAX_COORDINATES:
        blocks.append(
            pg.note(f"Showing the first {MAX_COORDINATES} of {ref.shape[1]} coordinates.")
        )
    return blocks


def measure_page(
    result: Any,
    *,
    inputs: Inputs | None = None,
    inputs_note: str | None = None,
    title: str | None = None,
    source: str = "",
) -> pg.Page:
    """The page of a measurement: ``result`` is a ``MeasureResult`` or its ``to_dict()``."""
    doc = measure_from_dict(
        result.to_dict() if hasattr(result, "to_dict") else result, source or None
    )
    n = f"{doc.get('n_candidate', '?')} candidate and {doc.get('n_reference', '?')} reference records"
    page = pg.Page(
        title=title or "modelcollapse measurement",
        subtitle=f"{doc['kind']} data; {n}" + (f"; {source}" if source else ""),
        verdict=str(doc["verdict"]),
        reasons=[str(r) for r in doc["reasons"]],
        notes=[str(x) for x in doc.get("notes", [])],
    )
    columns, rows = metric_rows(doc)
    info = [
        ["tokenizer", _cell(doc.get("tokenizer"))], ["bootstrap replicates", _cell(doc.get("n_boot"))],
        ["confidence level", _cell(doc.get("level"))], ["seed", _cell(doc.get("seed"))],
        ["bad records (candidate, reference)", f"{doc.get('n_bad_candidate', 0)}, {doc.get('n_bad_reference', 0)}"],
    ]  # fmt: skip
    page.sections.append(
        pg.Section("Metrics", [pg.table(columns, rows), pg.table(["setting", "value"], info)])
    )
    change_rows = [{"name": k, **v} for k, v in doc["metrics"].items()]
    fig = change_figure("Change against the reference", change_rows)
    if fig["data"][0]["x"]:
        page.sections[0].blocks.insert(1, pg.figure(
            fig, "Red: flagged. Bars: the interval of candidate − reference divided by the metric's scale; grey ticks: ± tolerance."
        ))  # fmt: skip
    dist = pg.Section("Distributions compared")
    if inputs is None and inputs_note:
        dist.blocks.append(pg.note(inputs_note))
    elif inputs is None:
        dist.blocks.append(pg.note(
            "The measure JSON does not store the data; run `modelcollapse measure ... --report "
            "report.html` to include the distributions."
        ))  # fmt: skip
    else:
        dist.blocks.extend(_distribution_blocks(inputs))
    page.sections.append(dist)
    return page
