"""Streaming Fréchet distance: two mergeable moment summaries, one per sample."""

from __future__ import annotations

from typing import Any, ClassVar

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.frechet import frechet_from_states
from modelcollapse.metrics.functional.moments import (
    MomentState,
    merge_moment_states,
    moment_state,
)
from modelcollapse.metrics.functional.validation import check_int
from modelcollapse.metrics.streaming.base import StreamingMetric

_Pair = tuple[MomentState | None, MomentState | None]


def _merge(a: MomentState | None, b: MomentState | None) -> MomentState | None:
    if a is None:
        return b
    if b is None:
        return a
    return merge_moment_states(a, b)


class StreamingFrechetDistance(StreamingMetric):
    """Fréchet distance (:func:`frechet_distance`) between two streams of rows.

    ``update((x_batch, y_batch))`` takes a pair; either side may be ``None`` so the two samples
    can arrive separately, e.g. ``update((reference_chunk, None))``. The state is one
    :class:`MomentState` per side (count, mean, centred outer-product sum, merged with Chan et
    al. 1979), so batches and shards give the one-pass value exactly, up to round-off.
    """

    name: ClassVar[str] = "frechet_distance"

    def __init__(self, *, ddof: int = 1) -> None:
        self.ddof = check_int("ddof", ddof)
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.ddof,)

    def _empty_state(self) -> _Pair:
        return (None, None)

    def _batch_state(self, batch: Any) -> _Pair:
        if not isinstance(batch, tuple) or len(batch) != 2:
            raise DataError(
                f"frechet_distance: expected a batch (x, y) with None for a missing side, "
                f"got {type(batch).__name__}"
            )
        x, y = batch
        return (
            None if x is None else moment_state(x),
            None if y is None else moment_state(y),
        )

    def _merge_states(self, a: _Pair, b: _Pair) -> _Pair:
        return (_merge(a[0], b[0]), _merge(a[1], b[1]))

    def _compute(self, state: _Pair) -> float:
        sx, sy = state
        if sx is None or sy is None:
            missing = "X" if sx is None else "Y"
            raise DataError(f"frechet_distance: {missing}: expected at least 1 batch, got none")
        return frechet_from_states(sx, sy, self.ddof)
