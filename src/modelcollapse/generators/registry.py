"""Name -> Generator class. Unknown names get a "did you mean" suggestion."""

from __future__ import annotations

from typing import Any

from modelcollapse.errors import InvalidParameterError, unknown_name
from modelcollapse.generators.base import Generator

_REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    """Class decorator: make a generator available under ``cls.kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    # Importing the modules runs their @register decorators.
    from modelcollapse.generators import (  # noqa: F401
        categorical,
        gaussian,
        gmm,
        kde,
        linear,
        ngram,
    )


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get(kind: str) -> type[Generator]:
    _load_builtins()
    if kind not in _REGISTRY:
        raise unknown_name("model kind", kind, _REGISTRY)
    return _REGISTRY[kind]


def build(kind: str, params: dict[str, Any] | None = None) -> Generator:
    cls = get(kind)
    try:
        return cls(**(params or {}))
    except TypeError as exc:
        raise InvalidParameterError(f"model.params for {kind!r}: {exc}") from None
