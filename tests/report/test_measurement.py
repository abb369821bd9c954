"""The measurement page: verdict, metric table with CIs, the distributions compared."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelcollapse.measure.files import measure_files
from modelcollapse.report import read_inputs
from modelcollapse.report.measure_json import load_measure
from modelcollapse.report.measurement import measure_page


def _blocks(page, kind):
    return [b for s in page.sections for b in s.blocks if b.kind == kind]


@pytest.fixture(scope="module")
def numeric_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("measure")
    rng = np.random.default_rng(3)
    np.save(root / "ref.npy", rng.normal(size=(300, 6)))
    np.save(root / "cand.npy", 0.5 * rng.normal(size=(150, 6)))
    return root / "ref.npy", root / "cand.npy"


def test_page_of_a_real_measurement(numeric_files, tmp_path):
    ref, cand = numeric_files
    result = measure_files(
        ref, cand, kind="numeric", rng=7, n_boot=20, n_boot_expensive=3, max_records=100
    )
    inputs = read_inputs(ref, cand, kind="numeric", seed=7, max_records=100)
    page = measure_page(result, inputs=inputs)
    assert page.verdict == result.verdict and page.reasons == result.reasons
    table = _blocks(page, "table")[0]
    assert [r[0] for r in table.rows] == list(result.metrics)
    for row in table.rows:
        m = result.metrics[row[0]]
        assert row[2] == f"{m.candidate:.4g}" and row[3] == f"[{m.ci_low:.4g}, {m.ci_high:.4g}]"
        assert row[-1] == ("yes" if m.flagged else "no")
    # distributions: the distance to the reference mean and the first 4 of 6 coordinates
    titles = [b.figure["layout"]["title"]["text"] for b in page.figures]
    assert titles[1:] == ["Distance to the reference mean", *(f"Coordinate {j}" for j in range(4))]
    assert any("first 4 of 6 coordinates" in b.text for b in _blocks(page, "note"))
    # the records are the capped, seeded samples measure used: 100 of each, rows of the files
    assert inputs.reference.shape == (100, 6) and inputs.candidate.shape == (100, 6)
    full = np.load(ref)
    assert all(any(np.array_equal(row, f) for f in full) for row in inputs.reference[:5])
    again = read_inputs(ref, cand, kind="numeric", seed=7, max_records=100)
    np.testing.assert_array_equal(again.candidate, inputs.candidate)
    # the same page from the JSON, without the data
    path = tmp_path / "r.json"
    path.write_text(json.dumps(result.to_dict()))
    from_json = measure_page(load_measure(path))
    assert _blocks(from_json, "table")[0].rows == table.rows
    assert any("does not store the data" in b.text for b in _blocks(from_json, "note"))
    change = page.figures[0].figure["data"][0]
    for name, x in zip(change["y"], change["x"], strict=True):
        m = result.metrics[name]
        assert x == pytest.approx((m.candidate - m.reference) / m.scale)


def test_text_distributions(tmp_path):
    ref = tmp_path / "ref.txt"
    cand = tmp_path / "cand.txt"
    ref.write_text("a b c d\nb c d e f\nc d\n", encoding="utf-8")
    cand.write_text("a a a\na a b\n", encoding="utf-8")
    inputs = read_inputs(ref, cand, kind="text", seed=0, tokenizer="whitespace")
    result = {
        "verdict": "late", "reasons": ["spread"], "kind": "text", "notes": ["a note"],
        "metrics": {"vocab_size": {"candidate": 2.0, "reference": 6.0, "ci_low": 2.0, "ci_high": 2.0,
                                   "flagged": True, "scale": 6.0, "delta_low": -4.0,
                                   "delta_high": -4.0, "tolerance": 0.1, "change": None}},
    }  # fmt: skip
    page = measure_page(result, inputs=inputs)
    zipf, lengths = page.figures[1].figure, page.figures[2].figure
    ref_curve, cand_curve = zipf["data"]
    assert ref_curve["x"] == [1, 2, 3, 4, 5, 6] and cand_curve["x"] == [1, 2]
    assert cand_curve["y"] == pytest.approx([5 / 6, 1 / 6])
    n = {t["name"]: t for t in lengths["data"]}
    assert any("(n=3)" in k for k in n) and any("(n=2)" in k for k in n)
    assert page.notes == ["a note"] and page.verdict == "late"
    assert _blocks(page, "table")[0].rows[0][7] == "-"  # a null change shows as "-"
