"""PRDC: the same numbers as the `prdc` package, blocked, with ties and duplicates; bad input."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import PRDC, prdc
from modelcollapse.metrics.functional.prdc import knn_sq_radii

prdc_pkg = pytest.importorskip("prdc")
# The package exports the function under the module's name: reach the module itself.
prdc_module = importlib.import_module("modelcollapse.metrics.functional.prdc")


def package(real, fake, k):
    out = prdc_pkg.compute_prdc(real, fake, k)
    return {key: float(v) for key, v in out.items()}


def assert_same(ours: PRDC, theirs: dict) -> None:
    for key, value in ours.as_dict().items():
        assert abs(value - theirs[key]) <= 1e-9, (key, value, theirs[key])


@pytest.mark.parametrize(
    ("n", "m", "d", "k", "chunk"),
    [(300, 300, 8, 5, 256), (400, 250, 16, 3, 7), (150, 500, 2, 5, 1), (1000, 800, 64, 5, 100)],
)
def test_same_values_as_prdc_package(n, m, d, k, chunk, capsys):
    rng = np.random.default_rng(n + m + d)
    real = rng.standard_normal((n, d))
    fake = 1.2 * rng.standard_normal((m, d)) + 0.2
    ours = prdc(real, fake, k, chunk_size=chunk)
    assert_same(ours, package(real, fake, k))
    assert 0 < ours.precision < 1  # the fake set is wider: some of it lies off the real manifold


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 30),  # the package needs k + 2 rows (argpartition); we need k + 1
    m=st.integers(5, 30),
    k=st.integers(1, 3),
    chunk=st.integers(1, 40),
    seed=st.integers(0, 2**31),
)
def test_ties_and_duplicates_match_the_package(n, m, k, chunk, seed):
    # Small integer grids: distances are exact, so many are tied and many points repeat; the
    # strict inequalities and the self-distance convention decide every case.
    rng = np.random.default_rng(seed)
    real = rng.integers(0, 4, size=(n, 2)).astype(float)
    fake = rng.integers(0, 4, size=(m, 2)).astype(float)
    assert_same(prdc(real, fake, k, chunk_size=chunk), package(real, fake, k))


def test_radii_are_kth_neighbour_distances():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((57, 3))
    brute = np.sort(cdist(x, x, "sqeuclidean"), axis=1)[:, 4]  # 0 to itself, then 4 neighbours
    assert knn_sq_radii(x, 4, chunk_size=10) == pytest.approx(brute, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 160),
    d=st.integers(1, 3),
    k=st.integers(1, 6),
    chunk=st.integers(1, 70),
    levels=st.integers(1, 6),
    seed=st.integers(0, 2**31),
)
def test_radii_equal_brute_force_with_ties(n, d, k, chunk, levels, seed):
    # Integer grids make squared distances exact, with many ties and duplicates: the slab
    # bounds, the candidate filter and the running merge must give the exact (k+1)-th value.
    if n < k + 1:
        k = n - 1 if n > 1 else 1
    if n < k + 1:
        return
    x = np.random.default_rng(seed).integers(0, levels, size=(n, d)).astype(float)
    brute = np.sort(cdist(x, x, "sqeuclidean"), axis=1)[:, k]
    np.testing.assert_array_equal(knn_sq_radii(x, k, chunk_size=chunk), brute)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_result_does_not_depend_on_threads(workers, monkeypatch):
    rng = np.random.default_rng(7)
    real = rng.integers(0, 5, size=(700, 3)).astype(float)  # ties everywhere
    fake = rng.standard_normal((650, 3)) * 1.5
    want = package(real, fake, 4)
    monkeypatch.setattr(prdc_module, "_workers", lambda: workers)
    ours = prdc(real, fake, 4, chunk_size=128)
    assert_same(ours, want)
    assert ours == prdc(real, fake, 4, chunk_size=97)


def test_duplicates_at_scale_match_the_package():
    # Many exact duplicates (radius 0: nothing is strictly inside) in a set spanning many tiles.
    rng = np.random.default_rng(11)
    real = np.repeat(rng.standard_normal((150, 8)), 4, axis=0)
    fake = np.vstack([real[::3], rng.standard_normal((300, 8))])
    assert_same(prdc(real, fake, 3, chunk_size=64), package(real, fake, 3))


def test_identical_sets():
    x = np.random.default_rng(4).standard_normal((100, 3))
    out = prdc(x, x, 5)
    assert (out.precision, out.recall, out.coverage) == (1.0, 1.0, 1.0)
    assert out.as_dict()["density"] == out.density > 0


def test_bad_input():
    x = np.zeros((10, 3))
    with pytest.raises(DataError, match="fake: expected at least k \\+ 1 = 6 rows, got 5"):
        prdc(x, np.zeros((5, 3)), 5)
    with pytest.raises(DataError, match="fake: expected 3 column"):
        prdc(x, np.zeros((10, 2)))
    with pytest.raises(DataError, match="real: expected finite"):
        prdc(np.full((10, 3), np.nan), x)
    with pytest.raises(DataError, match="real: expected at least 1 row"):
        prdc(np.zeros((0, 3)), x)
    with pytest.raises(InvalidParameterError, match="k: expected"):
        prdc(x, x, 0)
    with pytest.raises(InvalidParameterError, match="chunk_size"):
        prdc(x, x, 2, chunk_size=0)
