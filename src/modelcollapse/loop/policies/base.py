"""The Policy contract: which data the next generation is trained on.

A policy turns the real training data and the history of synthetic sets into the training set of
generation ``g >= 1`` (generation 0 is always fitted on the real data):

    compose(real, history, generation, rng, *, ctx) -> Composition(data, counts)

``history[i]`` is the synthetic set that generation ``i`` produced, so ``history[-1]`` is the
latest. A policy may also screen each new synthetic set before it enters the history
(``admit``); only the ``filtered`` policy does. ``counts`` report the provenance of the training
set (``n_real``, ``n_synthetic``, ``n_fresh``, ``n_train``) and, from ``admit``, ``n_rejected``.

Policies follow Shumailov et al. 2024 (replace), Gerstgrasser et al. 2024, "Is model collapse
inevitable?" (accumulate, accumulate-subsample), Bertrand et al. 2024, "On the stability of
iterative retraining of generative models on their own data" (fresh real data) and Feng et al.
2024, "Beyond model collapse: scaling up with synthesized data requires verification" (filtered).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from modelcollapse.errors import InvalidParameterError, did_you_mean
from modelcollapse.generators.base import Generator


@dataclass
class Composition:
    """A training set and where its rows came from (``n_real``, ``n_synthetic``, ...)."""

    data: Any
    counts: dict[str, int]


@dataclass
class Admission:
    """A synthetic set after screening, and how many samples were kept and rejected."""

    data: Any
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class PolicyContext:
    """What a policy may use besides the data.

    Attributes:
        samples_per_generation: ``N``, the size of each synthetic set.
        reference_model: the generation-0 model (fitted on real data), used by selectors.
        fresh_source: ``RealData.fresh``: ``(n, rng) -> n new real points``.
        fresh_rng: the replicate's ``Role.FRESH`` stream for this generation.
    """

    samples_per_generation: int
    reference_model: Generator | None = None
    fresh_source: Callable[[int, np.random.Generator], Any] | None = None
    fresh_rng: np.random.Generator | None = None

    def fresh(self, n: int, rng: np.random.Generator | None = None) -> Any:
        """``n`` fresh real points, drawn with ``rng`` or else with ``fresh_rng``."""
        if self.fresh_source is None:
            raise InvalidParameterError(
                "this policy needs fresh real data, but the context has no fresh_source"
            )
        rng = rng if rng is not None else self.fresh_rng
        if rng is None:
            raise InvalidParameterError("fresh: expected a numpy Generator, got None")
        return self.fresh_source(int(n), rng)


def check_param_keys(kind: str, params: Mapping[str, Any], allowed: Iterable[str]) -> dict:
    """Refuse unknown policy parameters, with a "did you mean" suggestion."""
    allowed = list(allowed)
    if not isinstance(params, Mapping):
        raise InvalidParameterError(
            f"policy.params for {kind!r}: expected a mapping, got {type(params).__name__}"
        )
    for key in params:
        if key not in allowed:
            expected = ", ".join(allowed) if allowed else "no parameters"
            raise InvalidParameterError(
                f"policy.params for {kind!r}: unknown key {key!r}"
                f"{did_you_mean(str(key), allowed)}; expected {expected}"
            )
    return dict(params)


def check_history(history: list, generation: int) -> None:
    """Generation ``g >= 1`` is composed from a non-empty history."""
    if generation < 1:
        raise InvalidParameterError(
            f"compose: expected generation >= 1 (generation 0 trains on real data), got {generation}"
        )
    if len(history) == 0:
        raise InvalidParameterError(
            "compose: expected at least one synthetic set in history, got none"
        )


def counts_for(*, real: int = 0, synthetic: int = 0, fresh: int = 0) -> dict[str, int]:
    """The standard provenance counts of a training set."""
    return {
        "n_real": int(real),
        "n_synthetic": int(synthetic),
        "n_fresh": int(fresh),
        "n_train": int(real + synthetic + fresh),
    }


class Policy(ABC):
    """Base class of the data policies. Subclasses set ``kind`` and register themselves."""

    kind: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_params(cls, params: Mapping[str, Any]) -> Policy:
        """Build from a config's ``policy.params``; unknown keys raise InvalidParameterError."""

    @abstractmethod
    def compose(
        self,
        real: Any,
        history: list,
        generation: int,
        rng: np.random.Generator,
        *,
        ctx: PolicyContext,
    ) -> Composition:
        """The training set of ``generation`` (>= 1)."""

    def admit(self, samples: Any, generation: int, *, ctx: PolicyContext) -> Admission:
        """Screen the synthetic set of ``generation`` before it enters the history.

        The default keeps everything. Selectors are deterministic, so no rng is passed.
        """
        return Admission(samples, {})

    def params(self) -> dict[str, Any]:
        """The parameters, as they would appear in a config."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
