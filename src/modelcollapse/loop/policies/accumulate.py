"""``accumulate``: train on the real data plus every synthetic set so far.

Gerstgrasser et al. 2024, "Is model collapse inevitable? Breaking the curse of recursion by
accumulating real and synthetic data": keeping the real data and all earlier generations bounds
the error (for linear regression by ``π²/6`` times the first generation's), where ``replace``
lets it grow without bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.loop.data_ops import concat, length
from modelcollapse.loop.policies.base import (
    Composition,
    Policy,
    PolicyContext,
    check_history,
    check_param_keys,
    counts_for,
)
from modelcollapse.loop.policies.registry import register


def accumulated_pool(real: Any, history: list) -> tuple[Any, int, int]:
    """``real`` followed by ``history[0], history[1], ...``; returns (pool, n_real, n_synthetic)."""
    pool = concat([real, *history])
    n_real = length(real)
    return pool, n_real, length(pool) - n_real


@register
class Accumulate(Policy):
    """Training set of generation g = real + history[0] + ... + history[g-1]. No parameters."""

    kind = "accumulate"

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Accumulate:
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
        pool, n_real, n_syn = accumulated_pool(real, history)
        return Composition(pool, counts_for(real=n_real, synthetic=n_syn))
