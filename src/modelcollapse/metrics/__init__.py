"""Metrics: pure functions (``functional``), mergeable streaming classes (``streaming``) and a
registry keyed by (name, data kind) that the experiment loop calls through ``compute``."""

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional import *  # noqa: F403  (the functional API, see its __all__)
from modelcollapse.metrics.functional import __all__ as _functional_all
from modelcollapse.metrics.registry import (
    MetricSpec,
    available,
    compute,
    default_metrics,
    get,
    metric,
    register,
)
from modelcollapse.metrics.streaming import *  # noqa: F403
from modelcollapse.metrics.streaming import __all__ as _streaming_all

__all__ = [
    "MetricContext",
    "MetricSpec",
    "available",
    "compute",
    "default_metrics",
    "get",
    "metric",
    "register",
    *_functional_all,
    *_streaming_all,
]
