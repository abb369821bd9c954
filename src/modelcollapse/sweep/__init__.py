"""Sweeps: one experiment config, many runs (a grid and/or a list of overrides), one results
table. See :mod:`modelcollapse.sweep.spec` for the file format and
:mod:`modelcollapse.sweep.runner` for the directory layout and resume rules.
"""

from modelcollapse.sweep.expand import Run, expand, run_id
from modelcollapse.sweep.results import read_results
from modelcollapse.sweep.runner import SweepResult, read_sweep, run_sweep
from modelcollapse.sweep.spec import SweepSpec, load_sweep, parse_sweep

__all__ = [
    "Run",
    "SweepResult",
    "SweepSpec",
    "expand",
    "load_sweep",
    "parse_sweep",
    "read_results",
    "read_sweep",
    "run_id",
    "run_sweep",
]
