"""The HTML page: self-contained (plotly.js inline, nothing fetched), escaped, written atomically."""

from __future__ import annotations

import json
import re

import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.report import build_report
from modelcollapse.report import page as pg

EVIL = '</script><script>alert("x")</script><img src="https://example.com/x.png">'


def _page() -> pg.Page:
    fig = {"data": [{"type": "scatter", "x": [0, 1], "y": [1, None], "name": EVIL}], "layout": {}}
    return pg.Page(
        title="t <b>",
        notes=[EVIL],
        sections=[pg.Section("s", [
            pg.figure(fig, EVIL), pg.documents(["generation 0"], [[EVIL]]), pg.pre(EVIL, "cfg"),
            pg.table(["a"], [[EVIL]]), pg.text(EVIL), pg.note(EVIL),
        ])],
    )  # fmt: skip


def test_self_contained_and_escaped():
    html = pg.render(_page())
    # plotly.js itself is inline, and no element loads anything from anywhere
    assert "plotly.js v" in html[:20000] or "plotly.js v" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    outside = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", outside, re.I)
    assert not re.search(r"<img", outside, re.I)  # the one in EVIL is escaped everywhere
    # exactly our three scripts: plotly.js, the figure data, the drawing code
    assert len(re.findall(r"<script", html)) == 3
    assert html.count("&lt;/script&gt;") == 7 * 2  # 7 text places, each escaped (2 in EVIL)
    data = html.split('<script type="application/json" id="mc-figures">')[1].split("</script>")[0]
    specs = json.loads(data)  # valid JSON with "<" escaped as \\u003c, NaN as null
    assert "<" not in data and specs[0]["figure"]["data"][0]["name"] == EVIL
    assert specs[0]["id"] == "plot-1" and 'id="plot-1"' in html
    assert specs[0]["figure"]["data"][0]["y"] == [1, None]
    assert "<title>t &lt;b&gt;</title>" in html


def test_write_is_atomic_and_refuses_directories(tmp_path):
    out = pg.write(_page(), tmp_path / "sub" / "r.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary left
    with pytest.raises(InvalidParameterError, match="expected a file path"):
        pg.write(_page(), tmp_path)


def test_build_report_defaults_next_to_the_source(gauss_runs, tmp_path):
    out = build_report(gauss_runs / "g-replace")
    assert out == gauss_runs / "g-replace" / "report.html" and out.is_file()
    html = out.read_text(encoding="utf-8")
    assert 'class="mc-plot"' in html and "variance_ratio" in html
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    # plotly.js's own code holds link templates; the page outside the scripts loads nothing
    outside = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", outside, re.I)
    out.unlink()  # leave the shared fixture as it was


def test_block_kinds_are_checked():
    with pytest.raises(InvalidParameterError, match="block kind"):
        pg.Block("chart")
