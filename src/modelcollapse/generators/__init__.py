"""Generative models with the Generator contract."""

from modelcollapse.generators.base import Generator
from modelcollapse.generators.registry import available, build, get

__all__ = ["Generator", "available", "build", "get"]
