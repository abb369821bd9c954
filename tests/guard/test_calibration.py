"""Calibration: AUROC and TPR at a target FPR against scikit-learn, threshold rule, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.calibration import (
    Calibration,
    calibrate,
    roc_auc,
    threshold_at_fpr,
    tpr_at_fpr,
)

# small integer scores make ties common, which is where AUROC implementations go wrong
tied = st.lists(st.integers(-5, 5), min_size=1, max_size=60)
reals = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)
fprs = st.floats(0.0, 1.0)


def _sklearn_best_tpr(h: np.ndarray, a: np.ndarray, fpr: float) -> float:
    """Best TPR over all ROC points with FPR <= fpr (sklearn flags score >= threshold)."""
    y = np.r_[np.zeros(h.size), np.ones(a.size)]
    f, t, _ = roc_curve(y, np.r_[h, a], drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


@given(tied, tied)
def test_roc_auc_matches_sklearn_with_ties(h, a):
    y = np.r_[np.zeros(len(h)), np.ones(len(a))]
    assert roc_auc(h, a) == pytest.approx(roc_auc_score(y, np.r_[h, a]), abs=1e-12)


@given(reals, reals)
def test_roc_auc_matches_sklearn_reals(h, a):
    y = np.r_[np.zeros(len(h)), np.ones(len(a))]
    assert roc_auc(h, a) == pytest.approx(roc_auc_score(y, np.r_[h, a]), abs=1e-12)


def test_roc_auc_definition_by_hand():
    # pairs (a > h) + 0.5 (a == h): a=2 beats 1, ties 2 -> 1.5; a=3 beats both -> 2; total 3.5 / 4
    assert roc_auc([1, 2], [2, 3]) == pytest.approx(3.5 / 4)
    assert roc_auc([0, 0], [0]) == 0.5
    assert roc_auc([5], [1]) == 0.0


@given(tied, tied, fprs)
def test_tpr_at_fpr_is_sklearn_best_operating_point(h, a, fpr):
    h, a = np.asarray(h, float), np.asarray(a, float)
    assert tpr_at_fpr(h, a, fpr) == pytest.approx(_sklearn_best_tpr(h, a, fpr))


@given(tied, fprs)
def test_threshold_guarantees_and_is_lowest(h, fpr):
    h = np.asarray(h, float)
    t = threshold_at_fpr(h, fpr)
    assert np.mean(h > t) <= fpr + 1e-12  # the guarantee on the calibration set
    # no lower human score keeps the guarantee
    lower = h[h < t]
    if lower.size:
        assert np.mean(h > lower.max()) > fpr


def test_threshold_edges_and_rounding():
    h = np.arange(100, dtype=float)  # 0..99
    assert threshold_at_fpr(h, 0.0) == 99.0
    assert threshold_at_fpr(h, 1.0) == -math.inf
    assert threshold_at_fpr(h, 0.05) == 94.0  # 5 scores (95..99) above
    # 0.29 * 100 == 28.999999999999996 in floating point; 29 false positives are allowed
    assert np.sum(h > threshold_at_fpr(h, 0.29)) == 29


def test_calibrate_record():
    rng = np.random.default_rng(0)
    h = rng.normal(0, 1, 2000)
    a = rng.normal(3, 1, 1000)
    h_eval = rng.normal(0, 1, 5000)
    cal = calibrate(h, a, target_fpr=0.05, scores_human_eval=h_eval)
    assert isinstance(cal, Calibration)
    assert cal.fpr_human <= 0.05
    assert abs(cal.fpr_eval - 0.05) < 0.015  # fresh human text: about the target
    assert cal.tpr == pytest.approx(cal.tpr_at_5)
    assert cal.tpr_at_1 <= cal.tpr_at_5
    # N(3,1) vs N(0,1): AUROC = Phi(3 / sqrt(2)) = 0.983
    assert cal.auroc == pytest.approx(0.983, abs=0.01)
    assert cal.n_human == 2000 and cal.n_ai == 1000
    assert np.array_equal(cal.flag(a), a > cal.threshold)
    assert cal.to_dict()["threshold"] == cal.threshold
    assert math.isnan(calibrate(h, a).fpr_eval)


@pytest.mark.parametrize(
    "bad",
    [[], [[1.0, 2.0]], [1.0, float("nan")], [float("inf")], "abc", [object()], None],
)
def test_bad_scores(bad):
    with pytest.raises(DataError):
        roc_auc(bad, [1.0])
    with pytest.raises(DataError):
        calibrate([1.0], bad)


@pytest.mark.parametrize("fpr", [-0.1, 1.5, float("nan"), "0.1", True, None])
def test_bad_fpr(fpr):
    with pytest.raises(InvalidParameterError):
        threshold_at_fpr([1.0, 2.0], fpr)


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.text(max_size=3), st.just(float("nan"))), min_size=1))
def test_garbage_scores_raise_typed_error(values):
    with pytest.raises(DataError):
        roc_auc(values, [0.0])


def test_numeric_strings_are_not_scores():
    with pytest.raises(DataError, match="numbers"):
        roc_auc(["0.5", "0.7"], [1.0])
