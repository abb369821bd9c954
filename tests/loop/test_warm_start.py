"""Warm starts and safetensors checkpoints in the general engine.

A tiny generator registered here records, in its state, how many ``fit`` calls its weights have
been through: with ``warm_start`` every generation continues from the previous one, without it
every generation starts from scratch. It also asks for safetensors checkpoints, as the neural
generators do.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pytest

from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.registry import register
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment
from modelcollapse.loop.store import RunStore

pytest.importorskip("safetensors", reason="safetensors (the torch extra) is not installed")


@register
class _WarmCounter(Generator):
    """Mean-of-data model whose state counts the fits it has accumulated."""

    kind = "test-warm-counter"
    data_kind = "numeric"
    checkpoint_format = "safetensors"

    def __init__(self, *, warm_start: bool = False):
        self.warm_start = warm_start

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        data = np.asarray(data, dtype=np.float64)
        if self.warm_start and self.is_fitted:
            self.fits_ = self.fits_ + 1
            self.mean_ = 0.5 * (self.mean_ + data.mean(axis=0))
        else:
            self.fits_ = np.asarray(1, dtype=np.int64)
            self.mean_ = data.mean(axis=0)
        return self

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        n, rng = check_n(n), check_rng(rng)
        return self.mean_ + rng.standard_normal((n, self.mean_.size))

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        return self.mean_.copy(), np.eye(self.mean_.size)

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"fits": np.asarray(self.fits_, dtype=np.int64), "mean": self.mean_.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        self.fits_ = np.asarray(state["fits"], dtype=np.int64)
        self.mean_ = np.asarray(state["mean"], dtype=np.float64)
        return self


def _cfg(warm: bool) -> dict:
    return {
        "generations": 4,
        "replicates": 2,
        "samples_per_generation": 50,
        "data": {"source": "gaussian", "params": {"n": 50, "mean": [0.0, 1.0]}},
        "model": {"kind": "test-warm-counter", "params": {"warm_start": warm}},
        "metrics": ["mean"],
    }


def _fits(root, replicate: int) -> list[int]:
    return [int(ck.model_state["fits"]) for ck in RunStore(root).load_checkpoints(replicate)]


@pytest.mark.parametrize("warm", [True, False])
def test_warm_start_continues_from_the_previous_generation(tmp_path, warm):
    run_experiment(parse_config(_cfg(warm)), tmp_path / "run", progress=False, checkpoint_every=0)
    expected = [1, 2, 3, 4, 5] if warm else [1, 1, 1, 1, 1]
    assert _fits(tmp_path / "run", 0) == expected
    assert _fits(tmp_path / "run", 1) == expected
    folder = RunStore(tmp_path / "run").replicate_dir(0)
    weights = sorted(p.name for p in folder.glob("*.safetensors"))
    assert weights == [f"gen_{g:04d}.model.safetensors" for g in range(5)]
    # The weights live in the safetensors file, not in the npz.
    with np.load(folder / "gen_0000.npz", allow_pickle=False) as z:
        assert not any(k.startswith("model/") for k in z.files)


def test_resume_continues_a_warm_chain_identically(tmp_path, same_table):
    full = run_experiment(parse_config(_cfg(True)), tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_experiment(parse_config(_cfg(True)), part, progress=False, checkpoint_every=0)
    folder = RunStore(part).replicate_dir(1)
    # Generation 3's weights are damaged and generation 4 never finished: both are recomputed
    # from generation 2's weights.
    (folder / "gen_0003.model.safetensors").write_bytes(b"not a safetensors file")
    (folder / "gen_0004.npz").unlink()
    resumed = run_experiment(
        parse_config(_cfg(True)), part, resume=True, progress=False, checkpoint_every=0
    )
    assert _fits(part, 1) == [1, 2, 3, 4, 5]
    assert same_table(resumed.metrics, full.metrics)
