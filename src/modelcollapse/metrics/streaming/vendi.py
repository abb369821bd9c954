"""Streaming Vendi score: the d × d Gram sum of unit rows is mergeable, so the dual form is exact."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from modelcollapse.metrics.functional.vendi import (
    VendiState,
    check_order,
    merge_vendi_states,
    vendi_from_state,
    vendi_state,
)
from modelcollapse.metrics.streaming.base import StreamingMetric


class StreamingVendiScore(StreamingMetric):
    """Vendi score ``VS_q`` (:func:`vendi_score`) of all rows seen, cosine-similarity kernel.

    State: ``n`` and ``Σ x̂ x̂ᵀ`` (d, d), O(d²) memory whatever the number of rows; ``compute``
    decomposes the dual matrix ``Σ x̂ x̂ᵀ / n``, whose non-zero eigenvalues are those of
    ``K / n`` (Friedman & Dieng 2023).
    """

    name: ClassVar[str] = "vendi_score"

    def __init__(self, *, q: float | str = 1) -> None:
        self.q = check_order(q)
        super().__init__()

    def _config(self) -> tuple[Any, ...]:
        return (self.q,)

    def _empty_state(self) -> VendiState:
        return VendiState(0, np.zeros((0, 0)))  # the width is unknown until the first batch

    def _batch_state(self, batch: Any) -> VendiState:
        return vendi_state(batch)

    def _merge_states(self, a: VendiState, b: VendiState) -> VendiState:
        return merge_vendi_states(a, b)

    def _compute(self, state: VendiState) -> float:
        return vendi_from_state(state, self.q)
