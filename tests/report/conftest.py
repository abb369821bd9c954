"""Small runs, built once per session, that the report tests read.

Everything is real: run directories come from ``run_experiment``; the sweep directory has the
layout ``modelcollapse sweep`` writes (``results.parquet`` with ``run_id`` and the swept keys as
columns, ``runs/<run_id>/``, ``sweep.yaml``), assembled here by hand so these tests do not
depend on the sweep runner.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment

GAUSS = {
    "seed": 0,
    "generations": 12,
    "replicates": 60,
    "samples_per_generation": 40,
    "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 40}},
    "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
    "metrics": ["variance_ratio", "w2"],
}
TEXT = {
    "seed": 0,
    "generations": 3,
    "replicates": 1,
    "samples_per_generation": 120,
    "data": {"source": "kjv", "params": {"n_docs": 120, "n_heldout": 30}},
    "model": {"kind": "ngram", "params": {"n": 2}},
    "metrics": ["vocab_size", "distinct_2"],
}


def make_run(root: Path, name: str, base: dict, **overrides) -> Path:
    """Run ``base`` with ``overrides`` (top-level keys) into ``root/name``."""
    cfg = parse_config({**base, "name": name, **overrides})
    run_experiment(cfg, root / name, progress=False)
    return root / name


@pytest.fixture(scope="session")
def gauss_runs(tmp_path_factory) -> Path:
    """A folder of two vectorised Gaussian runs: replace and accumulate."""
    root = tmp_path_factory.mktemp("gauss_runs")
    for policy in ("replace", "accumulate"):
        make_run(root, f"g-{policy}", GAUSS, policy={"kind": policy})
    return root


@pytest.fixture(scope="session")
def text_run(tmp_path_factory) -> Path:
    """A bigram model on KJV verses, general engine (samples in its checkpoints)."""
    return make_run(tmp_path_factory.mktemp("text"), "t-replace", TEXT)


@pytest.fixture(scope="session")
def sampled_run(tmp_path_factory) -> Path:
    """A 2-D Gaussian on the general engine with save_samples."""
    base = {
        **GAUSS,
        "generations": 4,
        "replicates": 3,
        "data": {"source": "gaussian", "params": {"mean": [0, 0], "std": [1, 2], "n": 60}},
        "save_samples": True,
        "metrics": ["variance", "w2"],
    }
    return make_run(tmp_path_factory.mktemp("sampled"), "g2d", base, samples_per_generation=60)


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory) -> Path:
    """A sweep over policy.kind x seed (4 runs), in the layout of ``modelcollapse sweep``."""
    root = tmp_path_factory.mktemp("sweep")
    tables, run_ids, keys = [], [], []
    for policy in ("replace", "accumulate"):
        for seed in (0, 1):
            run_id = f"policy-{policy}_seed-{seed}"
            base = {**GAUSS, "generations": 6, "replicates": 20}
            make_run(root / "runs", run_id, base, policy={"kind": policy}, seed=seed)
            t = pq.read_table(root / "runs" / run_id / "metrics.parquet")
            tables.append(t)
            run_ids += [run_id] * t.num_rows
            keys += [(policy, seed)] * t.num_rows
    metrics = pa.concat_tables(tables)
    table = pa.table(
        {
            "run_id": pa.array(run_ids),
            "policy.kind": pa.array([k[0] for k in keys]),
            "seed": pa.array([k[1] for k in keys], pa.int64()),
            **{name: metrics.column(name) for name in metrics.column_names},
        }
    )
    meta = {b"modelcollapse.swept_keys": json.dumps(["policy.kind", "seed"]).encode()}
    pq.write_table(table.replace_schema_metadata(meta), root / "results.parquet")
    sweep = {"base": "gaussian", "grid": {"policy.kind": ["replace", "accumulate"], "seed": [0, 1]}}
    (root / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    return root


def read_long(path: Path) -> dict[str, np.ndarray]:
    """A metrics Parquet as plain numpy columns, read independently of the report package."""
    t = pq.read_table(path)
    return {
        "generation": t.column("generation").to_numpy(),
        "replicate": t.column("replicate").to_numpy(),
        "metric": np.asarray(t.column("metric").to_pylist(), dtype=object),
        "value": t.column("value").to_numpy(),
    }


@pytest.fixture(scope="session")
def linear_run(tmp_path_factory) -> Path:
    """Linear regression under replace, the setting of Gerstgrasser et al.'s Theorem 1."""
    base = {
        "seed": 0,
        "generations": 6,
        "replicates": 40,
        "samples_per_generation": 40,
        "data": {"source": "linear", "params": {"n": 40, "d": 5, "noise": 1.0}},
        "model": {"kind": "linear", "params": {"noise": 1.0}},
        "metrics": ["test_error"],
    }
    return make_run(tmp_path_factory.mktemp("linear"), "lin", base)


@pytest.fixture(scope="session")
def categorical_run(tmp_path_factory) -> Path:
    base = {
        "seed": 0,
        "generations": 5,
        "replicates": 4,
        "samples_per_generation": 30,
        "data": {"source": "categorical", "params": {"probs": [0.5, 0.3, 0.15, 0.05], "n": 30}},
        "model": {"kind": "categorical"},
    }
    return make_run(tmp_path_factory.mktemp("categorical"), "cat", base)
