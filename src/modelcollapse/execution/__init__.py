"""Executors: run the same tasks locally (process pool) or on a Ray cluster.

See :mod:`modelcollapse.execution.base` for the interface and :func:`get_executor`.
"""

from modelcollapse.execution.base import EXECUTORS, Executor, get_executor
from modelcollapse.execution.local import LocalExecutor

__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "get_executor"]
