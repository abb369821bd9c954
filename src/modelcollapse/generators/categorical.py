"""Categorical generator over a finite support ``{0, ..., K-1}``.

The discrete toy model of collapse: refitting empirical frequencies to samples of themselves
loses a category for good as soon as it is drawn zero times, so the support shrinks and the tails
vanish first (Shumailov et al. 2024, Nature 631, "discrete distributions with exact
approximation"). Additive (Laplace/Lidstone) smoothing ``alpha > 0`` keeps every category alive.
"""

from __future__ import annotations

from typing import Self

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import (
    check_discrete,
    check_float,
    check_int,
    check_state,
)

# probs_ is dense: cap K so a stray huge label gives an error instead of exhausting memory.
MAX_CATEGORIES = 2**24


@register
class Categorical(Generator):
    """``probs_[k] = (count_k + alpha) / (n + K * alpha)`` for ``k`` in ``[0, K)``.

    Hyperparameters:
        n_categories: the support size K. ``None`` infers ``K = max(data) + 1`` at each fit; set it
            explicitly in collapse loops, otherwise categories lost at the top shrink K too.
        alpha: additive smoothing (0 gives the maximum-likelihood frequencies).

    Learned: ``probs_`` (K,).
    """

    kind = "categorical"
    data_kind = "discrete"

    def __init__(self, *, n_categories: int | None = None, alpha: float = 0.0):
        self.n_categories = n_categories
        self.alpha = alpha

    def fit(self, data: np.ndarray, *, rng: np.random.Generator | None = None) -> Self:
        """Count categories (``rng`` is unused)."""
        k = self.n_categories
        k = None if k is None else check_int("n_categories", k, high=MAX_CATEGORIES)
        alpha = check_float("alpha", self.alpha)
        x = check_discrete(data, n_categories=k)
        if k is None:
            k = int(x.max()) + 1
            if k > MAX_CATEGORIES:
                raise DataError(
                    f"categorical.fit: expected category indices below {MAX_CATEGORIES}, got "
                    f"{k - 1}; map labels to 0..K-1 first"
                )
        counts = np.bincount(x, minlength=k).astype(np.float64)
        self.probs_ = (counts + alpha) / (x.shape[0] + k * alpha)
        return self

    def sample(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """``n`` category indices, int64 (n,)."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        return rng.choice(self.probs_.shape[0], size=n, p=self.probs_).astype(np.int64)

    def log_prob(self, data: np.ndarray) -> np.ndarray:
        """``log probs_[x]`` per item; ``-inf`` for zero-probability categories and for ``x >= K``
        (outside the model's support). Negative or non-integer items raise DataError."""
        self._check_fitted()
        x = check_discrete(data, min_rows=0)
        k = self.probs_.shape[0]
        inside = x < k
        out = np.full(x.shape[0], -np.inf)
        with np.errstate(divide="ignore"):
            out[inside] = np.log(self.probs_[x[inside]])
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        self._check_fitted()
        return {"probs_": self.probs_.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        probs = check_state(state, ("probs_",), type(self).__name__)["probs_"].astype(np.float64)
        if (
            probs.ndim != 1
            or probs.size == 0
            or (probs < 0).any()
            or not np.isclose(probs.sum(), 1.0)
        ):
            raise DataError(
                f"Categorical state: expected probs_ (K,) summing to 1, got shape {probs.shape}"
            )
        self.probs_ = probs
        return self
