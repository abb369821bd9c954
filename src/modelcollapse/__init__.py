"""modelcollapse: simulate, measure and guard against model collapse.

The public API is re-exported here and imported lazily, so ``import modelcollapse`` (and the
command line) stays fast::

    from modelcollapse import Gaussian, NGram, load_config, run_experiment
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # generators
    "Generator": "modelcollapse.generators.base",
    "Gaussian": "modelcollapse.generators.gaussian",
    "GaussianMixture": "modelcollapse.generators.gmm",
    "KDE": "modelcollapse.generators.kde",
    "Categorical": "modelcollapse.generators.categorical",
    "NGram": "modelcollapse.generators.ngram",
    "LinearRegression": "modelcollapse.generators.linear",
    # experiments
    "ExperimentConfig": "modelcollapse.loop.config",
    "load_config": "modelcollapse.loop.config",
    "parse_config": "modelcollapse.loop.config",
    "run_experiment": "modelcollapse.loop.runner",
    "Metrics": "modelcollapse.loop.results",
    # data
    "Document": "modelcollapse.data.document",
    "read_documents": "modelcollapse.data.readers",
    "read_data": "modelcollapse.data.readers",
    "write_jsonl": "modelcollapse.data.writers",
    "write_parquet": "modelcollapse.data.writers",
    "list_datasets": "modelcollapse.data.bundled",
    # errors
    "ModelCollapseError": "modelcollapse.errors",
    "InvalidParameterError": "modelcollapse.errors",
    "NotFittedError": "modelcollapse.errors",
    "DataError": "modelcollapse.errors",
    "MissingExtraError": "modelcollapse.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'modelcollapse' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
