"""Generic tail coverage: closed form for Gaussian models, sample HDR for the others."""

from __future__ import annotations

import math

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics import hdr_threshold, tail_coverage
from tests.metrics.fakes import FakeGaussian


@pytest.mark.parametrize("d", [1, 2])
def test_sample_hdr_agrees_with_closed_form(d):
    rng = np.random.default_rng(d)
    ref, held = rng.standard_normal((3000, d)), rng.standard_normal((3000, d)) * 1.3
    cov = 1.2 * np.eye(d)
    exact = tail_coverage(FakeGaussian(np.zeros(d), cov), ref, held)
    other = FakeGaussian(np.zeros(d), cov, kind="not-gaussian")
    estimated = tail_coverage(other, ref, held, other.sample(40_000, rng=rng))
    assert estimated == pytest.approx(exact, abs=0.05)


def test_collapse_loses_the_tails():
    rng = np.random.default_rng(7)
    ref, held = rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2))
    wide = tail_coverage(FakeGaussian(np.zeros(2), 4 * np.eye(2)), ref, held)
    true = tail_coverage(FakeGaussian(np.zeros(2), np.eye(2)), ref, held)
    narrow = tail_coverage(FakeGaussian(np.zeros(2), 0.3 * np.eye(2)), ref, held)
    assert wide == 1.0
    assert 0.85 < true < 1.0  # see the docstring: about 0.95 for the true distribution
    assert narrow == 0.0


def test_no_tail_points_gives_nan_and_bad_input_errors():
    ref = np.linspace(-1, 1, 201).reshape(-1, 1)
    model = FakeGaussian([0.0], [[1.0]])
    assert math.isnan(tail_coverage(model, ref, np.zeros((5, 1))))
    assert math.isnan(tail_coverage(model, ref, np.zeros((0, 1))))
    with pytest.raises(DataError, match="column"):
        tail_coverage(model, ref, np.zeros((5, 2)))
    with pytest.raises(DataError, match="finite"):
        tail_coverage(model, ref, np.array([[np.nan]]))
    other = FakeGaussian([0.0], [[1.0]], kind="kde")
    with pytest.raises(DataError, match="samples"):
        tail_coverage(other, ref, np.array([[5.0]]))
    with pytest.raises(InvalidParameterError, match="level"):
        hdr_threshold([0.0], level=0.0)
    with pytest.raises(DataError, match="at least 1"):
        hdr_threshold([])
