"""load_real: shapes, truth, determinism per (seed, replicate), fresh draws, parameter errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelcollapse.data.bundled import kjv_split
from modelcollapse.data.sources import RealData, load_real
from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.config import DataConfig


def real(source: str, seed: int = 0, replicate: int = 0, **params) -> RealData:
    return load_real(DataConfig(source=source, params=params), seed=seed, replicate=replicate)


def same(a, b) -> bool:
    return a == b if isinstance(a, list) else np.array_equal(a, b)


SYNTHETIC = [
    ("gaussian", {"mean": [1.0, -1.0], "std": [1.0, 2.0]}),
    ("categorical", {"probs": [0.2, 0.3, 0.5]}),
    ("linear", {"d": 3}),
]
DATASETS = [("kjv", {"n_docs": 50, "n_heldout": 20}), ("digits", {"n": 40, "n_heldout": 30})]


@pytest.mark.parametrize(("source", "params"), SYNTHETIC)
def test_synthetic_sources_are_deterministic_and_differ_across_replicates(source, params):
    a, b = real(source, 3, 1, **params), real(source, 3, 1, **params)
    assert same(a.train, b.train) and same(a.heldout, b.heldout)
    c = real(source, 3, 2, **params)
    assert not same(a.train, c.train) and not same(a.heldout, c.heldout)
    assert not same(a.train, real(source, 4, 1, **params).train)
    assert not same(a.train[:50], a.heldout[:50])  # different streams


@pytest.mark.parametrize(("source", "params"), DATASETS)
def test_datasets_are_identical_across_replicates(source, params):
    a, b = real(source, 5, 0, **params), real(source, 5, 3, **params)
    assert same(a.train, b.train) and same(a.heldout, b.heldout) and a.truth is None
    assert not same(a.train, real(source, 6, 0, **params).train)  # the seed picks the subsample


def test_gaussian_shapes_truth_and_fresh():
    r = real("gaussian", mean=[0.0, 5.0], cov=[[2.0, 0.5], [0.5, 1.0]], n=4000, n_heldout=10)
    assert r.data_kind == "numeric" and r.train.shape == (4000, 2) and r.heldout.shape == (10, 2)
    np.testing.assert_allclose(r.train.mean(axis=0), [0.0, 5.0], atol=0.1)
    np.testing.assert_allclose(np.cov(r.train.T), r.truth["cov"], atol=0.15)
    fresh = r.fresh(7, np.random.default_rng(0))
    assert fresh.shape == (7, 2)
    assert np.array_equal(fresh, r.fresh(7, np.random.default_rng(0)))
    scalar = real("gaussian")
    assert scalar.train.shape == (100, 1) and scalar.truth["cov"].tolist() == [[1.0]]
    singular = real("gaussian", cov=[[1.0, 1.0], [1.0, 1.0]], n=20)
    np.testing.assert_allclose(singular.train[:, 0], singular.train[:, 1], atol=1e-9)


def test_categorical_and_linear():
    r = real("categorical", probs=[0.0, 1.0], n=50, n_heldout=5)
    assert r.data_kind == "discrete" and r.train.dtype == np.int64
    assert r.train.tolist() == [1] * 50 and r.fresh(3, np.random.default_rng(1)).tolist() == [1] * 3
    lin = real("linear", n=3000, d=4, noise=0.5)
    assert lin.data_kind == "regression" and lin.train.shape == (3000, 5)
    assert lin.truth["coef"].shape == (4,) and float(lin.truth["noise"]) == 0.5
    X, y = lin.train[:, :-1], lin.train[:, -1]
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(coef, lin.truth["coef"], atol=0.05)
    assert np.std(y - X @ lin.truth["coef"]) == pytest.approx(0.5, rel=0.05)
    other = real("linear", replicate=1, d=4)
    assert not np.array_equal(other.truth["coef"], lin.truth["coef"])  # w* per replicate


def test_kjv_source_comes_from_the_right_pools():
    r = real("kjv", n_docs=200, n_heldout=100)
    assert r.data_kind == "text" and len(r.train) == 200 and len(r.heldout) == 100
    train_docs, held_docs = kjv_split()
    train_pool, held_pool = {d.text for d in train_docs}, {d.text for d in held_docs}
    assert set(r.train) <= train_pool and set(r.heldout) <= held_pool
    fresh = r.fresh(300, np.random.default_rng(0))
    assert len(fresh) == 300 and set(fresh) <= train_pool and not set(fresh) <= set(r.train)
    default = real("kjv")
    assert (len(default.train), len(default.heldout)) == (5000, 1000)


def test_digits_source_defaults_to_the_whole_split():
    r = real("digits")
    assert r.train.shape == (1438, 64) and r.heldout.shape == (359, 64)
    r.train[0, 0] = 99.0  # callers get copies, not the cached arrays
    assert real("digits").train[0, 0] != 99.0
    assert r.fresh(2000, np.random.default_rng(0)).shape == (2000, 64)  # with replacement


def test_path_source(tmp_path, monkeypatch):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(50)) + "oops\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Exception, match=r"corpus\.jsonl:51"):
        real("path", path="corpus.jsonl")
    r = real("path", path="corpus.jsonl", on_error="skip", heldout_fraction=0.2)
    assert r.data_kind == "text" and len(r.train) == 40 and len(r.heldout) == 10
    assert not set(r.train) & set(r.heldout) and r.n_bad == 1
    assert same(
        r.train, real("path", 9, 4, path=str(path), on_error="skip", heldout_fraction=0.2).train
    )
    assert len(real("path", path="corpus.jsonl", on_error="skip", n=5).train) == 5
    npy = tmp_path / "x.npy"
    np.save(npy, np.arange(40.0).reshape(20, 2))
    r = real("path", path=str(npy))
    assert r.data_kind == "numeric" and r.train.shape == (18, 2) and r.heldout.shape == (2, 2)
    labels = tmp_path / "y.txt"
    labels.write_text("a\nb\n" * 10)
    assert real("path", path=str(labels), kind="discrete").train.dtype == np.int64


@pytest.mark.parametrize(
    ("source", "params", "message"),
    [
        ("gaussian", {"meen": 1}, r"data\.params\.meen: unknown parameter .*did you mean 'mean'"),
        (
            "gaussian",
            {"cov": [[1, 2], [2, 1]]},
            r"data\.params\.cov: expected a positive semi-definite",
        ),
        ("gaussian", {"cov": [[1, 0.5], [0, 1]]}, r"data\.params\.cov: expected a symmetric"),
        ("gaussian", {"cov": [[1, 0, 0]]}, r"data\.params\.cov: expected a square"),
        ("gaussian", {"mean": [0, 0, 0], "std": [1, 1]}, "mean of dimension 3, std of dimension 2"),
        ("gaussian", {"std": 1, "cov": [[1]]}, "one of cov or std, got both"),
        ("gaussian", {"std": -1}, r"data\.params\.std: expected non-negative"),
        ("gaussian", {"mean": "zero"}, r"data\.params\.mean: expected a number or a list"),
        ("gaussian", {"mean": [0, float("nan")]}, r"data\.params\.mean: expected .* finite"),
        ("gaussian", {"n": 0}, r"data\.params\.n: expected an integer >= 1, got 0"),
        ("gaussian", {"n": 2.5}, r"data\.params\.n: expected an integer"),
        ("categorical", {}, r"data\.params\.probs: required"),
        ("categorical", {"probs": [0.5, 0.6]}, "summing to 1"),
        ("categorical", {"probs": [1.5, -0.5]}, "non-negative"),
        ("linear", {"noise": -1}, r"data\.params\.noise: expected a finite number in \[0"),
        ("linear", {"d": True}, r"data\.params\.d: expected an integer"),
        ("kjv", {"n_docs": 10**6}, r"data\.params\.n_docs: expected an integer <= 27"),
        ("kjv", {"ndocs": 10}, "did you mean 'n_docs'"),
        ("digits", {"n_heldout": 400}, r"data\.params\.n_heldout: expected an integer <= 359"),
        ("path", {}, r"data\.params\.path: required"),
        (
            "path",
            {"path": "/nonexistent/x.jsonl"},
            r"data\.params\.path: expected an existing file",
        ),
    ],
)
def test_parameter_errors(source, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        real(source, **params)


def test_seed_replicate_and_fresh_validation():
    with pytest.raises(InvalidParameterError, match="replicate"):
        real("gaussian", replicate=-1)
    with pytest.raises(InvalidParameterError, match="fresh"):
        real("gaussian").fresh(-1, np.random.default_rng(0))


def test_path_source_option_errors(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((10, 2)))
    for params, message in [
        ({"kind": "txt"}, r"data\.params\.kind"),
        ({"on_error": "ignore"}, r"data\.params\.on_error"),
        ({"heldout_fraction": 1.0}, r"data\.params\.heldout_fraction"),
        ({"heldout_fraction": 0}, r"data\.params\.heldout_fraction"),
        ({"columns": {"a": 1}}, r"data\.params\.columns"),
    ]:
        with pytest.raises(InvalidParameterError, match=message):
            real("path", path=str(path), **params)
