"""Reading run stores, sweeps and measure results: malformed input gives a clear DataError."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError
from modelcollapse.report.bands import band
from modelcollapse.report.load import detect_source, load_collection
from modelcollapse.report.measure_json import load_measure
from modelcollapse.report.measurement import measure_page
from modelcollapse.report.page import render
from modelcollapse.report.simulation import simulation_page

CONFIG = {
    "name": "x",
    "generations": 2,
    "samples_per_generation": 10,
    "data": {"source": "gaussian"},
    "model": {"kind": "gaussian"},
}


def _run_dir(root: Path, table: pa.Table | None, config: object = CONFIG) -> Path:
    run = root / "run"
    run.mkdir(parents=True)
    if config is not None:
        text = config if isinstance(config, str) else yaml.safe_dump(config)
        (run / "config.yaml").write_text(text, encoding="utf-8")
    if table is not None:
        pq.write_table(table, run / "metrics.parquet")
    return run


def _table(gen, rep, metric, value) -> pa.Table:
    return pa.table({
        "generation": pa.array(gen, pa.int64()), "replicate": pa.array(rep, pa.int64()),
        "metric": pa.array(metric, pa.string()), "value": pa.array(value, pa.float64()),
    })  # fmt: skip


GOOD = _table([0, 1, 2], [0, 0, 0], ["m"] * 3, [1.0, 0.5, 0.25])


def test_detect_source(tmp_path, gauss_runs, sweep_dir):
    assert detect_source(gauss_runs / "g-replace") == "run"
    assert detect_source(gauss_runs) == "runs"
    assert detect_source(sweep_dir) == "sweep"
    (tmp_path / "r.json").write_text("{}")
    assert detect_source(tmp_path / "r.json") == "measure"
    with pytest.raises(DataError, match="got nothing there"):
        detect_source(tmp_path / "missing")
    (tmp_path / "x.csv").write_text("a")
    with pytest.raises(DataError, match=r"got a \.csv file"):
        detect_source(tmp_path / "x.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected a run directory"):
        detect_source(tmp_path / "empty")


@pytest.mark.parametrize(
    ("table", "config", "match", "where"),
    [
        (None, CONFIG, "got no file", "metrics.parquet"),
        (GOOD, None, "expected the run's resolved config, got no file", "config.yaml"),
        (GOOD, "name: [unclosed", "expected valid YAML", "config.yaml:"),
        (GOOD, {**CONFIG, "generatons": 3}, "expected a valid experiment config", "config.yaml"),
        (GOOD.slice(0, 0), CONFIG, "got an empty table", "metrics.parquet"),
        (GOOD.drop_columns(["value"]), CONFIG, "missing value", "metrics.parquet"),
        (_table([0, 1], [0, 0], ["m", "m"], [np.nan, np.inf]), CONFIG, "at least one finite", "metrics.parquet"),
        (_table([-1, 0], [0, 0], ["m", "m"], [1.0, 1.0]), CONFIG, "negative", "metrics.parquet"),
        (_table([0, None], [0, 0], ["m", "m"], [1.0, 1.0]), CONFIG, "missing generation", "metrics.parquet"),
        (_table([0, 1], [0, 0], ["m", None], [1.0, 1.0]), CONFIG, "name on every metric row", "metrics.parquet"),
        (GOOD.set_column(3, "value", pa.array(["a", "b", "c"])), CONFIG, "numeric value", "metrics.parquet"),
    ],
)  # fmt: skip
def test_malformed_run_dirs(tmp_path, table, config, match, where):
    run = _run_dir(tmp_path, table, config)
    with pytest.raises(DataError, match=match) as exc:
        load_collection(run)
    assert where in str(exc.value) and "expected" in str(exc.value)


def test_corrupt_parquet_and_summary(tmp_path):
    run = _run_dir(tmp_path, None)
    (run / "metrics.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="expected a Parquet file"):
        load_collection(run)
    pq.write_table(GOOD, run / "metrics.parquet")
    (run / "summary.json").write_text("{oops")
    col = load_collection(run)  # an unreadable summary is a note, not an error
    assert any("summary.json is not valid JSON" in n for n in col.notes)


settings_io = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0]),
)


@settings_io
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3), st.sampled_from(["a", "b"]), values),
        min_size=0, max_size=40,
    ),
)  # fmt: skip
def test_any_metrics_table_loads_or_says_why(rows):
    with tempfile.TemporaryDirectory() as tmp:
        gen, rep, metric, value = (
            (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
        )
        run = _run_dir(Path(tmp), _table(gen, rep, metric, value))
        finite = [v for v in value if np.isfinite(v)]
        if not finite:
            with pytest.raises(DataError, match="expected at least one"):
                load_collection(run)
            return
        col = load_collection(run)
        page = simulation_page(col)  # never raises on NaN or infinite values
        assert page.sections
        rows_ = col.families[0].runs[0].metrics
        for name in set(metric):
            b = band([rows_], name)
            for i, g in enumerate(b.generation):
                vals = np.array(
                    [
                        v
                        for gg, m, v in zip(gen, metric, value, strict=True)
                        if gg == g and m == name
                    ]
                )
                ok = vals[np.isfinite(vals)]
                assert b.n[i] == ok.size and b.n_nonfinite[i] == vals.size - ok.size
                if ok.size:
                    assert b.median[i] == np.quantile(ok, 0.5)
                else:
                    assert np.isnan(b.median[i])


def _graft(value):
    base = {"verdict": "late", "reasons": ["x"], "kind": "numeric", "notes": []}
    metric = {"candidate": 1.0, "reference": 2.0, "ci_low": 0.5, "ci_high": 1.5, "flagged": True,
              "scale": 1.0, "delta_low": -1.5, "delta_high": -0.5, "tolerance": 0.1}  # fmt: skip
    if isinstance(value, dict) and value:
        key = sorted(value)[0]
        return {**base, "metrics": {"m": {**metric, key: value[key]}}}
    return value


@settings_io
@given(doc=st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
        ["verdict", "reasons", "metrics", "kind", "candidate", "reference", "ci_low", "ci_high", "flagged", "m"]
    ), c, max_size=6),
    max_leaves=20,
))  # fmt: skip
def test_any_json_is_a_measure_result_or_a_data_error(doc):
    # Half the time, graft the generated value into an otherwise valid result.
    doc = _graft(doc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        try:
            out = load_measure(path)
        except DataError as exc:
            assert "expected" in str(exc) and str(path) in str(exc)
        else:
            assert set(out["metrics"]) and "verdict" in out
            render(measure_page(out))  # a valid result always makes a page


def test_measure_json_errors(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"verdict": "late",\n "metrics": oops}')
    with pytest.raises(
        DataError, match=r"r.json:2: expected a measure JSON result, got invalid JSON"
    ):
        load_measure(path)
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(DataError, match="UTF-8"):
        load_measure(path)
    path.write_text(
        json.dumps({"verdict": "late", "reasons": [], "kind": "text", "metrics": {"x": {}}})
    )
    with pytest.raises(DataError, match="metric 'x': expected fields"):
        load_measure(path)


def test_sweep_without_results_reads_run_stores(tmp_path, sweep_dir):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy)
    (copy / "results.parquet").unlink()
    col = load_collection(copy)
    assert any("results.parquet is missing" in n for n in col.notes)
    assert len(col.families[0].runs) == 4
    # arms by what differs between the configs but the seed: the seeds pool, as with results
    arms = {a.label: [r.run_id for r in a.runs] for a in col.families[0].arms}
    assert arms == {
        p: [f"policy-{p}_seed-0", f"policy-{p}_seed-1"] for p in ("accumulate", "replace")
    }
    shutil.rmtree(copy / "runs")
    with pytest.raises(DataError, match=r"expected results\.parquet or runs/"):
        load_collection(copy)


def test_sweep_results_without_run_id(tmp_path, sweep_dir):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep_dir, copy)
    t = pq.read_table(copy / "results.parquet").drop_columns(["run_id"])
    pq.write_table(t, copy / "results.parquet")
    with pytest.raises(DataError, match="expected a run_id column"):
        load_collection(copy)
