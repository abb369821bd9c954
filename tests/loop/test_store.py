"""Run store: atomic writes, checkpoints that survive kills, config checks, metric tables."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.config import parse_config
from modelcollapse.loop.store import Checkpoint, RunStore, atomic_file, load_npz, metrics_table

CFG = {
    "name": "store",
    "seed": 3,
    "generations": 2,
    "samples_per_generation": 5,
    "data": {"source": "gaussian"},
    "model": {"kind": "gaussian"},
}


def _record(g: int, samples) -> Checkpoint:
    return Checkpoint(g, samples, {"b": 2.0 * g, "a": float("nan")}, {"n_train": 10 + g})


def _write(store: RunStore, r: int, g: int, samples, *, first: int | None = None) -> None:
    """Generations ``first..g`` (default: ``g`` alone) in one file, each with ``samples``."""
    store.write_checkpoint(
        r,
        [_record(k, samples) for k in range(g if first is None else first, g + 1)],
        model_state={"mean_": np.array([float(g)]), "cov_": np.eye(1)},
    )


def test_checkpoint_roundtrip_arrays_and_text(tmp_path):
    store = RunStore(tmp_path)
    _write(store, 0, 0, np.arange(6.0).reshape(3, 2))
    _write(store, 0, 1, np.arange(4.0).reshape(2, 2))
    _write(store, 7, 0, ["ünïcode verse", "", "x" * 5000])
    cks = store.load_checkpoints(0)
    assert [c.generation for c in cks] == [0, 1]
    np.testing.assert_array_equal(cks[1].samples, np.arange(4.0).reshape(2, 2))
    assert cks[1].model_state["mean_"].tolist() == [1.0]
    assert cks[1].metrics["b"] == 2.0 and np.isnan(cks[1].metrics["a"])
    assert cks[1].counts == {"n_train": 11}
    text = store.load_checkpoints(7)[0].samples
    assert text == ["ünïcode verse", "", "x" * 5000] and isinstance(text, list)
    # Stored without pickle: loading with allow_pickle=False works.
    with np.load(store.replicate_dir(7) / "gen_0000.npz", allow_pickle=False) as z:
        assert z["gen_0000/samples"].dtype.kind == "U"
    assert store.load_checkpoints(3) == []


def test_empty_text_and_object_arrays(tmp_path):
    store = RunStore(tmp_path)
    _write(store, 0, 0, [])
    assert store.load_checkpoints(0)[0].samples == []
    with pytest.raises(InvalidParameterError, match="object array"):
        store.write_checkpoint(0, [_record(1, [])], model_state={"x": np.array([object()])})
    for gens in ([], [1, 3], [2, 1]):
        with pytest.raises(InvalidParameterError, match="consecutive generations"):
            store.write_checkpoint(0, [_record(g, []) for g in gens], model_state={})


def test_batched_checkpoint_files(tmp_path):
    store = RunStore(tmp_path)
    _write(store, 0, 0, np.zeros((2, 1)))
    _write(store, 0, 4, np.ones((3, 1)), first=1)
    _write(store, 0, 6, [], first=5)
    cks = store.load_checkpoints(0)
    assert [c.generation for c in cks] == list(range(7))
    # Only the last generation of each file (and generation 0) has its model.
    assert [c.model_state is not None for c in cks] == [1, 0, 0, 0, 1, 0, 1]
    assert cks[4].model_state["mean_"].tolist() == [4.0]
    assert cks[3].counts == {"n_train": 13} and cks[3].metrics["b"] == 6.0
    assert cks[6].samples == [] and cks[2].samples.shape == (3, 1)
    assert [store.checkpoint_holding(0, g).name for g in (0, 1, 4, 5, 6)] == [
        "gen_0000.npz",
        "gen_0004.npz",
        "gen_0004.npz",
        "gen_0006.npz",
        "gen_0006.npz",
    ]
    assert store.checkpoint_holding(0, 7) is None and store.checkpoint_holding(5, 0) is None


def test_checkpoints_that_do_not_chain_are_dropped(tmp_path):
    store = RunStore(tmp_path)
    # Generation 0 must be alone in the first file (it holds the reference model).
    _write(store, 0, 2, np.zeros((2, 1)), first=0)
    assert store.load_checkpoints(0) == []
    assert list(store.replicate_dir(0).iterdir()) == []
    # Overlapping ranges: 0, 1..3, then 2..5 does not start at 4.
    _write(store, 1, 0, np.zeros((2, 1)))
    _write(store, 1, 3, np.zeros((2, 1)), first=1)
    _write(store, 1, 5, np.zeros((2, 1)), first=2)
    assert [c.generation for c in store.load_checkpoints(1)] == [0, 1, 2, 3]
    assert sorted(p.name for p in store.replicate_dir(1).iterdir()) == [
        "gen_0000.npz",
        "gen_0003.npz",
    ]
    # A file whose members are missing or mislabelled counts as damaged.
    arrays = load_npz(store.replicate_dir(1) / "gen_0003.npz")
    del arrays["gen_0002/metric_values"]
    np.savez(store.replicate_dir(1) / "gen_0003.npz", **arrays)
    assert [c.generation for c in store.load_checkpoints(1)] == [0]


def test_corrupt_or_gapped_checkpoints_are_dropped(tmp_path):
    store = RunStore(tmp_path)
    for g in range(4):
        _write(store, 0, g, np.zeros((2, 1)))
    (store.replicate_dir(0) / "gen_0002.npz").write_bytes(b"PK\x03\x04 truncated")
    assert [c.generation for c in store.load_checkpoints(0)] == [0, 1]
    # The unreadable file and everything after it are removed: they will be recomputed.
    assert sorted(p.name for p in store.replicate_dir(0).iterdir()) == [
        "gen_0000.npz",
        "gen_0001.npz",
    ]
    _write(store, 0, 3, np.zeros((2, 1)))  # a gap: generation 2 missing
    assert [c.generation for c in store.load_checkpoints(0)] == [0, 1]


def test_atomic_file_leaves_nothing_on_error_and_cleanup_removes_leftovers(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    with pytest.raises(RuntimeError), atomic_file(target) as fh:
        fh.write(b"half")
        raise RuntimeError("killed")
    assert not target.exists() and list(target.parent.iterdir()) == []
    # What a SIGKILL leaves behind: a temporary file, never a partial final file.
    store = RunStore(tmp_path)
    leftovers = [
        tmp_path / "checkpoints" / "rep_00000" / ".gen_0003.npz.tmp-4242",
        tmp_path / "samples" / "rep_00000" / ".gen_0001.jsonl.ab12cd.tmp",
        tmp_path / ".metrics.parquet.tmp-7",
    ]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"partial")
    keep = tmp_path / "notes.tmp"
    keep.write_text("user file")
    assert store.clean_temporaries() == 3
    assert not any(p.exists() for p in leftovers) and keep.exists()


def test_load_npz_refuses_pickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    assert load_npz(path) is None  # allow_pickle=False refuses the object array


def test_prepare_writes_config_and_checks_it_on_resume(tmp_path):
    cfg = parse_config(CFG)
    store = RunStore(tmp_path / "run")
    assert store.prepare(cfg, resume=False) is False
    assert "seed: 3" in store.config_path.read_text()
    with pytest.raises(InvalidParameterError, match="already holds a run"):
        store.prepare(cfg, resume=False)
    assert store.prepare(cfg, resume=True) is True
    other = parse_config({**CFG, "generations": 5})
    with pytest.raises(InvalidParameterError, match=r"'generations' differs \(stored 2, given 5\)"):
        store.prepare(other, resume=True)
    params = parse_config({**CFG, "model": {"kind": "gaussian", "params": {"scale": 0.5}}})
    with pytest.raises(InvalidParameterError, match=r"model\.params\.scale"):
        store.prepare(params, resume=True)
    # Resuming a directory with no run in it starts a new run.
    assert RunStore(tmp_path / "new").prepare(cfg, resume=True) is False


def test_metrics_table_sorted_long_format(tmp_path):
    names = ["w2", "mean"]
    t = metrics_table(
        np.array([1, 0, 0, 1]),
        np.array([0, 1, 0, 0]),
        np.array([0, 1, 1, 1]),
        names,
        np.array([1.0, 2.0, 3.0, 4.0]),
    )
    assert t.column_names == ["generation", "replicate", "metric", "value"]
    assert t.to_pylist() == [
        {"generation": 0, "replicate": 0, "metric": "mean", "value": 3.0},
        {"generation": 1, "replicate": 0, "metric": "mean", "value": 4.0},
        {"generation": 1, "replicate": 0, "metric": "w2", "value": 1.0},
        {"generation": 0, "replicate": 1, "metric": "mean", "value": 2.0},
    ]
    store = RunStore(tmp_path)
    store.write_metrics(t)
    assert pq.read_table(store.metrics_path).equals(t)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.parquet"]


def test_summary_is_strict_json(tmp_path):
    store = RunStore(tmp_path)
    store.write_summary({"x": None, "y": [1.5]})
    assert json.loads(store.summary_path.read_text()) == {"x": None, "y": [1.5]}
    with pytest.raises(ValueError):
        store.write_summary({"x": float("nan")})
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_samples_written_with_provenance(tmp_path):
    from modelcollapse.data.readers import read_documents

    store = RunStore(tmp_path)
    path = store.write_samples(2, 5, ["in the beginning", "and"], model_kind="ngram")
    assert path.name == "gen_0005.jsonl" and path.parent.name == "rep_00002"
    docs = read_documents(path).documents
    assert [d.text for d in docs] == ["in the beginning", "and"]
    prov = docs[0].metadata["provenance"]
    assert (
        prov["source"] == "synthetic" and prov["generator"] == "ngram" and prov["generation"] == 5
    )
    arr = store.write_samples(2, 5, np.ones((3, 2)), model_kind="gaussian")
    assert arr.suffix == ".npy"
    np.testing.assert_array_equal(np.load(arr, allow_pickle=False), np.ones((3, 2)))
    assert not [n for n in os.listdir(path.parent) if n.startswith(".")]


def test_a_run_killed_while_writing_its_config_starts_cleanly(tmp_path):
    """Only ``.config.yaml.tmp-PID`` is left; a new run removes it and nothing else."""
    cfg = parse_config(CFG)
    stale = tmp_path / ".config.yaml.tmp-31337"
    stale.write_bytes(b"name: half")
    other = tmp_path / ".notes.tmp"  # not the run's: left alone
    other.write_text("user file")
    assert RunStore(tmp_path).prepare(cfg, resume=False) is False
    assert not stale.exists() and other.exists()
    RunStore(tmp_path).check_config(cfg)  # the config written is the run's
