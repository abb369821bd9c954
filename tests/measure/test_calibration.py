"""Random halves of one human corpus must come out healthy (issue 3: at least 95% of 100)."""

from __future__ import annotations

import pytest

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.calibration import calibrate, random_halves

# Every text metric with a vectorised kernel: the full default suite minus the generic-path
# ones (self_bleu, compression_ratio, perplexity), whose calibration figures are in
# modelcollapse/measure/calibration.py (python -m modelcollapse.measure.calibration).
KERNEL_METRICS = [
    "rare_recall", "vocab_size", "entropy", "distinct_2", "ngram_diversity",
    "self_repetition", "rep_n", "js", "kl",
]  # fmt: skip


@pytest.mark.slow
def test_100_random_kjv_splits_are_healthy():
    report = calibrate(
        corpus="kjv", n_splits=100, n_per_half=1000, metrics=KERNEL_METRICS, n_boot=50
    )
    assert report.n_splits == 100 and sum(report.verdicts.values()) == 100
    assert report.healthy_rate >= 0.95, report.table()


def test_small_splits_are_healthy_and_reported():
    report = calibrate(
        corpus="kjv", n_splits=12, n_per_half=300, metrics=["rare_recall", "entropy", "js"],
        n_boot=30, seed=1,
    )  # fmt: skip
    assert report.healthy_rate >= 11 / 12, report.table()
    assert set(report.critical) == {"rare_recall", "entropy", "js"}
    assert all(len(v) == 12 for v in report.critical.values())
    assert "healthy" in report.table() and report.roles["js"] == "fidelity"
    # a metric is flagged exactly when its critical tolerance exceeds its tolerance, so the
    # verdicts can be recomputed for other tolerances without measuring again
    assert report.verdicts_at() == report.verdicts
    assert report.verdicts_at({"tail": -1.0, "diversity": -1.0, "js": -1.0})["healthy"] == 0


def test_digits_splits_are_healthy():
    report = calibrate(
        corpus="digits", n_splits=6, n_per_half=400,
        metrics=["extreme_quantile_ratio", "variance", "sliced_wasserstein"], n_boot=30,
        n_boot_expensive=10,
    )  # fmt: skip
    assert report.healthy_rate == 1.0, report.table()


def test_random_halves_checks_its_size():
    with pytest.raises(InvalidParameterError, match="n_per_half"):
        random_halves(list("abc"), 2, None)
