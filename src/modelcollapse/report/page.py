"""One self-contained HTML page: sections of figures, tables, notes and documents.

The page embeds plotly.js itself (``plotly.offline.get_plotlyjs()``, from the ``plotly`` Python
package) and every figure's data as JSON, so it opens offline from a file, with no CDN and no
request of any kind. Text is escaped by jinja2's autoescaping; the figure JSON sits in a
``<script type="application/json">`` element with every ``<`` written as ``\\u003c`` so no data
can close the script. When every plot has been drawn, ``<body>`` gets
``data-plots-ready="N"`` (N plots); a plot that fails to draw logs a console error and sets
``data-plots-failed`` (the browser test reads both).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from modelcollapse.errors import InvalidParameterError
from modelcollapse.report.figures import Figure
from modelcollapse.report.template import TEMPLATE


@dataclass
class Block:
    """One item of a section. ``kind`` decides the fields used:

    - ``figure``: ``figure`` (a Plotly dict) and ``caption``;
    - ``table``: ``columns`` and ``rows`` (cells as strings), ``caption``;
    - ``note``: ``text`` (a highlighted remark: missing data, a caveat);
    - ``text``: ``text`` (a paragraph);
    - ``pre``: ``text`` (preformatted, e.g. YAML) in a collapsible box titled ``caption``;
    - ``documents``: ``columns`` (one per generation) and ``rows`` (documents side by side).
    """

    kind: str
    text: str = ""
    caption: str = ""
    figure: Figure | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    id: str = ""
    open: bool = False  # for ``pre``: shown expanded

    def __post_init__(self) -> None:
        if self.kind not in ("figure", "table", "note", "text", "pre", "documents"):
            raise InvalidParameterError(
                f"block kind: expected figure, table, note, text, pre or documents, got {self.kind!r}"
            )


def figure(fig: Figure, caption: str = "") -> Block:
    return Block("figure", figure=fig, caption=caption)


def table(columns: list[str], rows: list[list[str]], caption: str = "") -> Block:
    return Block("table", columns=columns, rows=rows, caption=caption)


def note(text: str) -> Block:
    return Block("note", text=text)


def text(value: str) -> Block:
    return Block("text", text=value)


def pre(value: str, caption: str, *, open: bool = False) -> Block:
    return Block("pre", text=value, caption=caption, open=open)


def documents(columns: list[str], rows: list[list[str]], caption: str = "") -> Block:
    return Block("documents", columns=columns, rows=rows, caption=caption)


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    """A report: a title, a verdict banner (measure reports), notes and sections."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def figures(self) -> list[Block]:
        return [b for s in self.sections for b in s.blocks if b.kind == "figure"]


def _json_for_script(obj: Any) -> str:
    # allow_nan=False: figures carry None for gaps; a NaN here is a bug, not data.
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).replace("<", "\\u003c")


def plotly_js() -> str:
    """plotly.js, minified, from the installed ``plotly`` package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render(page: Page) -> str:
    """The page as one HTML string."""
    for i, block in enumerate(page.figures, start=1):
        block.id = f"plot-{i}"
    specs = [{"id": b.id, "figure": b.figure} for b in page.figures]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    from modelcollapse import __version__

    return env.from_string(TEMPLATE).render(
        page=page,
        plotly_js=plotly_js(),
        figures_json=_json_for_script(specs),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )


def write(page: Page, path: str | Path) -> Path:
    """Render ``page`` and write it to ``path`` atomically; returns the path."""
    from modelcollapse.loop.store import atomic_write_bytes

    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(
            f"--out: expected a file path for the HTML report, got the directory {path}"
        )
    atomic_write_bytes(path, render(page).encode("utf-8"))
    return path
