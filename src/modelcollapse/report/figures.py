"""Plotly figures as plain dicts (``{"data": [...], "layout": {...}}``), drawn by plotly.js.

Plain dicts, not ``plotly.graph_objects``: they are JSON as they stand, cheap to build, and
tests can read the numbers back from them. Only SVG trace types (``scatter``, ``bar``) are used,
so every plot renders without WebGL. Non-finite numbers become ``null``, which plotly.js draws as
a gap. Colours: the "category10" palette of D3 (Bostock et al. 2011), one per arm, in order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelcollapse.report.bands import Band
from modelcollapse.report.distributions import Histograms, RankFrequency
from modelcollapse.report.theory_overlay import TheoryCurve

GENERATION_0 = "#7f7f7f"  # generation 0 (fitted on real data) in every distribution plot
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
Figure = dict[str, Any]


def color(i: int) -> str:
    """The ``i``-th colour of the palette (cycling)."""
    return PALETTE[i % len(PALETTE)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def numbers(values: Iterable[Any]) -> list[float | int | None]:
    """JSON-ready numbers: NaN and infinities become None (a gap in the plot)."""
    out: list[float | int | None] = []
    for v in np.asarray(list(values) if not isinstance(values, np.ndarray) else values).tolist():
        if isinstance(v, float) and not math.isfinite(v):
            out.append(None)
        else:
            out.append(v)
    return out


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "zeroline": False, "automargin": True, **extra}


def _layout(title: str, xtitle: str, ytitle: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": _axis(xtitle),
        "yaxis": _axis(ytitle),
        "margin": {"l": 60, "r": 40, "t": 60, "b": 60},
        # Below the plot, clear of the x-axis title; the modebar stands vertically on the right
        # so it never covers the linear/log buttons or the title.
        "legend": {"orientation": "h", "x": 0, "y": -0.3, "yanchor": "top"},
        "modebar": {"orientation": "v"},
        "height": 420,
        "template": None,
        "plot_bgcolor": "#ffffff",
        **extra,
    }


def _scale_buttons() -> list[dict[str, Any]]:
    # Collapse curves often span decades; let the reader switch the y axis.
    return [
        {
            "type": "buttons",
            "direction": "left",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.12,
            "yanchor": "bottom",
            "showactive": True,
            "buttons": [
                {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
            ],
        }
    ]


@dataclass(frozen=True)
class ArmBand:
    """What one arm contributes to a metric plot."""

    label: str
    color: str
    band: Band
    theory: TheoryCurve | None = None


def metric_figure(metric: str, arms: Sequence[ArmBand], *, title: str | None = None) -> Figure:
    """Median line and 90% band across replicates per arm, plus any theory curve, per generation."""
    data: list[dict[str, Any]] = []
    for arm in arms:
        b = arm.band
        x = b.generation.tolist()
        group = arm.label
        band_hover = "skip"
        data.append({
            "type": "scatter", "mode": "lines", "x": x, "y": numbers(b.high), "name": f"{group} 95%",
            "legendgroup": group, "showlegend": False, "hoverinfo": band_hover,
            "line": {"width": 0, "color": arm.color},
        })  # fmt: skip
        data.append({
            "type": "scatter", "mode": "lines", "x": x, "y": numbers(b.low), "name": f"{group} 5%",
            "legendgroup": group, "showlegend": False, "hoverinfo": band_hover, "fill": "tonexty",
            "fillcolor": rgba(arm.color, 0.18), "line": {"width": 0, "color": arm.color},
        })  # fmt: skip
        custom = [
            [lo, hi, int(n)]
            for lo, hi, n in zip(numbers(b.low), numbers(b.high), b.n.tolist(), strict=True)
        ]
        data.append({
            "type": "scatter", "mode": "lines+markers" if len(x) <= 30 else "lines", "x": x,
            "y": numbers(b.median), "name": group, "legendgroup": group,
            "line": {"width": 2, "color": arm.color}, "marker": {"size": 5}, "customdata": custom,
            "hovertemplate": (
                f"{group}<br>generation %{{x}}<br>median %{{y:.4g}}<br>90% band "
                "[%{customdata[0]:.4g}, %{customdata[1]:.4g}]<br>replicates %{customdata[2]}"
                "<extra></extra>"
            ),
        })  # fmt: skip
        if arm.theory is not None:
            t = arm.theory
            data.append({
                "type": "scatter", "mode": "lines", "x": t.generation.tolist(),
                "y": numbers(t.value), "name": f"{group}: {t.label}", "legendgroup": group,
                "line": {"width": 2, "dash": "dash", "color": "#000000" if len(arms) == 1 else arm.color},
            })  # fmt: skip
    layout = _layout(title or metric, "generation", f"{metric} (median, 90% band)")
    last = max((int(a.band.generation.max()) for a in arms), default=0)
    if last <= 15:  # whole generations only; plotly would put ticks at 0.5
        layout["xaxis"]["dtick"] = 1
    layout["updatemenus"] = _scale_buttons()
    # room for a legend of several lines below the plot
    entries = sum(2 if a.theory is not None else 1 for a in arms)
    layout["height"] = 380 + 22 * max(0, (entries + 1) // 2 - 1)
    return {"data": data, "layout": layout}


def histogram_figure(
    title: str, hist: Histograms, xtitle: str, colors: dict[str, str] | None = None
) -> Figure:
    """Overlaid density bars of each labelled sample on shared bins."""
    data = []
    for i, (label, dens) in enumerate(hist.density.items()):
        c = (colors or {}).get(label, color(i))
        data.append({
            "type": "bar", "x": numbers(hist.centers), "y": numbers(dens),
            "width": numbers(hist.widths), "name": f"{label} (n={hist.n[label]})",
            "marker": {"color": rgba(c, 0.55), "line": {"width": 0}},
            "hovertemplate": f"{label}<br>%{{x:.4g}}: density %{{y:.4g}}<extra></extra>",
        })  # fmt: skip
    layout = _layout(title, xtitle, "density", barmode="overlay", bargap=0)
    return {"data": data, "layout": layout}


def category_figure(
    title: str,
    codes: np.ndarray,
    shares: dict[str, np.ndarray],
    colors: dict[str, str] | None = None,
) -> Figure:
    """Grouped bars: each sample's share of every category."""
    data = [
        {"type": "bar", "x": [str(c) for c in codes.tolist()], "y": numbers(s), "name": label,
         "marker": {"color": (colors or {}).get(label, color(i))}}
        for i, (label, s) in enumerate(shares.items())
    ]  # fmt: skip
    return {"data": data, "layout": _layout(title, "category", "share", barmode="group")}


def zipf_figure(
    title: str,
    curves: dict[str, RankFrequency],
    colors: dict[str, str] | None = None,
    dashes: dict[str, str] | None = None,
) -> Figure:
    """Rank-frequency curves on log-log axes (``dashes``: plotly dash styles by label)."""
    data = []
    for i, (label, rf) in enumerate(curves.items()):
        line = {"width": 2, "color": (colors or {}).get(label, color(i))}
        if dashes and label in dashes:
            line["dash"] = dashes[label]
        data.append({
            "type": "scatter", "mode": "lines", "x": rf.rank.tolist(), "y": numbers(rf.frequency),
            "name": f"{label} ({rf.types} types, {rf.tokens} tokens)", "line": line,
            "hovertemplate": f"{label}<br>rank %{{x}}: %{{y:.3g}}<extra></extra>",
        })  # fmt: skip
    layout = _layout(title, "rank (log)", "relative frequency (log)")
    layout["xaxis"]["type"] = "log"
    layout["yaxis"]["type"] = "log"
    return {"data": data, "layout": layout}


def change_figure(title: str, rows: Sequence[dict[str, Any]]) -> Figure:
    """Relative change ``(candidate - reference) / scale`` per metric with its interval.

    ``rows`` hold ``name``, ``delta_low``, ``delta_high``, ``candidate``, ``reference``,
    ``scale``, ``tolerance`` and ``flagged`` (a measure result's metrics). The interval is that
    of ``candidate - reference`` divided by the same scale, as the verdict decides on it.
    """
    names, mid, minus, plus, colors, tol = [], [], [], [], [], []
    for r in rows:
        s = r["scale"]
        if not (isinstance(s, float) and math.isfinite(s) and s > 0):
            continue
        c = (r["candidate"] - r["reference"]) / s
        lo, hi = r["delta_low"] / s, r["delta_high"] / s
        if not all(math.isfinite(v) for v in (c, lo, hi)):
            continue
        names.append(r["name"])
        mid.append(c)
        minus.append(max(c - lo, 0.0))
        plus.append(max(hi - c, 0.0))
        colors.append("#d62728" if r["flagged"] else "#1f77b4")
        tol.append(r["tolerance"])
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "markers", "x": mid, "y": names, "name": "change",
        "marker": {"size": 10, "color": colors},
        "error_x": {"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
        "hovertemplate": "%{y}: %{x:+.1%}<extra></extra>",
    }]  # fmt: skip
    ticks = [
        (n, t) for n, t in zip(names, tol, strict=True) if isinstance(t, float) and math.isfinite(t)
    ]
    if ticks:
        data.append({
            "type": "scatter", "mode": "markers", "x": [-t for _, t in ticks] + [t for _, t in ticks],
            "y": [n for n, _ in ticks] * 2, "name": "± tolerance",
            "marker": {"symbol": "line-ns-open", "size": 14, "color": "#7f7f7f"},
        })  # fmt: skip
    layout = _layout(
        title, "(candidate − reference) / scale, with its interval", "",
        height=max(360, 40 * len(names) + 160),
    )  # fmt: skip
    layout["xaxis"]["tickformat"] = "+.0%"
    layout["xaxis"]["zeroline"] = True
    return {"data": data, "layout": layout}
