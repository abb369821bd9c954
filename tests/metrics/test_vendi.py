"""Vendi score: the definition for every order q, vendi-score's score_K, the dual form, streaming."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import StreamingVendiScore, vendi_score

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORDERS = [0, 0.5, 1, 2, 10, math.inf]


def definition(x, q):
    """exp(H_q) of the eigenvalues of K/n, K the cosine-similarity matrix, decomposed directly."""
    xh = x / np.linalg.norm(x, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(xh @ xh.T / len(x))
    lam = lam[lam > len(lam) * np.finfo(float).eps * lam.max()]
    if q == 0:
        return float(len(lam))
    if q == 1:
        return float(np.exp(-np.sum(lam * np.log(lam))))
    if q == math.inf:
        return float(1 / lam.max())
    return float((lam**q).sum() ** (1 / (1 - q)))


@pytest.mark.parametrize("q", ORDERS)
@pytest.mark.parametrize(("n", "d"), [(40, 100), (300, 12), (64, 64)])
def test_definition_every_order(n, d, q):
    rng = np.random.default_rng(n * d)
    x = rng.standard_normal((n, d)) + 0.3  # correlated directions: a spread-out spectrum
    assert vendi_score(x, q) == pytest.approx(definition(x, q), rel=1e-9)


@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")
def test_equals_vendi_score_package_score_k():
    vendi = pytest.importorskip("vendi_score.vendi")
    rng = np.random.default_rng(0)
    for n, d in ((200, 16), (50, 80)):
        x = rng.standard_normal((n, d)) + 0.5
        xh = x / np.linalg.norm(x, axis=1, keepdims=True)
        k = xh @ xh.T
        for q in (1, 2, 0.5, 3, "inf"):
            assert vendi_score(x, q) == pytest.approx(vendi.score_K(k, q=q), rel=1e-6)


@pytest.mark.filterwarnings("ignore:Please import `csr_matrix`:DeprecationWarning")
def test_vendi_score_package_score_x_ignores_q():
    # vendi-score 0.0.3: score_X(X, q) calls score_K(K, q=1, ...), so q has no effect there.
    vendi = pytest.importorskip("vendi_score.vendi")
    x = np.random.default_rng(1).standard_normal((100, 8)) + 0.5
    assert vendi.score_X(x, q=2) == vendi.score_X(x, q=1) == pytest.approx(vendi_score(x, 1))
    assert vendi_score(x, 2) < vendi_score(x, 1)  # ours honours q
    assert vendi_score(x, 2) == pytest.approx(definition(x, 2), rel=1e-9)


def test_closed_cases():
    assert vendi_score(np.tile([1.0, 2.0, 3.0], (50, 1))) == pytest.approx(1.0)
    for q in ORDERS:  # mutually orthogonal items: every one counts
        assert vendi_score(np.eye(7) * 3.0, q) == pytest.approx(7.0)
        assert vendi_score(np.eye(5)[[0, 0, 1, 1, 2, 2]], q) == pytest.approx(3.0)
    assert vendi_score(np.eye(4), "inf") == pytest.approx(4.0)
    # The cosine kernel is scale-free, down to subnormal squares and up to overflowing ones.
    x = np.random.default_rng(5).standard_normal((20, 3))
    for c in (1e-170, 1e170):
        assert vendi_score(c * x) == pytest.approx(vendi_score(x), rel=1e-12)


@SETTINGS
@given(n=st.integers(1, 30), d=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_bounded_and_non_increasing_in_q(n, d, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    values = [vendi_score(x, q) for q in ORDERS]
    assert all(1 - 1e-9 <= v <= min(n, d) + 1e-9 for v in values)
    assert all(a >= b * (1 - 1e-9) for a, b in itertools.pairwise(values))


@SETTINGS
@given(
    n=st.integers(1, 50),
    d=st.integers(1, 5),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    q=st.sampled_from(ORDERS),
    seed=st.integers(0, 2**31),
)
def test_streaming_shards_equal_one_pass(n, d, cuts, q, seed):
    x = np.random.default_rng(seed).standard_normal((n, d))
    bounds = sorted(c % (n + 1) for c in cuts)
    shards = []
    for lo, hi in zip([0, *bounds], [*bounds, n], strict=True):
        shards.append(StreamingVendiScore(q=q).update(x[lo:hi]))
    got = StreamingVendiScore.merged(shards).compute()
    if q == 0:
        assert got == vendi_score(x, q)
    else:
        assert got == pytest.approx(vendi_score(x, q), rel=1e-8)


def test_bad_input():
    with pytest.raises(DataError, match="zero row 1"):
        vendi_score([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(DataError, match="finite"):
        vendi_score([[1.0, np.nan]])
    with pytest.raises(DataError, match="at least 1 row"):
        vendi_score(np.zeros((0, 3)))
    for q in (-1, True, "two", float("nan")):
        with pytest.raises(InvalidParameterError, match="q: expected"):
            vendi_score(np.eye(2), q)
    s = StreamingVendiScore()
    with pytest.raises(DataError, match="at least 1 row"):
        s.compute()
    s.update(np.eye(2))
    with pytest.raises(DataError, match="columns"):
        s.merge(StreamingVendiScore().update(np.eye(3)))
    with pytest.raises(InvalidParameterError, match="different settings"):
        StreamingVendiScore(q=1).merge(StreamingVendiScore(q=2))
