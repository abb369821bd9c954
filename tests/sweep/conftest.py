"""Small sweeps for the sweep tests: inline configs, a few seconds at most."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from tests.common.tables import tables_identical


def small_config(*, general: bool = False, generations: int = 4) -> dict[str, Any]:
    """A 1-D Gaussian chain. ``general`` adds a metric without a batched closed form, so the
    run goes through the general (per-replicate, checkpointed) engine."""
    metrics = ["variance", "w2"] + (["extreme_quantile_ratio"] if general else [])
    return {
        "name": "sweep-test",
        "seed": 0,
        "generations": generations,
        "replicates": 3,
        "samples_per_generation": 40,
        "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 40}},
        "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
        "metrics": metrics,
    }


def write_sweep(path: Path, *, config: dict[str, Any] | None = None, **sections: Any) -> Path:
    """Write a sweep file with an inline ``config`` (default :func:`small_config`)."""
    doc = {"config": config or small_config(), **sections}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def identical(a: pa.Table, b: pa.Table) -> bool:
    """Bit-for-bit equality (``Table.equals`` treats NaN != NaN), schema metadata included."""
    return a.schema.metadata == b.schema.metadata and tables_identical(a, b)


@pytest.fixture
def grid_sweep(tmp_path: Path) -> Path:
    """2 policies x 2 seeds = 4 runs."""
    return write_sweep(
        tmp_path / "sweep.yaml",
        grid={"policy.kind": ["replace", "accumulate"], "seed": [0, 1]},
    )
