"""Name -> Policy class. Unknown names get a "did you mean" suggestion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelcollapse.errors import unknown_name
from modelcollapse.loop.policies.base import Policy

_REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available under ``cls.kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    # Importing the modules runs their @register decorators.
    from modelcollapse.loop.policies import (  # noqa: F401
        accumulate,
        accumulate_subsample,
        filtered,
        fresh,
        replace,
    )


def available() -> list[str]:
    """Names of every registered policy, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get(kind: str) -> type[Policy]:
    """The policy class registered as ``kind``."""
    _load_builtins()
    if kind not in _REGISTRY:
        raise unknown_name("policy", str(kind), _REGISTRY)
    return _REGISTRY[kind]


def build(kind: str, params: Mapping[str, Any] | None = None) -> Policy:
    """A policy from a config's ``policy.kind`` and ``policy.params``."""
    return get(kind).from_params(params or {})
