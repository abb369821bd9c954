"""Streaming mean and variance of numeric data (mergeable, Chan et al. 1979)."""

from __future__ import annotations

from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.moments import (
    MomentState,
    mean_from_state,
    merge_moment_states,
    moment_state,
    variance_from_state,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric


class _StreamingMoments(StreamingMetric):
    """State: :class:`MomentState` (count, mean, centred outer-product sum)."""

    def _empty_state(self) -> MomentState | None:
        return None  # the dimension is unknown until the first batch

    def _batch_state(self, batch: Any) -> MomentState:
        return moment_state(batch)

    def _merge_states(self, a: MomentState | None, b: MomentState | None) -> MomentState | None:
        if a is None:
            return b
        if b is None:
            return a
        return merge_moment_states(a, b)

    def _seen(self, state: MomentState | None) -> MomentState:
        if state is None:
            raise DataError(f"{self.name}: expected at least 1 row of data, got 0")
        return state


class StreamingMean(_StreamingMoments):
    """Average over coordinates of the mean of all rows seen (:func:`data_mean`)."""

    name: ClassVar[str] = "mean"

    def _compute(self, state: MomentState | None) -> float:
        return mean_from_state(self._seen(state))


class StreamingVariance(_StreamingMoments):
    """Trace of the covariance of all rows seen (:func:`data_variance`), MLE by default."""

    name: ClassVar[str] = "variance"

    def __init__(self, *, ddof: int = 0) -> None:
        self.ddof = check_int("ddof", ddof)
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.ddof,)

    def _compute(self, state: MomentState | None) -> float:
        return variance_from_state(self._seen(state), self.ddof)
