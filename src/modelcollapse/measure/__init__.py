"""Measure: compare a candidate dataset (or a model's samples) with a held-out human reference,
with bootstrap confidence intervals, and say whether it shows early- or late-stage collapse.

See :mod:`modelcollapse.measure.measure` (the entry point), :mod:`.verdict` (the rules),
:mod:`.calibration` (how the thresholds were chosen), :mod:`.files` (reading inputs larger
than memory), :mod:`.sharded` (sharded inputs, one task per shard on an executor) and
:mod:`.monitor` (a trend over versions).
"""

from modelcollapse.measure.files import measure_files
from modelcollapse.measure.measure import DEFAULT_METRICS, default_metric_names, measure
from modelcollapse.measure.monitor import MonitorResult, monitor, monitor_files
from modelcollapse.measure.result import MeasureResult, MetricResult
from modelcollapse.measure.sharded import measure_shards
from modelcollapse.measure.verdict import DEFAULT_ROLES, METRIC_TOLERANCES, TOLERANCES, VERDICTS

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_ROLES",
    "METRIC_TOLERANCES",
    "TOLERANCES",
    "VERDICTS",
    "MeasureResult",
    "MetricResult",
    "MonitorResult",
    "default_metric_names",
    "measure",
    "measure_files",
    "measure_shards",
    "monitor",
    "monitor_files",
]
