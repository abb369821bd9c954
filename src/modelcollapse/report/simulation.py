"""The report of simulations: one run, a folder of runs (the demo) or a sweep.

For every family of comparable runs (:class:`~modelcollapse.report.load.Family`) the page shows

- each metric per generation: the median across replicates and a 90% band (:mod:`.bands`), one
  colour per arm, with the closed-form curve of :mod:`modelcollapse.loop.theory` where one
  applies (:mod:`.theory_overlay`);
- numeric data: histograms of generation 0 against the last generation, from the stored samples
  pooled over replicates, or, for the vectorised Gaussian engine (which stores fitted models, not
  samples), of the fitted variance across replicates; discrete data: category shares;
- text: rank-frequency (Zipf) curves and sample documents of chosen generations side by side;
- the resolved config of each arm (and the sweep file).

What the run did not store is said on the page, never an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.report import page as pg
from modelcollapse.report import samples as stored
from modelcollapse.report.bands import band, metric_names
from modelcollapse.report.distributions import (
    category_shares,
    histograms,
    rank_frequency,
    to_values,
)
from modelcollapse.report.figures import (
    GENERATION_0,
    ArmBand,
    category_figure,
    color,
    histogram_figure,
    metric_figure,
    zipf_figure,
)
from modelcollapse.report.load import Arm, Collection, Family
from modelcollapse.report.theory_overlay import theory_curve

MAX_ARMS_DETAILED = 8  # arms that get distribution plots and sample documents
DOCS_SHOWN = 5
DOC_CHARS = 400


def check_generations(generations: Sequence[int], last: int) -> list[int]:
    """Sorted unique generations, each in ``0..last``."""
    out = sorted(set(int(g) for g in generations))
    bad = [g for g in out if g < 0 or g > last]
    if not out or bad:
        raise InvalidParameterError(
            f"--generations: expected generations between 0 and {last}, got {', '.join(map(str, bad)) or 'none'}"
        )
    return out


def default_generations(last: int) -> list[int]:
    """0, the middle and the last generation."""
    return sorted({0, last // 2, last})


def _last(family: Family) -> int:
    return max(r.metrics.last_generation for r in family.runs)


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "-" if x is None else str(x)


def _wall_time(summary: dict) -> str:
    # A resumed run only knows how long its last call took: say so rather than understate it.
    text = _fmt(summary.get("wall_time_s"))
    return f"{text} (last resumed call)" if summary.get("resumed") else text


def _overview(col: Collection) -> pg.Section:
    rows = []
    for fam in col.families:
        for arm in fam.arms:
            for run in arm.runs:
                cfg, summ = run.config, run.summary or {}
                rows.append([
                    fam.title, arm.label, run.run_id,
                    _fmt(cfg.policy.kind if cfg else None),
                    _fmt(run.metrics.last_generation),
                    _fmt(len(stored.replicates_of(run))),
                    _fmt(cfg.samples_per_generation if cfg else None),
                    _fmt(summ.get("engine")), _wall_time(summ),
                ])  # fmt: skip
    cols = [
        "family",
        "arm",
        "run",
        "policy",
        "last generation",
        "replicates",
        "samples / generation",
        "engine",
        "wall time (s)",
    ]
    section = pg.Section("Runs", [pg.table(cols, rows)])
    if col.sweep_text:
        section.blocks.append(pg.pre(col.sweep_text, "sweep.yaml (resolved sweep)"))
    return section


def _metrics_section(fam: Family) -> pg.Section:
    section = pg.Section(f"Metrics per generation: {fam.title}")
    section.blocks.append(
        pg.text(
            "Lines: median across replicates; shaded: 5% to 95% of replicates (a 90% band). "
            "Dashed: closed-form theory, where the setting matches one."
        )
    )
    for name in metric_names([r.metrics for r in fam.runs]):
        arms, theories, skipped = [], [], []
        for i, arm in enumerate(fam.arms):
            b = band([r.metrics for r in arm.runs], name)
            if b is None:
                continue
            if not np.any(b.n):
                skipped.append(arm.label)
                continue
            t = theory_curve(arm.runs[0].config, name, b.generation)
            if t is not None:
                theories.append(f"{arm.label}: {t.label}")
            arms.append(ArmBand(arm.label, color(i), b, t))
            bad = int(b.n_nonfinite.sum())
            if bad:
                section.blocks.append(
                    pg.note(
                        f"{name}, {arm.label}: {bad} NaN or infinite value(s) left out of the band."
                    )
                )
        for label in skipped:
            section.blocks.append(pg.note(f"{name}, {label}: no finite value; not plotted."))
        if arms:
            caption = (
                "; ".join(theories)
                if theories
                else "No closed-form curve applies to this metric and setting."
            )
            section.blocks.append(pg.figure(metric_figure(name, arms), caption))
    return section


def _generation_styles(labels: list[str], arm_color: str) -> tuple[dict[str, str], dict[str, str]]:
    """Generation 0 in grey, later ones in the arm's colour (dotted, except the last)."""
    colors = {lab: GENERATION_0 if i == 0 else arm_color for i, lab in enumerate(labels)}
    return colors, {lab: "dot" for lab in labels[1:-1]}


def _numeric_blocks(arm: Arm, last: int, arm_color: str) -> list[pg.Block]:
    run = arm.runs[0]
    labels = ["generation 0", f"generation {last}"]
    colors, _ = _generation_styles(labels, arm_color)
    first_s, last_s = stored.read_pooled(run, 0), stored.read_pooled(run, last)
    if first_s is not None and last_s is not None:
        kind = run.data_kind
        if kind == "discrete":
            codes, shares = category_shares(
                dict(zip(labels, (first_s.data, last_s.data), strict=True))
            )
            return [
                pg.figure(category_figure(f"{arm.label}: category shares", codes, shares, colors))
            ]
        d0 = np.asarray(first_s.data, dtype=np.float64)
        centre = d0.mean(axis=0) if d0.ndim == 2 else None
        v0, what = to_values(d0, kind, centre)
        v1, _ = to_values(np.asarray(last_s.data, dtype=np.float64), kind, centre)
        hist = histograms(dict(zip(labels, (v0, v1), strict=True)))
        if hist is None:
            return [pg.note(f"{arm.label}: the stored samples have no finite value.")]
        caption = (
            f"Synthetic samples from {first_s.where} ({first_s.replicates} replicate(s) pooled, "
            f"at most {stored.MAX_ROWS} values); x: {what}."
        )
        fig = histogram_figure(f"{arm.label}: generation 0 vs {last}", hist, what, colors)
        return [pg.figure(fig, caption)]
    var0, var1 = stored.fitted_variances(run, 0), stored.fitted_variances(run, last)
    hist = (
        None
        if var0 is None or var1 is None
        else histograms(dict(zip(labels, (var0, var1), strict=True)))
    )
    if hist is not None:
        caption = (
            "This run used the vectorised engine, which stores each replicate's fitted model, "
            "not its samples: the histogram shows the fitted variance (trace of the covariance) "
            f"across {hist.n[labels[0]]} replicates."
        )
        title = f"{arm.label}: fitted variance, generation 0 vs {last}"
        return [pg.figure(histogram_figure(title, hist, "fitted variance", colors), caption)]
    return [pg.note(
        f"{arm.label}: no samples stored for generations 0 and {last} (run with save_samples: true "
        "to keep them); histograms left out."
    )]  # fmt: skip


def _text_blocks(arm: Arm, gens: list[int], arm_color: str) -> list[pg.Block]:
    run = arm.runs[0]
    docs = {g: stored.read_text(run, g) for g in gens}
    found = {g: s for g, s in docs.items() if s is not None}
    blocks: list[pg.Block] = []
    missing = [g for g in gens if g not in found]
    if missing:
        blocks.append(pg.note(
            f"{arm.label}: no documents stored for generation(s) {', '.join(map(str, missing))} "
            "(run with save_samples: true to keep them)."
        ))  # fmt: skip
    if not found:
        return blocks
    tokenizer = run.config.tokenizer if run.config else None
    curves = {f"generation {g}": rank_frequency(s.data, tokenizer) for g, s in found.items()}
    colors, dashes = _generation_styles(list(curves), arm_color)
    blocks.append(pg.figure(
        zipf_figure(f"{arm.label}: rank-frequency (Zipf)", curves, colors, dashes),
        f"Replicate 0; tokens by the run's tokenizer ({tokenizer or 'whitespace'}).",
    ))  # fmt: skip
    columns = [f"generation {g}" for g in found]
    rows = []
    for i in range(DOCS_SHOWN):
        row = []
        for s in found.values():
            doc = s.data[i] if i < len(s.data) else ""
            row.append(doc if len(doc) <= DOC_CHARS else doc[:DOC_CHARS] + "…")
        rows.append(row)
    caption = f"{arm.label}: the first {DOCS_SHOWN} documents of replicate 0"
    blocks.append(pg.documents(columns, rows, caption))
    return blocks


def _samples_section(fam: Family, gens: list[int]) -> pg.Section:
    last = _last(fam)
    section = pg.Section(f"Generated data: {fam.title}")
    if any(r.data_kind != "text" for r in fam.runs):
        section.blocks.append(
            pg.text(f"Generation 0 (fitted on real data) against the last generation ({last}).")
        )
    arms = fam.arms[:MAX_ARMS_DETAILED]
    if len(fam.arms) > len(arms):
        section.blocks.append(pg.note(f"Showing the first {len(arms)} of {len(fam.arms)} arms."))
    for i, arm in enumerate(arms):
        if arm.runs[0].data_kind == "text":
            section.blocks.extend(_text_blocks(arm, gens, color(i)))
        else:
            section.blocks.extend(_numeric_blocks(arm, last, color(i)))
    return section


def _config_section(fam: Family) -> pg.Section:
    section = pg.Section(f"Resolved config: {fam.title}")
    for i, arm in enumerate(fam.arms):
        run = arm.runs[0]
        if run.config_text is None:
            section.blocks.append(pg.note(f"{arm.label}: config.yaml not found."))
        else:
            caption = f"{arm.label} ({run.run_id}/config.yaml)"
            section.blocks.append(
                pg.pre(run.config_text, caption, open=i == 0 and len(fam.arms) == 1)
            )
    return section


def _family_generations(fam: Family, asked: list[int] | None, notes: list[str]) -> list[int]:
    last = _last(fam)
    if asked is None:
        return default_generations(last)
    gens = [g for g in asked if g <= last]
    if len(gens) < len(asked):
        notes.append(f"{fam.title}: generations above {last} left out of the samples shown.")
    return gens or [last]


def simulation_page(
    col: Collection, *, generations: Sequence[int] | None = None, title: str | None = None
) -> pg.Page:
    """The report page of ``col``. ``generations``: those whose samples are shown (default: 0,
    the middle and the last), each between 0 and the last generation of some family."""
    asked = None
    if generations is not None:
        asked = check_generations(generations, max(_last(f) for f in col.families))
    kind = {"run": "simulation run", "runs": "simulation runs", "sweep": "sweep"}.get(
        col.kind, col.kind
    )
    page = pg.Page(
        title=title or f"modelcollapse report: {col.path.name or col.path}",
        subtitle=f"{kind} at {col.path}",
        notes=list(col.notes),
    )
    page.sections.append(_overview(col))
    for fam in col.families:
        gens = _family_generations(fam, asked, page.notes)
        page.sections.append(_metrics_section(fam))
        page.sections.append(_samples_section(fam, gens))
        page.sections.append(_config_section(fam))
    return page
