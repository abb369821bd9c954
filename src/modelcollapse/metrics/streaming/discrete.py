"""Streaming category counts of discrete samples: counts, support size, empirical entropy."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.discrete import (
    category_counts,
    entropy,
    merge_counts,
    support_size,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric


class StreamingCategoryCounts(StreamingMetric):
    """Counts (K,) of each category index seen; ``K`` grows with the largest index seen and is at
    least ``n_categories``."""

    name: ClassVar[str] = "category_counts"

    def __init__(self, *, n_categories: int | None = None) -> None:
        self.n_categories = (
            None if n_categories is None else check_int("n_categories", n_categories, low=1)
        )
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.n_categories,)

    def _empty_state(self) -> np.ndarray:
        return np.zeros(self.n_categories or 0, dtype=np.int64)

    def _batch_state(self, batch: Any) -> np.ndarray:
        return category_counts(batch, self.n_categories)

    def _merge_states(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return merge_counts(a, b)

    def _nonempty(self, state: np.ndarray) -> np.ndarray:
        if state.sum() == 0:
            raise DataError(f"{self.name}: expected at least 1 item, got 0")
        return state

    def _compute(self, state: np.ndarray) -> np.ndarray:
        return state.copy()


class StreamingSupportSize(StreamingCategoryCounts):
    """Number of distinct categories seen (the empirical support size)."""

    name: ClassVar[str] = "support_size"

    def _compute(self, state: np.ndarray) -> int:
        return support_size(self._nonempty(state))


class StreamingCategoryEntropy(StreamingCategoryCounts):
    """Shannon entropy (nats) of the empirical category frequencies seen."""

    name: ClassVar[str] = "entropy"

    def _compute(self, state: np.ndarray) -> float:
        return entropy(self._nonempty(state))
