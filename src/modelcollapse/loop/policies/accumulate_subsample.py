"""``accumulate-subsample``: the accumulated pool, cut to a fixed budget.

Gerstgrasser et al. 2024 (Sec. 5) and Kazdan et al. 2024, "Collapse or thrive? Perils and
promises of synthetic data in a self-generating world": accumulating helps partly because the
training set grows; with a fixed compute budget the pool (real + every synthetic set) is
subsampled uniformly, without replacement, to ``budget`` rows each generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.data_ops import length, take
from modelcollapse.loop.policies.accumulate import accumulated_pool
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
class AccumulateSubsample(Policy):
    """Uniform subsample, without replacement, of real + history, of size ``budget``.

    Parameters:
        budget: rows in each training set; default (None) = ``len(real)``. When the pool is
            smaller than the budget the whole pool is used.
    """

    kind = "accumulate-subsample"

    def __init__(self, *, budget: int | None = None):
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1
        ):
            raise InvalidParameterError(
                f"policy.params.budget: expected an integer >= 1 or null, got {budget!r}"
            )
        self.budget = None if budget is None else int(budget)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AccumulateSubsample:
        return cls(**check_param_keys(cls.kind, params, ("budget",)))

    def params(self) -> dict[str, Any]:
        return {"budget": self.budget}

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
        pool, n_real, _ = accumulated_pool(real, history)
        n_pool = length(pool)
        budget = n_real if self.budget is None else self.budget
        size = min(budget, n_pool)
        # Sorted indices keep the pool's order (real first), which makes runs easy to inspect.
        idx = np.sort(rng.choice(n_pool, size=size, replace=False))
        chosen_real = int(np.count_nonzero(idx < n_real))
        return Composition(
            take(pool, idx), counts_for(real=chosen_real, synthetic=size - chosen_real)
        )
