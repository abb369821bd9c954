"""``replace``: train generation ``g`` only on the synthetic set of generation ``g - 1``.

The setting of the classic collapse results (Shumailov et al. 2024, Nature 631): nothing real
survives past generation 0, so estimation errors compound and the distribution degenerates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.loop.data_ops import length
from modelcollapse.loop.policies.base import (
    Composition,
    Policy,
    PolicyContext,
    check_history,
    check_param_keys,
    counts_for,
)
from modelcollapse.loop.policies.registry import register


@register
class Replace(Policy):
    """Training set of generation g = ``history[-1]``. No parameters."""

    kind = "replace"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Replace:
        check_param_keys(cls.kind, params, ())
        return cls()

    def compose(
        self,
        real: Any,
        history: list,
        generation: int,
        rng: np.random.Generator,
        *,
        ctx: PolicyContext,
    ) -> Composition:
        check_history(history, generation)
        last = history[-1]
        return Composition(last, counts_for(synthetic=length(last)))
