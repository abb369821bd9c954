"""Detector calibration: thresholds at a target false-positive rate, TPR at that rate, AUROC.

A detector gives every document a score, higher meaning "more likely synthetic". Human text is
the negative class, synthetic text the positive class, and a document is *flagged* when its
score is **strictly above** the threshold (``score > t``).

Definitions (``n0`` human scores ``h``, ``n1`` synthetic scores ``a``):

- **AUROC** (:func:`roc_auc`): the Mann-Whitney statistic
  ``AUC = (1 / (n0 n1)) sum_i sum_j [a_j > h_i] + 0.5 [a_j == h_i]``, the probability that a random
  synthetic document outscores a random human one, ties counting one half (Hanley & McNeil 1982,
  "The meaning and use of the area under a ROC curve"). It equals the trapezoidal area under the
  empirical ROC curve (``sklearn.metrics.roc_auc_score``). Computed exactly from mid-ranks in
  ``O((n0 + n1) log(n0 + n1))``.
- **Threshold at a target FPR** (:func:`threshold_at_fpr`), chosen on *held-out human text* only:
  with ``k = floor(fpr * n0)`` false positives allowed, ``t`` is the ``(k + 1)``-th largest human
  score (equivalently the ``(n0 - k)``-th smallest). Then at most ``k`` human scores are ``> t``,
  so the empirical FPR is ``<= fpr``, and no lower threshold keeps that guarantee (any ``t' < t``
  flags the ``k + 1`` largest human scores), so the threshold maximises the TPR subject to the
  bound. ``fpr = 0`` gives the largest human score; ``k >= n0`` (``fpr = 1``) gives ``-inf`` (flag
  everything). ``floor`` is taken of ``fpr * n0 + 1e-9`` so that, e.g., ``0.29 * 100`` (which is
  ``28.999999999999996`` in floating point) allows 29 and not 28.
- **TPR at FPR** (:func:`tpr_at_fpr`): the fraction of synthetic scores above that threshold.
  This is the best operating point of the empirical ROC curve with FPR ``<= fpr`` (no
  interpolation between ROC points, so it never promises a rate the data did not show).

The empirical FPR is a guarantee on the calibration set only; on fresh human text it is an
estimate with binomial error (about ``sqrt(fpr / n0)``), so calibrate on a few thousand human
documents for ``fpr = 0.01``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from modelcollapse.errors import DataError, InvalidParameterError


def check_scores(scores: Any, name: str) -> np.ndarray:
    """A non-empty 1-D float64 array of finite scores, or a DataError saying what is wrong."""
    if isinstance(scores, (str, bytes)):
        raise DataError(f"{name}: expected a 1-D array of numbers, got {type(scores).__name__}")
    try:
        raw = np.asarray(scores)
    except (TypeError, ValueError):  # ragged nested lists
        raw = np.asarray([None])
    # numbers only: numpy would happily parse a list of strings such as ["0.5"]
    if raw.dtype.kind not in "iuf":
        raise DataError(f"{name}: expected a 1-D array of numbers, got {raw.dtype} values")
    arr = raw.astype(np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array of scores, got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{name}: expected at least one score, got none")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise DataError(f"{name}: expected finite scores, got {arr[i]!r} at index {i}")
    return arr


def check_fpr(fpr: Any, name: str = "fpr") -> float:
    """A target false-positive rate in [0, 1]."""
    ok = isinstance(fpr, (int, float, np.integer, np.floating)) and not isinstance(fpr, bool)
    if not ok or not (0.0 <= float(fpr) <= 1.0):
        raise InvalidParameterError(f"{name}: expected a number in [0, 1], got {fpr!r}")
    return float(fpr)


def roc_auc(scores_human: Any, scores_ai: Any) -> float:
    """Exact AUROC (Mann-Whitney U / (n0 n1), ties counted one half); AI is the positive class."""
    h = check_scores(scores_human, "scores_human")
    a = check_scores(scores_ai, "scores_ai")
    # mid-ranks of the pooled scores: ties get the average rank, which counts each tie as 1/2
    ranks = rankdata(np.concatenate([h, a]), method="average")
    n0, n1 = h.size, a.size
    u = ranks[n0:].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n0 * n1))


def threshold_at_fpr(human_scores: Any, fpr: float) -> float:
    """The lowest threshold ``t`` with ``#(human > t) <= floor(fpr * n0)``; see the module docstring."""
    h = check_scores(human_scores, "human_scores")
    fpr = check_fpr(fpr)
    k = math.floor(fpr * h.size + 1e-9)
    if k >= h.size:
        return -math.inf
    # the (k+1)-th largest = index n0-1-k in ascending order; partition is O(n)
    return float(np.partition(h, h.size - 1 - k)[h.size - 1 - k])


def tpr_at_fpr(scores_human: Any, scores_ai: Any, fpr: float) -> float:
    """Fraction of AI scores ``> threshold_at_fpr(scores_human, fpr)``."""
    a = check_scores(scores_ai, "scores_ai")
    t = threshold_at_fpr(scores_human, fpr)
    return float(np.mean(a > t))


@dataclass(frozen=True)
class Calibration:
    """A detector's operating point and its summary figures.

    ``threshold`` is chosen on ``n_human`` held-out human scores so that their FPR (``fpr_human``,
    reported) is at most ``target_fpr``; ``tpr`` is the TPR at that threshold on ``n_ai`` synthetic
    scores; ``tpr_at_1``/``tpr_at_5`` are the TPRs at 1% and 5% FPR thresholds chosen the same
    way; ``auroc`` is :func:`roc_auc`. When separate evaluation human scores are given,
    ``fpr_eval`` is the FPR the threshold reaches on them (else NaN).
    """

    threshold: float
    target_fpr: float
    fpr_human: float
    tpr: float
    tpr_at_1: float
    tpr_at_5: float
    auroc: float
    n_human: int
    n_ai: int
    fpr_eval: float = math.nan

    def flag(self, scores: Any) -> np.ndarray:
        """Boolean mask of the scores this calibration flags as synthetic (``score > threshold``)."""
        return check_scores(scores, "scores") > self.threshold

    def to_dict(self) -> dict[str, Any]:
        """Plain floats and ints (JSON-ready; NaN stays NaN, ``-inf`` thresholds stay ``-inf``)."""
        return asdict(self)


def calibrate(
    scores_human: Any,
    scores_ai: Any,
    *,
    target_fpr: float = 0.01,
    scores_human_eval: Any = None,
) -> Calibration:
    """Choose the threshold at ``target_fpr`` on ``scores_human`` and summarise the detector.

    ``scores_human`` are the detector's scores on held-out human text (the calibration set),
    ``scores_ai`` on synthetic text. Pass ``scores_human_eval`` (a second, disjoint human set) to
    see the FPR the threshold actually reaches on text it was not chosen on.
    """
    h = check_scores(scores_human, "scores_human")
    a = check_scores(scores_ai, "scores_ai")
    target_fpr = check_fpr(target_fpr, "target_fpr")
    t = threshold_at_fpr(h, target_fpr)
    fpr_eval = math.nan
    if scores_human_eval is not None:
        fpr_eval = float(np.mean(check_scores(scores_human_eval, "scores_human_eval") > t))
    return Calibration(
        threshold=t,
        target_fpr=target_fpr,
        fpr_human=float(np.mean(h > t)),
        tpr=float(np.mean(a > t)),
        tpr_at_1=tpr_at_fpr(h, a, 0.01),
        tpr_at_5=tpr_at_fpr(h, a, 0.05),
        auroc=roc_auc(h, a),
        n_human=int(h.size),
        n_ai=int(a.size),
        fpr_eval=fpr_eval,
    )
