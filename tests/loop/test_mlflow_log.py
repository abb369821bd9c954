"""--mlflow: params and per-generation metrics logged to a local MLflow store, read back."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from modelcollapse.errors import MissingExtraError
from modelcollapse.loop import mlflow_log
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment

CONFIG = {
    "name": "mlflow-test",
    "seed": 5,
    "generations": 3,
    "replicates": 3,
    "samples_per_generation": 30,
    "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 30}},
    "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
    "policy": {"kind": "accumulate"},
    "metrics": ["variance", "w2"],
}


def test_missing_mlflow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'modelcollapse\[mlflow\]'"):
        mlflow_log.require_mlflow()
    with pytest.raises(MissingExtraError, match=r"modelcollapse\[mlflow\]"):
        mlflow_log.SweepLogger("mlruns", "s", Path("unused"))


def test_tracking_uri_and_params() -> None:
    assert mlflow_log.tracking_uri("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert mlflow_log.tracking_uri("file:///tmp/x") == "file:///tmp/x"
    uri = mlflow_log.tracking_uri("rel/mlruns")
    assert uri.startswith("file:///") and uri.endswith("/rel/mlruns")
    params = mlflow_log.flatten_params(
        {"a": {"b": 1, "c": {"d": "x"}}, "e": [1, 2], "f": {}, "g": "y" * 900}
    )
    assert params["a.b"] == "1" and params["a.c.d"] == "x" and params["e"] == "[1, 2]"
    assert params["f"] == "{}" and len(params["g"]) == mlflow_log.PARAM_VALUE_MAX


@pytest.fixture
def mlflow_client():
    pytest.importorskip("mlflow", reason="the 'mlflow' extra (mlflow-skinny) is not installed")
    return mlflow_log.client


def test_log_run_reads_back(tmp_path: Path, mlflow_client) -> None:
    run_dir = tmp_path / "run"
    run_experiment(parse_config(CONFIG), run_dir, progress=False)
    store = tmp_path / "mlruns"
    rid = mlflow_log.log_run(str(store), run_dir)

    client = mlflow_client(str(store))
    run = client.get_run(rid)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "mlflow-test"
    params = run.data.params
    assert params["policy.kind"] == "accumulate"
    assert params["model.params.estimator"] == "mle"
    assert params["samples_per_generation"] == "30" and params["seed"] == "5"
    assert params["metrics"] == '["variance", "w2"]'

    # Medians over replicates per generation, computed here independently from the run store.
    table = pq.read_table(run_dir / "metrics.parquet")
    gen = table.column("generation").to_numpy()
    rep = table.column("replicate").to_numpy()
    metric = np.asarray(table.column("metric").to_pylist())
    value = table.column("value").to_numpy()
    for name in ("variance", "w2"):
        history = sorted(client.get_metric_history(rid, name), key=lambda m: m.step)
        assert [m.step for m in history] == [0, 1, 2, 3]
        expected = [np.median(value[(metric == name) & (gen == g)]) for g in range(4)]
        np.testing.assert_allclose([m.value for m in history], expected, rtol=1e-12)
        # ... and every replicate (3 <= PER_REPLICATE_MAX).
        for r in range(3):
            logged = sorted(client.get_metric_history(rid, f"{name}.rep_{r}"), key=lambda m: m.step)
            own = value[(metric == name) & (rep == r)][
                np.argsort(gen[(metric == name) & (rep == r)])
            ]
            assert [m.value for m in logged] == own.tolist()
    artifacts = {a.path for a in client.list_artifacts(rid)}
    assert {"config.yaml", "summary.json"} <= artifacts


def test_median_ignores_non_finite() -> None:
    from modelcollapse.loop.results import Metrics

    m = Metrics(
        generation=np.array([0, 0, 0, 1, 1]),
        replicate=np.array([0, 1, 2, 0, 1]),
        metric=np.array(["v"] * 5, dtype=object),
        value=np.array([1.0, np.nan, 3.0, np.inf, np.nan]),
    )
    gens, med = mlflow_log.generation_series(m, "v")
    assert gens.tolist() == [0, 1] and med[0] == 2.0 and np.isnan(med[1])


def test_simulate_cli_logs(tmp_path: Path, mlflow_client) -> None:
    from modelcollapse.cli.app import main

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    store = tmp_path / "mlruns"
    argv = ["simulate", str(cfg), "--out", str(tmp_path / "run"), "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--mlflow", str(store)])
    assert not exc.value.code
    client = mlflow_client(str(store))
    exp = client.get_experiment_by_name("mlflow-test")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.params["policy.kind"] == "accumulate"
    assert run.data.metrics["variance"] > 0  # the last step's value


def test_sweep_logs_each_run_once(tmp_path: Path, mlflow_client) -> None:
    from modelcollapse.sweep import load_sweep, run_sweep

    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {"name": "arms", "config": CONFIG, "grid": {"policy.kind": ["replace", "accumulate"]}}
        ),
        encoding="utf-8",
    )
    store = str(tmp_path / "mlruns")
    spec = load_sweep(sweep)
    res = run_sweep(spec, tmp_path / "out", progress=False, mlflow_uri=store)
    run_sweep(spec, tmp_path / "out", progress=False, mlflow_uri=store)  # resume: no duplicates
    client = mlflow_client(store)
    exp = client.get_experiment_by_name("arms")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(r.run_id for r in res.runs)
    by_name = {r.info.run_name: r for r in runs}
    for run in res.runs:
        logged = by_name[run.run_id]
        assert logged.data.params["policy.kind"] == run.overrides["policy.kind"]
        assert logged.data.tags["sweep.policy.kind"] == run.overrides["policy.kind"]
