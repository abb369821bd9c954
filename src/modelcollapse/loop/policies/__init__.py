"""Data policies: which data each generation of a recursive-training loop is trained on."""

from modelcollapse.loop.policies.base import Admission, Composition, Policy, PolicyContext
from modelcollapse.loop.policies.registry import available, build, get, register

__all__ = [
    "Admission",
    "Composition",
    "Policy",
    "PolicyContext",
    "available",
    "build",
    "get",
    "register",
]
