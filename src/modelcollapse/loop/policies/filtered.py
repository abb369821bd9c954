"""``filtered``: synthetic samples must pass a selector before they are used.

Feng et al. 2024, "Beyond model collapse: scaling up with synthesized data requires
verification", and Alemohammad et al. 2023 (sampling bias as a selector): screening synthetic
data with an external scorer changes what the next generation learns. Here the scorer is the
generation-0 model (fitted on real data), a fixed reference that does not drift with the loop:

- ``selector: likelihood`` keeps the ``keep`` fraction of each synthetic set with the highest
  reference log-likelihood (``round(keep * n)``, at least one sample);
- ``selector: threshold`` keeps the samples whose reference log-likelihood is ``>= min_log_prob``.

Only screened sets enter the history; the training set is then built from that history by the
``base`` policy (``replace`` or ``accumulate``). ``admit`` reports ``n_rejected`` and ``n_kept``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.loop.data_ops import length, take
from modelcollapse.loop.policies.accumulate import Accumulate
from modelcollapse.loop.policies.base import (
    Admission,
    Composition,
    Policy,
    PolicyContext,
    check_param_keys,
)
from modelcollapse.loop.policies.registry import register
from modelcollapse.loop.policies.replace import Replace

_BASES: dict[str, type[Policy]] = {"replace": Replace, "accumulate": Accumulate}
_SELECTORS = ("likelihood", "threshold")


def _number(name: str, value: Any) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)):
        raise InvalidParameterError(
            f"policy.params.{name}: expected a finite number, got {value!r}"
        )
    return float(value)


@register
class Filtered(Policy):
    """Screen each synthetic set with the reference model's log-likelihood, then apply ``base``.

    Parameters:
        selector: ``"likelihood"`` (top fraction) or ``"threshold"`` (minimum log-likelihood).
        keep: fraction kept by the likelihood selector, in (0, 1]; default 0.9.
        min_log_prob: threshold in nats per sample (per row, per document for text); required
            by ``selector: threshold``.
        base: ``"replace"`` (default) or ``"accumulate"``.
    """

    kind = "filtered"

    def __init__(
        self,
        *,
        selector: str = "likelihood",
        keep: float = 0.9,
        min_log_prob: float | None = None,
        base: str = "replace",
    ):
        if selector not in _SELECTORS:
            raise InvalidParameterError(
                f"policy.params.selector: expected one of {', '.join(_SELECTORS)}, got {selector!r}"
            )
        if base not in _BASES:
            raise InvalidParameterError(
                f"policy.params.base: expected one of {', '.join(_BASES)}, got {base!r}"
            )
        keep = _number("keep", keep)
        if not 0.0 < keep <= 1.0:
            raise InvalidParameterError(
                f"policy.params.keep: expected a number in (0, 1], got {keep!r}"
            )
        if selector == "threshold":
            if min_log_prob is None:
                raise InvalidParameterError(
                    "policy.params.min_log_prob: expected a number for selector 'threshold', got null"
                )
            min_log_prob = _number("min_log_prob", min_log_prob)
        elif min_log_prob is not None:
            raise InvalidParameterError(
                "policy.params.min_log_prob: only used by selector 'threshold', "
                f"got {min_log_prob!r} with selector {selector!r}"
            )
        self.selector = selector
        self.keep = keep
        self.min_log_prob = min_log_prob
        self.base = base
        self._base = _BASES[base]()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Filtered:
        allowed = ("selector", "keep", "min_log_prob", "base")
        return cls(**check_param_keys(cls.kind, params, allowed))

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"selector": self.selector, "base": self.base}
        if self.selector == "likelihood":
            out["keep"] = self.keep
        else:
            out["min_log_prob"] = self.min_log_prob
        return out

    def scores(self, samples: Any, ctx: PolicyContext) -> np.ndarray:
        """Reference log-likelihood of each sample (higher = more like the real data)."""
        if ctx.reference_model is None:
            raise InvalidParameterError(
                "filtered: expected a reference model in the context, got None"
            )
        scores = np.asarray(ctx.reference_model.log_prob(samples), dtype=np.float64)
        if scores.shape != (length(samples),):
            raise DataError(
                f"filtered: expected one score per sample ({length(samples)}), got shape {scores.shape}"
            )
        # NaN never passes a selector; -inf sorts last.
        return np.where(np.isnan(scores), -np.inf, scores)

    def admit(self, samples: Any, generation: int, *, ctx: PolicyContext) -> Admission:
        n = length(samples)
        if n == 0:
            return Admission(samples, {"n_kept": 0, "n_rejected": 0})
        scores = self.scores(samples, ctx)
        if self.selector == "likelihood":
            n_keep = min(n, max(1, math.floor(self.keep * n + 0.5)))
            # Stable sort on the negated score: ties keep sample order, so the result is
            # deterministic; the kept samples are returned in their original order.
            order = np.argsort(-scores, kind="stable")
            idx = np.sort(order[:n_keep])
        else:
            idx = np.flatnonzero(scores >= self.min_log_prob)
        return Admission(
            take(samples, idx), {"n_kept": int(idx.size), "n_rejected": n - int(idx.size)}
        )

    def compose(
        self,
        real: Any,
        history: list,
        generation: int,
        rng: np.random.Generator,
        *,
        ctx: PolicyContext,
    ) -> Composition:
        comp = self._base.compose(real, history, generation, rng, ctx=ctx)
        if length(comp.data) == 0:
            raise DataError(
                f"filtered: the selector rejected every synthetic sample before generation "
                f"{generation}; expected a non-empty training set, got 0 rows "
                "(lower min_log_prob or raise keep)"
            )
        return comp
