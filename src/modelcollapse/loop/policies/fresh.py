"""``fresh``: each generation mixes a fraction ``lambda`` of fresh real data into its training set.

Bertrand et al. 2024, "On the stability of iterative retraining of generative models on their
own data" (ICLR): with a large enough share of real data each generation the retraining loop is
stable. Here the training set of generation ``g >= 1`` has ``N`` rows (``N`` = the number of
samples per generation): ``k = round(lambda * N)`` new real points (``RealData.fresh``, i.e. drawn
from the true distribution for synthetic sources, resampled from the dataset otherwise) plus
``N - k`` points of the last synthetic set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.data_ops import concat, length, take
from modelcollapse.loop.policies.base import (
    Composition,
    Policy,
    PolicyContext,
    check_history,
    check_param_keys,
    counts_for,
)
from modelcollapse.loop.policies.registry import register


def n_fresh(lam: float, n: int) -> int:
    """``round(lam * n)`` with halves rounded up (Python's ``round`` rounds halves to even)."""
    return math.floor(lam * n + 0.5)


@register
class Fresh(Policy):
    """``round(lambda N)`` fresh real points + ``N - round(lambda N)`` points of ``history[-1]``.

    Parameters:
        lambda: share of fresh real data in [0, 1]; 0 is ``replace``, 1 retrains on new real data
            every generation.
    """

    kind = "fresh"

    def __init__(self, *, lam: float = 0.1):
        ok = isinstance(lam, (int, float, np.integer, np.floating)) and not isinstance(lam, bool)
        if not ok or not (0.0 <= float(lam) <= 1.0):
            raise InvalidParameterError(
                f"policy.params.lambda: expected a number in [0, 1], got {lam!r}"
            )
        self.lam = float(lam)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Fresh:
        p = check_param_keys(cls.kind, params, ("lambda",))
        return cls(lam=p.get("lambda", 0.1))

    def params(self) -> dict[str, Any]:
        return {"lambda": self.lam}

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
        n = ctx.samples_per_generation
        k = n_fresh(self.lam, n)
        last = history[-1]
        n_syn = min(n - k, length(last))
        # The synthetic rows are a uniform subset (not the first rows) so the policy stays correct
        # when a synthetic set is not exchangeable, e.g. after a selector reordered it.
        syn = take(last, np.sort(rng.choice(length(last), size=n_syn, replace=False)))
        if k == 0:
            return Composition(syn, counts_for(synthetic=n_syn))
        new = ctx.fresh(k)
        return Composition(concat([new, syn]), counts_for(synthetic=n_syn, fresh=length(new)))
