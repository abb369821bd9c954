"""The Generator contract (scikit-learn's estimator contract, made safe for recursive loops).

- ``__init__`` takes keyword-only hyperparameters and only stores them.
- Learned state is stored in attributes whose names end in ``_``.
- ``fit(data, *, rng=None) -> self``; ``sample(n, *, rng) -> data``; ``log_prob(data) -> ndarray``.
- Every sampler takes its random generator as an argument; nothing touches global random state.
- ``state_dict()``/``load_state_dict()`` turn the learned state into plain numpy arrays so
  checkpoints are ``.npz`` files that load with ``allow_pickle=False``.

Data kinds:

- ``numeric``: float array of shape (n, d).
- ``discrete``: int array of shape (n,) with values in ``[0, n_categories)``.
- ``text``: ``list[str]``, one document per item.
- ``regression``: float array of shape (n, d + 1); the last column is the label.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Literal, Self

import numpy as np

from modelcollapse.errors import InvalidParameterError, NotFittedError

DataKind = Literal["numeric", "discrete", "text", "regression"]


class Generator(ABC):
    """Base class of every generative model in the toolkit."""

    kind: ClassVar[str]
    data_kind: ClassVar[DataKind]
    # How the run store writes ``state_dict()``: inside the generation's ``.npz``, or (for
    # neural weights) as a separate ``.safetensors`` file. Neither format ever unpickles.
    checkpoint_format: ClassVar[Literal["npz", "safetensors"]] = "npz"

    # -- hyperparameters -------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY
        ]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise InvalidParameterError(
                    f"{type(self).__name__} has no parameter {key!r}; expected one of {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def clone(self) -> Self:
        """A new, unfitted generator with the same hyperparameters."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- the contract ----------------------------------------------------------------------
    @abstractmethod
    def fit(self, data: Any, *, rng: np.random.Generator | None = None) -> Self: ...

    @abstractmethod
    def sample(self, n: int, *, rng: np.random.Generator) -> Any: ...

    def log_prob(self, data: Any) -> np.ndarray:
        """Log-likelihood per row (per document for text, in nats)."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Learned state as numpy arrays (no object arrays), for ``np.savez``."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        """Restore learned state written by ``state_dict``; returns self."""

    # -- helpers for implementations -------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(data) before using it"
            )


def check_n(n: Any) -> int:
    """Validate a sample count."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InvalidParameterError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def check_rng(rng: Any) -> np.random.Generator:
    """Samplers require an explicit numpy Generator."""
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"rng must be a numpy.random.Generator (randomness is always explicit), got {type(rng).__name__}"
        )
    return rng
