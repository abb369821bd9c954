"""The simulation page: what it shows for numeric and text runs, and what it says when data are missing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.store import RunStore
from modelcollapse.report.load import load_collection
from modelcollapse.report.simulation import simulation_page


def _blocks(page, kind):
    return [b for s in page.sections for b in s.blocks if b.kind == kind]


def _titled(page, needle):
    return [b.figure for b in page.figures if needle in b.figure["layout"]["title"]["text"]]


def test_text_run_shows_zipf_and_documents_side_by_side(text_run):
    page = simulation_page(load_collection(text_run), generations=[0, 1, 3])
    (zipf,) = _titled(page, "rank-frequency")
    assert [t["name"].split(" (")[0] for t in zipf["data"]] == [
        "generation 0", "generation 1", "generation 3",
    ]  # fmt: skip
    assert zipf["layout"]["xaxis"]["type"] == "log" and zipf["layout"]["yaxis"]["type"] == "log"
    (docs,) = _blocks(page, "documents")
    assert docs.columns == ["generation 0", "generation 1", "generation 3"]
    for col, g in enumerate((0, 1, 3)):
        # the general engine keeps each generation's samples in its checkpoints
        expected = RunStore(text_run).load_checkpoints(0)[g].samples[:5]
        assert [row[col] for row in docs.rows] == [
            d[:400] + ("…" if len(d) > 400 else "") for d in expected
        ]
    # Zipf frequencies are relative: each curve starts at the top type's share, below 1
    assert all(0 < t["y"][0] < 1 for t in zipf["data"])
    (pre,) = _blocks(page, "pre")
    assert "source: kjv" in pre.text and "kind: ngram" in pre.text


def test_generations_are_checked(text_run):
    col = load_collection(text_run)
    with pytest.raises(InvalidParameterError, match=r"between 0 and 3, got 4"):
        simulation_page(col, generations=[0, 4])
    with pytest.raises(InvalidParameterError, match="got none"):
        simulation_page(col, generations=[])
    default = simulation_page(col)
    assert _blocks(default, "documents")[0].columns == [
        "generation 0",
        "generation 1",
        "generation 3",
    ]


def test_numeric_histogram_is_the_stored_samples(sampled_run):
    page = simulation_page(load_collection(sampled_run))
    (hist,) = _titled(page, "generation 0 vs 4")
    bars = {t["name"].split(" (")[0]: t for t in hist["data"]}
    data = {
        g: np.concatenate([np.load(sampled_run / "samples" / f"rep_{r:05d}" / f"gen_{g:04d}.npy") for r in range(3)])
        for g in (0, 4)
    }  # fmt: skip
    centre = data[0].mean(axis=0)
    dists = {g: np.linalg.norm(data[g] - centre, axis=1) for g in (0, 4)}
    edges = np.histogram_bin_edges(np.concatenate(list(dists.values())), bins="auto")
    assert edges.size - 1 <= 60  # below the cap, so these are the report's edges
    np.testing.assert_allclose(bars["generation 0"]["x"], (edges[:-1] + edges[1:]) / 2)
    for g, dist in dists.items():
        counts, _ = np.histogram(dist, bins=edges)
        np.testing.assert_allclose(
            bars[f"generation {g}"]["y"], counts / (dist.size * np.diff(edges)), atol=1e-12
        )
        assert f"(n={dist.size})" in bars[f"generation {g}"]["name"]
    assert (
        "distance to generation 0's mean (2 dimensions)" in hist["layout"]["xaxis"]["title"]["text"]
    )


def test_vectorised_runs_show_fitted_variances(gauss_runs):
    page = simulation_page(load_collection(gauss_runs))
    figs = _titled(page, "fitted variance")
    assert len(figs) == 2  # one per arm
    caption = next(
        b.caption for b in page.figures if "fitted variance" in b.figure["layout"]["title"]["text"]
    )
    assert "vectorised engine" in caption and "60 replicates" in caption
    replace = next(f for f in figs if f["layout"]["title"]["text"].startswith("replace"))
    with np.load(gauss_runs / "g-replace" / "checkpoints" / "gen_0012.npz") as z:
        var = np.trace(z["cov"], axis1=-2, axis2=-1)
    bars = {t["name"].split(" (")[0]: t for t in replace["data"]}
    widths = np.array(bars["generation 12"]["width"])
    # the densities of the last generation's fitted variances integrate to 1 over var.size values
    assert float(np.sum(np.array(bars["generation 12"]["y"]) * widths)) == pytest.approx(1.0)
    assert f"(n={var.size})" in bars["generation 12"]["name"]


def test_a_resumed_run_says_its_wall_time_is_the_last_call(tmp_path, gauss_runs):
    run = tmp_path / "resumed"
    shutil.copytree(gauss_runs / "g-replace", run)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "resumed": True}))
    (overview, *_) = _blocks(simulation_page(load_collection(run)), "table")
    assert overview.rows[0][-1] == f"{summary['wall_time_s']:.4g} (last resumed call)"


def test_missing_samples_are_said_not_fatal(tmp_path, text_run, gauss_runs):
    text = tmp_path / "text"
    shutil.copytree(text_run, text)
    shutil.rmtree(text / "checkpoints")
    page = simulation_page(load_collection(text))
    notes = " ".join(b.text for b in _blocks(page, "note"))
    assert "no documents stored for generation(s) 0, 1, 3" in notes
    assert not _blocks(page, "documents")
    num = tmp_path / "num"
    shutil.copytree(gauss_runs / "g-replace", num)
    shutil.rmtree(num / "checkpoints")
    (num / "summary.json").unlink()
    page = simulation_page(load_collection(num))
    notes = " ".join(b.text for b in _blocks(page, "note"))
    assert "no samples stored for generations 0 and 12" in notes
    assert any("summary.json is missing" in n for n in page.notes)
    assert _titled(page, "variance_ratio")  # the metrics are still plotted


def test_collections_and_sweeps(gauss_runs, sweep_dir):
    page = simulation_page(load_collection(gauss_runs))
    (overview, *_) = _blocks(page, "table")
    assert [row[1] for row in overview.rows] == ["accumulate", "replace"]
    for row in overview.rows:
        summary = json.loads((gauss_runs / row[2] / "summary.json").read_text())
        assert row[-1] == f"{summary['wall_time_s']:.4g}" and not summary["resumed"]
    assert len(_blocks(page, "pre")) == 2
    sweep = simulation_page(load_collection(sweep_dir))
    assert any(b.caption.startswith("sweep.yaml") for b in _blocks(sweep, "pre"))
    overview = _blocks(sweep, "table")[0]
    assert sorted(row[2] for row in overview.rows) == sorted(
        f"policy-{p}_seed-{s}" for p in ("replace", "accumulate") for s in (0, 1)
    )


def test_nan_values_are_noted(tmp_path, gauss_runs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    run = tmp_path / "run"
    shutil.copytree(gauss_runs / "g-replace", run)
    t = pq.read_table(run / "metrics.parquet")
    value = t.column("value").to_numpy().copy()
    is_w2 = np.asarray(t.column("metric").to_pylist()) == "w2"
    value[is_w2] = np.nan
    value[np.flatnonzero(~is_w2)[:3]] = np.inf
    pq.write_table(t.set_column(3, "value", pa.array(value)), run / "metrics.parquet")
    page = simulation_page(load_collection(run))
    notes = " ".join(b.text for b in _blocks(page, "note"))
    assert "w2, replace: no finite value; not plotted." in notes
    assert "variance_ratio, replace: 3 NaN or infinite value(s)" in notes
    assert not _titled(page, "w2") and _titled(page, "variance_ratio")


def test_linear_theory_and_response_histogram(linear_run):
    page = simulation_page(load_collection(linear_run))
    (fig,) = _titled(page, "test_error")
    (theory,) = [t for t in fig["data"] if "theory" in t["name"]]
    g = np.asarray(theory["x"])
    e1 = 1.0**2 * 5 / (40 - 5 - 1)  # sigma^2 d / (T - d - 1)
    np.testing.assert_allclose(theory["y"], (g + 1) * e1)  # replace: E_n = n E_1, n = g + 1 fits
    (hist,) = _titled(page, "generation 0 vs 6")
    assert hist["layout"]["xaxis"]["title"]["text"] == "response y (last column)"


def test_discrete_runs_show_category_shares(categorical_run):
    page = simulation_page(load_collection(categorical_run))
    (fig,) = _titled(page, "category shares")
    bars = {t["name"]: t for t in fig["data"]}
    store = RunStore(categorical_run)
    checkpoints = [store.load_checkpoints(r) for r in range(4)]
    for g in (0, 5):
        codes = np.concatenate([checkpoints[r][g].samples for r in range(4)])
        shares = {str(c): np.mean(codes == c) for c in np.unique(codes)}
        got = dict(zip(bars[f"generation {g}"]["x"], bars[f"generation {g}"]["y"], strict=True))
        assert {k: v for k, v in got.items() if v} == pytest.approx(shares)
