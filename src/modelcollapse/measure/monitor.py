"""Monitor: measure dataset or model versions, in order, against one human reference.

Each version is measured on its own (:func:`~modelcollapse.measure.measure.measure` or, for
files, :func:`~modelcollapse.measure.files.measure_files`) with the same seed, so two versions
with the same data get the same numbers, and the trend is read across their verdicts: the
*first* version whose verdict reaches ``early`` (or beyond) and the first that reaches ``late``
are flagged. Versions are independent measurements: the reference is split and subsampled the
same way for each of them (same seed), so the reference values of a metric agree across the
row of a trend table whenever the candidates have the same size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.measure.files import measure_files
from modelcollapse.measure.measure import measure
from modelcollapse.measure.result import MeasureResult
from modelcollapse.measure.verdict import reaches


@dataclass
class MonitorResult:
    """Measurements of versions in order; ``first_early``/``first_late`` name the first version
    whose verdict reaches that stage (None when none does)."""

    names: list[str]
    results: list[MeasureResult]

    def first_reaching(self, stage: str) -> str | None:
        for name, result in zip(self.names, self.results, strict=True):
            if reaches(result.verdict, stage):
                return name
        return None

    @property
    def first_early(self) -> str | None:
        return self.first_reaching("early")

    @property
    def first_late(self) -> str | None:
        return self.first_reaching("late")

    def worst(self) -> str:
        """The most advanced verdict of any version."""
        return max(
            (r.verdict for r in self.results), key=lambda v: ("healthy", "early", "late").index(v)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "versions": [
                {"name": name, **result.to_dict()}
                for name, result in zip(self.names, self.results, strict=True)
            ],
            "first_early": self.first_early,
            "first_late": self.first_late,
        }


def _seed(rng: np.random.Generator | int) -> int:
    # One seed for every version: each measurement then splits the reference identically.
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    raise InvalidParameterError(
        f"rng: expected a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )


def _names(names: Sequence[str] | None, n: int) -> list[str]:
    if names is None:
        return [f"v{i + 1}" for i in range(n)]
    names = [str(x) for x in names]
    if len(names) != n:
        raise InvalidParameterError(f"names: expected {n} version names, got {len(names)}")
    return names


def monitor(
    reference: Any,
    candidates: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    rng: np.random.Generator | int,
    **measure_kwargs: Any,
) -> MonitorResult:
    """Measure each candidate (in-memory data) against ``reference``; see the module doc."""
    if not candidates:
        raise InvalidParameterError("candidates: expected at least one version, got none")
    seed = _seed(rng)
    labels = _names(names, len(candidates))
    results = [measure(reference, c, rng=seed, **measure_kwargs) for c in candidates]
    return MonitorResult(labels, results)


def monitor_files(
    reference: str | Path,
    candidates: Sequence[str | Path],
    *,
    rng: np.random.Generator | int,
    **measure_kwargs: Any,
) -> MonitorResult:
    """:func:`monitor` on files, each read in bounded memory (:func:`measure_files`); the
    versions are named by their paths."""
    if not candidates:
        raise InvalidParameterError("candidates: expected at least one version file, got none")
    seed = _seed(rng)
    results = [measure_files(reference, c, rng=seed, **measure_kwargs) for c in candidates]
    return MonitorResult([str(c) for c in candidates], results)
