"""The shared Generator contract (tests/common/contract.py) on every classic generator.

Adding a generator is one line in CASES: (id, factory of an unfitted generator, data factory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from modelcollapse.generators import registry
from modelcollapse.generators.base import Generator
from modelcollapse.generators.categorical import Categorical
from modelcollapse.generators.gaussian import Gaussian
from modelcollapse.generators.gmm import GaussianMixture
from modelcollapse.generators.kde import KDE
from modelcollapse.generators.linear import LinearRegression
from modelcollapse.generators.ngram import NGram
from tests.common.contract import check_generator


def numeric(n: int = 200, d: int = 3) -> np.ndarray:
    rng = np.random.default_rng(10)
    return rng.normal(size=(n, d)) @ np.tril(rng.uniform(0.5, 1.5, size=(d, d))) + 2.0


def two_blobs() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.concatenate([rng.normal(-3, 1, size=(100, 2)), rng.normal(3, 0.5, size=(100, 2))])


def discrete() -> np.ndarray:
    return np.random.default_rng(12).integers(0, 6, size=300)


def regression(n: int = 80, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(13)
    x = rng.normal(size=(n, d))
    return np.column_stack([x, x @ rng.normal(size=d) + 0.3 * rng.normal(size=n)])


def text(n: int = 150) -> list[str]:
    rng = np.random.default_rng(14)
    words = np.array(
        [
            "the",
            "lord",
            "said",
            "unto",
            "moses",
            "and",
            "aaron",
            ",",
            ".",
            ";",
            ":",
            "of",
            "israel",
            "land",
        ]
    )
    return [" ".join(rng.choice(words, size=rng.integers(0, 15))) for _ in range(n)]


Case = tuple[str, Callable[[], Generator], Callable[[], Any]]
CASES: list[Case] = [
    ("gaussian-mle-d3", lambda: Gaussian(estimator="mle"), numeric),
    ("gaussian-unbiased-d3", lambda: Gaussian(estimator="unbiased", scale=0.5), numeric),
    ("gaussian-mle-d1", lambda: Gaussian(), lambda: numeric(d=1)),
    (
        "gaussian-unbiased-d1-reg",
        lambda: Gaussian(estimator="unbiased", reg=0.1),
        lambda: numeric(d=1),
    ),
    ("gmm-full", lambda: GaussianMixture(n_components=2), two_blobs),
    (
        "gmm-diag-scaled",
        lambda: GaussianMixture(n_components=3, covariance_type="diag", scale=0.7),
        two_blobs,
    ),
    ("kde-scott", lambda: KDE(), numeric),
    ("kde-silverman-d1", lambda: KDE(bandwidth="silverman"), lambda: numeric(d=1)),
    ("kde-value", lambda: KDE(bandwidth=0.3, scale=2.0), numeric),
    ("categorical-mle", lambda: Categorical(), discrete),
    ("categorical-smoothed", lambda: Categorical(n_categories=9, alpha=0.5), discrete),
    ("linear", lambda: LinearRegression(), regression),
    (
        "linear-intercept-known-noise",
        lambda: LinearRegression(fit_intercept=True, noise=0.5),
        regression,
    ),
    ("ngram-trigram", lambda: NGram(), text),
    (
        "ngram-bigram-hot-lowercase",
        lambda: NGram(n=2, temperature=1.5, lowercase=True, max_tokens=30),
        text,
    ),
]


@pytest.mark.parametrize(("make", "data"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_generator_contract(make: Callable[[], Generator], data: Callable[[], Any]) -> None:
    check_generator(make, data())


@pytest.mark.parametrize(
    ("kind", "cls", "data_kind"),
    [
        ("gaussian", Gaussian, "numeric"),
        ("gmm", GaussianMixture, "numeric"),
        ("kde", KDE, "numeric"),
        ("categorical", Categorical, "discrete"),
        ("linear", LinearRegression, "regression"),
    ],
)
def test_registered_under_kind(kind: str, cls: type[Generator], data_kind: str) -> None:
    assert registry.get(kind) is cls and cls.kind == kind and cls.data_kind == data_kind
