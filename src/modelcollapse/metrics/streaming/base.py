"""The streaming metric contract: ``update(batch)``, ``compute()``, ``reset()``, ``merge(other)``.

Modelled on torchmetrics' ``Metric`` (``update``/``compute``/``reset`` over an explicit state):
the state is a sufficient statistic computed by the same pure helpers as the functional form,
and two states merge exactly, so shards processed on different workers (or a corpus streamed in
batches) give the same value as one pass over all the data.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar, Self

from modelcollapse.errors import InvalidParameterError


class StreamingMetric(ABC):
    """Base class of the streaming metrics.

    Subclasses define ``name``, keep their hyperparameters in ``_config()`` (two metrics merge
    only when these are equal) and implement ``_empty_state``, ``_batch_state``,
    ``_merge_states`` and ``_compute``. ``_merge_states(a, b)`` may update ``a`` in
    place (large vocabularies would otherwise be copied at every batch) but never modifies ``b``,
    so merging another shard leaves that shard intact.
    """

    name: ClassVar[str]

    def __init__(self) -> None:
        self.reset()

    # -- to implement --------------------------------------------------------------------------
    def _config(self) -> tuple[Any, ...]:
        """Hyperparameters that must agree for two metrics to merge."""
        return ()

    @abstractmethod
    def _empty_state(self) -> Any: ...

    @abstractmethod
    def _batch_state(self, batch: Any) -> Any: ...

    @abstractmethod
    def _merge_states(self, a: Any, b: Any) -> Any: ...

    @abstractmethod
    def _compute(self, state: Any) -> Any: ...

    # -- the contract ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything seen so far."""
        self.state = self._empty_state()

    def update(self, batch: Any) -> Self:
        """Add a batch of data; returns self so calls chain."""
        self.state = self._merge_states(self.state, self._batch_state(batch))
        return self

    def compute(self) -> Any:
        """The metric over everything seen so far (since the last ``reset``)."""
        return self._compute(self.state)

    def merge(self, other: StreamingMetric) -> Self:
        """Fold another shard's state into this one; returns self."""
        if type(other) is not type(self):
            raise InvalidParameterError(
                f"cannot merge {type(other).__name__} into {type(self).__name__}: expected the same metric"
            )
        if other._config() != self._config():
            raise InvalidParameterError(
                f"cannot merge {self.name} metrics with different settings: expected "
                f"{self._config()}, got {other._config()}"
            )
        self.state = self._merge_states(self.state, other.state)
        return self

    @classmethod
    def merged(cls, shards: Iterable[StreamingMetric]) -> StreamingMetric:
        """A new metric holding the merge of ``shards`` (all of this class and settings)."""
        shards = list(shards)
        if not shards:
            raise InvalidParameterError("merged: expected at least one shard, got none")
        first = shards[0]
        if not isinstance(first, cls):
            raise InvalidParameterError(
                f"merged: expected {cls.__name__} shards, got {type(first).__name__}"
            )
        out = copy.deepcopy(first)  # the merge updates states in place: never touch a shard
        for shard in shards[1:]:
            out.merge(shard)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._config()))})"
