"""`modelcollapse demo`: collapse under replace, stability under accumulate, on bundled data."""

from __future__ import annotations

import pytest
from rich.console import Console

from modelcollapse.demo import run_demo


@pytest.mark.slow
def test_demo_shows_collapse_under_replace_and_stability_under_accumulate(tmp_path):
    console = Console(record=True, width=120)
    results = run_demo(tmp_path, progress=False, console=console)
    text = console.export_text()
    assert "replace" in text and "accumulate" in text and "fresh" in text
    assert "demo finished in" in text

    g, t = results["gaussian"], results["ngram"]
    # Gaussian: median variance ratio at generation 100 (theory for replace: exp(-2.02) = 0.13).
    assert g[("variance_ratio", "replace")][-1] < 0.2
    assert g[("variance_ratio", "accumulate")][-1] > 0.9
    assert g[("variance_ratio", "replace")][-1] < g[("variance_ratio", "fresh λ=0.1")][-1]
    # n-gram on KJV, generation 0 vs 10.
    vocab_r, vocab_a = t[("vocab_size", "replace")], t[("vocab_size", "accumulate")]
    assert vocab_r[-1] < 0.85 * vocab_r[0]
    assert vocab_a[-1] > 0.95 * vocab_a[0]
    ppl_r, ppl_a = t[("perplexity", "replace")], t[("perplexity", "accumulate")]
    assert ppl_r[-1] > 2 * ppl_r[0]
    assert ppl_a[-1] < 0.6 * ppl_r[-1]
    rare_r, rare_a = t[("rare_recall", "replace")], t[("rare_recall", "accumulate")]
    assert rare_r[-1] < rare_r[0] - 0.1
    assert rare_a[-1] > rare_a[0] - 0.05
    # The six run directories are kept when an output folder is given, with the report.
    assert len([p for p in tmp_path.iterdir() if (p / "metrics.parquet").is_file()]) == 6
    report = tmp_path / "report.html"
    assert f"report: {report.resolve()}" in text.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert html.count('class="mc-plot"') >= 8 and "rank-frequency" in html
