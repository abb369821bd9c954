"""Categorical generator: exact (smoothed) frequencies, support handling, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.categorical import Categorical

DATA = np.array([0, 0, 1, 3, 3, 3])  # category 2 unseen


def test_mle_frequencies() -> None:
    c = Categorical().fit(DATA)
    np.testing.assert_allclose(c.probs_, [2 / 6, 1 / 6, 0.0, 3 / 6])


def test_smoothed_frequencies_exact() -> None:
    c = Categorical(n_categories=6, alpha=0.5).fit(DATA)
    # (count + 0.5) / (6 + 6 * 0.5)
    np.testing.assert_allclose(c.probs_, np.array([2.5, 1.5, 0.5, 3.5, 0.5, 0.5]) / 9.0, rtol=1e-15)


def test_log_prob_per_item() -> None:
    c = Categorical().fit(DATA)
    lp = c.log_prob([0, 2, 3, 7])
    np.testing.assert_allclose(lp[[0, 2]], np.log([2 / 6, 3 / 6]))
    assert lp[1] == -np.inf and lp[3] == -np.inf  # unseen category and outside the support


def test_lost_categories_stay_lost_without_smoothing() -> None:
    c = Categorical(n_categories=4).fit(DATA)
    s = c.sample(10_000, rng=np.random.default_rng(0))
    assert s.dtype == np.int64 and 2 not in s
    np.testing.assert_allclose(np.bincount(s, minlength=4) / len(s), c.probs_, atol=0.015)


def test_integral_floats_accepted() -> None:
    np.testing.assert_array_equal(
        Categorical().fit(DATA.astype(float)).probs_, Categorical().fit(DATA).probs_
    )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.array([0, -1]), "non-negative"),
        (np.array([0.5, 1.0]), "integer"),
        (np.array([0.0, np.nan]), "integer"),
        (np.array([[0, 1]]), "1-D"),
        (np.array([], dtype=int), "at least 1"),
        (np.array([0, 9]), r"\[0, 4\)"),
        (["a", "b"], "numeric"),
    ],
)
def test_bad_data(data: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        Categorical(n_categories=4).fit(data)


@pytest.mark.parametrize("params", [{"n_categories": 0}, {"n_categories": 2.5}, {"alpha": -0.1}])
def test_bad_hyperparameters(params: dict) -> None:
    with pytest.raises(InvalidParameterError):
        Categorical(**params).fit(DATA)


def test_log_prob_rejects_negative_items() -> None:
    with pytest.raises(DataError, match="non-negative"):
        Categorical().fit(DATA).log_prob([-3])
