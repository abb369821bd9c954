"""Name -> Generator class. Unknown names get a "did you mean" suggestion."""

from __future__ import annotations

import importlib
from typing import Any

from modelcollapse.errors import InvalidParameterError, unknown_name
from modelcollapse.generators.base import Generator

_REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    """Class decorator: make a generator available under ``cls.kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


# Built-in kinds -> the module that registers them. A module is imported only when its kind is
# asked for, so the neural generators (torch, transformers) cost nothing until used.
_BUILTINS: dict[str, str] = {
    "categorical": "categorical",
    "gaussian": "gaussian",
    "gmm": "gmm",
    "hf": "hf",
    "kde": "kde",
    "linear": "linear",
    "ngram": "ngram",
    "transformer": "transformer",
    "vae": "vae",
}


def available() -> list[str]:
    return sorted(set(_BUILTINS) | set(_REGISTRY))


def get(kind: str) -> type[Generator]:
    if kind not in _REGISTRY and kind in _BUILTINS:
        # Importing the module runs its @register decorator.
        importlib.import_module(f"modelcollapse.generators.{_BUILTINS[kind]}")
    if kind not in _REGISTRY:
        raise unknown_name("model kind", kind, available())
    return _REGISTRY[kind]


def build(kind: str, params: dict[str, Any] | None = None) -> Generator:
    cls = get(kind)
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise InvalidParameterError(f"model.params for {kind!r}: {exc}") from None
