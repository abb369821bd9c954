"""Layouts: size matching, the anchor/probe split, replicate indices."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import DataError
from modelcollapse.measure.arms import capped_layout, one_sample_layout, two_sample_layout


def test_one_sample_layout_matches_sizes_and_keeps_order():
    ref = [f"r{i}" for i in range(30)]
    cand = [f"c{i}" for i in range(12)]
    lay = one_sample_layout(ref, cand, 5, np.random.default_rng(0))
    assert lay.candidate.data == cand  # the smaller side is kept whole
    assert len(lay.probe.data) == 12 and set(lay.probe.data) <= set(ref)
    assert lay.probe.data == sorted(lay.probe.data, key=ref.index)
    assert lay.anchor is None and lay.candidate.indices.shape == (5, 12)


def test_two_sample_layout_splits_the_reference_disjointly():
    ref = np.arange(41.0)[:, None]
    cand = np.arange(100.0, 200.0)[:, None]
    lay = two_sample_layout(ref, cand, 4, np.random.default_rng(1))
    anchor, probe = lay.anchor.data.ravel(), lay.probe.data.ravel()
    assert anchor.size == 21 and probe.size == 20 and lay.candidate.n == 20
    assert not set(anchor) & set(probe)
    assert set(anchor) | set(probe) == set(ref.ravel())
    assert lay.n_matched == 20


def test_layouts_are_deterministic():
    ref, cand = list("abcdefghij"), list("klmnopq")
    a = two_sample_layout(ref, cand, 6, np.random.default_rng(9))
    b = two_sample_layout(ref, cand, 6, np.random.default_rng(9))
    assert a.anchor.data == b.anchor.data
    assert np.array_equal(a.candidate.indices, b.candidate.indices)
    assert a.candidate.replicate(2) == b.candidate.replicate(2)


def test_capped_layout_subsamples_every_arm():
    ref, cand = np.arange(500.0)[:, None], np.arange(400.0)[:, None]
    lay = two_sample_layout(ref, cand, 10, np.random.default_rng(2))
    capped = capped_layout(lay, 50, 7, np.random.default_rng(3))
    assert capped.candidate.n == capped.probe.n == capped.anchor.n == 50
    assert capped.candidate.indices.shape == (7, 50)
    assert set(capped.anchor.data.ravel()) <= set(lay.anchor.data.ravel())
    assert capped_layout(lay, 10_000, 7, np.random.default_rng(3)) is lay


def test_too_small_inputs_are_data_errors():
    with pytest.raises(DataError, match=r"reference .*expected at least 2 records, got 1"):
        two_sample_layout(["a"], ["b"], 3, np.random.default_rng(0))
    with pytest.raises(DataError, match="candidate: expected at least 1 records, got 0"):
        one_sample_layout(["a"], [], 3, np.random.default_rng(0))
