"""The general engine: determinism, workers, resume, run store contents, every policy and kind."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment
from modelcollapse.loop.store import RunStore

BASE = {
    "name": "kde",
    "seed": 7,
    "generations": 3,
    "replicates": 3,
    "samples_per_generation": 60,
    "data": {"source": "gaussian", "params": {"n": 60, "n_heldout": 100}},
    "model": {"kind": "kde"},
    "policy": {"kind": "accumulate"},
}
GMM = {"kind": "gmm", "params": {"n_components": 2, "max_iter": 20}}


def _cfg(**over):
    return parse_config({**BASE, **over})


def _run(cfg, path, **kw):
    return run_experiment(cfg, path, progress=False, **kw)


def test_run_store_contents(tmp_path):
    cfg = _cfg()
    res = _run(cfg, tmp_path / "run", checkpoint_every=0)
    run = tmp_path / "run"
    assert res.engine == "general"
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints",
        "config.yaml",
        "metrics.parquet",
        "summary.json",
    ]
    assert parse_config(yaml.safe_load((run / "config.yaml").read_text())) == cfg
    t = pq.read_table(run / "metrics.parquet")
    assert t.column_names == ["generation", "replicate", "metric", "value"]
    assert [str(f.type) for f in t.schema] == ["int64", "int64", "string", "double"]
    rows = t.to_pylist()
    keys = [(r["replicate"], r["generation"], r["metric"]) for r in rows]
    assert keys == sorted(keys)
    assert {r["generation"] for r in rows} == {0, 1, 2, 3}  # generations: 3 -> 0..3
    assert {r["metric"] for r in rows} == {
        "mean",
        "nll",
        "tail_coverage",
        "variance",
        "variance_ratio",
        "w2",
    }
    assert len(rows) == 3 * 4 * 6
    for r in range(3):
        assert sorted(p.name for p in (run / "checkpoints" / f"rep_{r:05d}").iterdir()) == [
            f"gen_{g:04d}.npz" for g in range(4)
        ]
    with np.load(run / "checkpoints" / "rep_00001" / "gen_0002.npz", allow_pickle=False) as z:
        assert any(k.startswith("model/") for k in z.files)
        assert int(z["first"]) == int(z["generation"]) == 2
        assert z["gen_0002/samples"].shape == (60, 1)
        counts = dict(
            zip(
                z["gen_0002/count_names"].tolist(), z["gen_0002/count_values"].tolist(), strict=True
            )
        )
        assert counts == {"n_real": 60, "n_synthetic": 120, "n_fresh": 0, "n_train": 180}
        stored = dict(
            zip(
                z["gen_0002/metric_names"].tolist(),
                z["gen_0002/metric_values"].tolist(),
                strict=True,
            )
        )
    table_vals = {
        r["metric"]: r["value"] for r in rows if r["replicate"] == 1 and r["generation"] == 2
    }
    assert stored == table_vals
    summary = json.loads((run / "summary.json").read_text())
    assert (
        summary["engine"] == "general"
        and summary["model"] == "kde"
        and summary["policy"] == "accumulate"
    )
    assert summary["counts"]["replicates"] == 3 and summary["counts"]["rows"] == 72
    vr = summary["metrics"]["variance_ratio"]
    assert set(vr) == {"generation_0", "generation_3"} and vr["generation_0"]["n"] == 3
    assert summary["policy_counts_last_generation"]["n_synthetic"] == 180


def test_same_seed_same_results_and_different_seed_differs(tmp_path, same_table):
    a = _run(_cfg(), tmp_path / "a")
    b = _run(_cfg(), tmp_path / "b")
    assert same_table(a.metrics, b.metrics)
    assert (tmp_path / "a" / "metrics.parquet").read_bytes() == (
        tmp_path / "b" / "metrics.parquet"
    ).read_bytes()
    c = _run(_cfg(seed=8), tmp_path / "c")
    assert not same_table(a.metrics, c.metrics)


def test_workers_do_not_change_results(tmp_path, same_table):
    # A mixture: its EM initialisation draws from the FIT stream, its sampler from SAMPLE.
    cfg = _cfg(replicates=4, model=GMM, policy={"kind": "fresh", "params": {"lambda": 0.3}})
    one = _run(cfg, tmp_path / "one", workers=1)
    two = _run(cfg, tmp_path / "two", workers=2)
    assert same_table(one.metrics, two.metrics)
    assert (tmp_path / "one" / "metrics.parquet").read_bytes() == (
        tmp_path / "two" / "metrics.parquet"
    ).read_bytes()


def test_replicates_are_independent_of_each_other(tmp_path):
    # Replicate 1 of a 3-replicate run equals replicate 1 of a 2-replicate run.
    three = _run(_cfg(model=GMM), tmp_path / "three").metrics.to_pylist()
    two = _run(_cfg(model=GMM, replicates=2), tmp_path / "two").metrics.to_pylist()
    pick = lambda rows: [r for r in rows if r["replicate"] == 1]  # noqa: E731
    assert pick(three) == pick(two)


def test_checkpoint_files_batch_generations_without_changing_results(tmp_path, same_table):
    cfg = _cfg(policy={"kind": "filtered", "params": {"keep": 0.8, "base": "accumulate"}})
    every = _run(cfg, tmp_path / "every", checkpoint_every=0)
    batched = _run(cfg, tmp_path / "batched", checkpoint_every=1e9)
    assert same_table(every.metrics, batched.metrics)
    # Generation 0 alone (the reference model), then generations 1..3 in the last file.
    for r in range(3):
        folder = tmp_path / "batched" / "checkpoints" / f"rep_{r:05d}"
        assert sorted(p.name for p in folder.iterdir()) == ["gen_0000.npz", "gen_0003.npz"]
    store = RunStore(tmp_path / "batched")
    cks = store.load_checkpoints(1)
    assert [c.generation for c in cks] == [0, 1, 2, 3]
    assert [c.model_state is not None for c in cks] == [True, False, False, True]
    per_gen = RunStore(tmp_path / "every").load_checkpoints(1)
    for a, b in zip(cks, per_gen, strict=True):
        np.testing.assert_array_equal(a.samples, b.samples)
        assert a.counts == b.counts and a.metrics == b.metrics
    assert store.checkpoint_holding(1, 2).name == "gen_0003.npz"
    assert store.checkpoint_holding(1, 4) is None
    # A kill that loses the batched file resumes after generation 0 to the same table.
    (tmp_path / "batched" / "metrics.parquet").unlink()
    (tmp_path / "batched" / "summary.json").unlink()
    (tmp_path / "batched" / "checkpoints" / "rep_00002" / "gen_0003.npz").unlink()
    resumed = _run(cfg, tmp_path / "batched", resume=True, checkpoint_every=0.5)
    assert resumed.resumed and same_table(every.metrics, resumed.metrics)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1", True])
def test_bad_checkpoint_interval_is_refused_before_writing(tmp_path, bad):
    with pytest.raises(InvalidParameterError, match="checkpoint_every"):
        _run(_cfg(), tmp_path / "run", checkpoint_every=bad)
    assert not (tmp_path / "run").exists()


def test_resume_after_partial_run_is_identical(tmp_path, same_table):
    cfg = _cfg(policy={"kind": "filtered", "params": {"keep": 0.8, "base": "accumulate"}})
    full = _run(cfg, tmp_path / "full")
    part = tmp_path / "part"
    _run(cfg, part, checkpoint_every=0)
    # Make it look killed: replicate 0 lost its last generation, replicate 2 everything after
    # generation 0, and the final outputs are gone.
    (part / "metrics.parquet").unlink()
    (part / "summary.json").unlink()
    (part / "checkpoints" / "rep_00000" / "gen_0003.npz").unlink()
    for g in (1, 2, 3):
        (part / "checkpoints" / "rep_00002" / f"gen_{g:04d}.npz").unlink()
    (part / "checkpoints" / "rep_00002" / ".gen_0001.npz.tmp-999").write_bytes(b"half")
    res = _run(cfg, part, resume=True)
    assert res.resumed and res.summary["resumed"]
    assert same_table(full.metrics, pq.read_table(part / "metrics.parquet"))
    assert not list(part.rglob(".*.tmp*"))
    # The filter's counts survive the resume too.
    counts = RunStore(part).load_checkpoints(2)[2].counts
    assert counts["n_rejected"] == 12 and counts["n_kept"] == 48
    assert counts["n_synthetic"] == 2 * 48 and counts["n_real"] == 60


def test_resume_refuses_a_different_config(tmp_path):
    _run(_cfg(), tmp_path / "run")
    with pytest.raises(InvalidParameterError, match="'seed' differs"):
        _run(_cfg(seed=99), tmp_path / "run", resume=True)
    with pytest.raises(InvalidParameterError, match="already holds a run"):
        _run(_cfg(), tmp_path / "run")


def test_invalid_configs_fail_before_writing(tmp_path):
    cases = [
        (_cfg(policy={"kind": "replase"}), "did you mean 'replace'"),
        (_cfg(metrics=["varaince"]), "did you mean 'variance'"),
        (_cfg(model={"kind": "categorical"}), "expects discrete data"),
        (_cfg(model={"kind": "gausian"}), "did you mean 'gaussian'"),
        (_cfg(policy={"kind": "fresh", "params": {"lambda": 2}}), "lambda"),
    ]
    for i, (cfg, msg) in enumerate(cases):
        with pytest.raises(InvalidParameterError, match=msg):
            _run(cfg, tmp_path / f"bad{i}")
        assert not (tmp_path / f"bad{i}").exists()
    with pytest.raises(InvalidParameterError, match="workers"):
        _run(_cfg(), tmp_path / "w", workers=0)


def test_text_pipeline_saves_samples_with_provenance(tmp_path):
    from modelcollapse.data.readers import read_documents

    cfg = parse_config(
        {
            "name": "kjv",
            "generations": 2,
            "samples_per_generation": 30,
            "data": {"source": "kjv", "params": {"n_docs": 60, "n_heldout": 20}},
            "model": {"kind": "ngram", "params": {"n": 2}},
            "policy": {"kind": "fresh", "params": {"lambda": 0.5}},
            "save_samples": True,
        }
    )
    res = _run(cfg, tmp_path / "run")
    assert {r["metric"] for r in res.metrics.to_pylist()} >= {"vocab_size", "perplexity"}
    docs = read_documents(tmp_path / "run" / "samples" / "rep_00000" / "gen_0001.jsonl").documents
    assert len(docs) == 30
    prov = docs[0].metadata["provenance"]
    assert (
        prov["source"] == "synthetic" and prov["generator"] == "ngram" and prov["generation"] == 1
    )
    store = RunStore(tmp_path / "run")
    cks = store.load_checkpoints(0)
    assert [d.text for d in docs] == cks[1].samples
    assert cks[2].counts == {"n_real": 0, "n_synthetic": 15, "n_fresh": 15, "n_train": 30}


def test_categorical_gets_the_true_support_size(tmp_path):
    cfg = parse_config(
        {
            "name": "cat",
            "generations": 4,
            "samples_per_generation": 20,
            "data": {
                "source": "categorical",
                "params": {"probs": [0.5, 0.3, 0.15, 0.04, 0.01], "n": 20},
            },
            "model": {"kind": "categorical"},
            "save_samples": True,
        }
    )
    res = _run(cfg, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    assert store.load_checkpoints(0)[-1].model_state["probs_"].shape == (5,)
    assert (tmp_path / "run" / "samples" / "rep_00000" / "gen_0004.npy").is_file()
    assert "lost_mass" in {r["metric"] for r in res.metrics.to_pylist()}


@pytest.mark.parametrize("policy", ["replace", "accumulate-subsample"])
def test_linear_regression_runs(tmp_path, policy):
    cfg = parse_config(
        {
            "name": "lin",
            "generations": 2,
            "replicates": 2,
            "samples_per_generation": 40,
            "data": {"source": "linear", "params": {"n": 40, "d": 3}},
            "model": {"kind": "linear"},
            "policy": {"kind": policy},
        }
    )
    res = _run(cfg, tmp_path / "run")
    assert {r["metric"] for r in res.metrics.to_pylist()} == {"test_error"}


def test_filter_that_rejects_everything_is_a_clear_error(tmp_path):
    cfg = _cfg(
        model={"kind": "gaussian"},
        policy={"kind": "filtered", "params": {"selector": "threshold", "min_log_prob": 100.0}},
    )
    with pytest.raises(DataError, match="rejected every synthetic sample"):
        _run(cfg, tmp_path / "run")


def test_progress_bar_runs_on_both_engines(tmp_path, capsys):
    run_experiment(_cfg(replicates=2, generations=1), tmp_path / "g", progress=True)
    run_experiment(_cfg(model={"kind": "gaussian"}, generations=1), tmp_path / "v", progress=True)
    out = capsys.readouterr().out
    assert "kde / accumulate" in out and "vectorised" in out


def test_module_entry_point(tmp_path):
    from modelcollapse.loop.runner import main

    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump({**BASE, "generations": 1, "replicates": 1}))
    assert main([str(cfg_path), str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "metrics.parquet").is_file()
    cfg_path.write_text(yaml.safe_dump({**BASE, "generations": 0}))
    assert main([str(cfg_path), str(tmp_path / "bad")]) == 2
