"""What ``measure`` returns: one :class:`MetricResult` per metric and the verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


def _json_number(x: float | int | None) -> float | int | str | None:
    # JSON has no NaN or infinity: NaN becomes null, infinities the strings "inf" / "-inf".
    if x is None:
        return None
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


@dataclass
class MetricResult:
    """One metric of a measurement.

    ``candidate``/``reference``: the metric on the size-matched candidate and on the healthy
    stand-in from the reference (``n_matched`` records each, see :mod:`.arms`).
    ``ci_low``/``ci_high``: bootstrap interval of the candidate value; ``reference_ci_*`` the
    same for the reference value; ``delta_low``/``delta_high`` the interval of
    ``candidate - reference`` that the flag is decided on (:mod:`.verdict`). ``full_candidate``
    and ``full_reference`` are the values over the whole inputs, for metrics that stream, when
    the inputs were subsampled (else None).
    """

    name: str
    role: str | None
    higher_is_better: bool | None
    bad_direction: str | None  # "down", "up", or None (never flagged)
    candidate: float
    reference: float
    ci_low: float
    ci_high: float
    reference_ci_low: float
    reference_ci_high: float
    delta_low: float
    delta_high: float
    scale: float
    tolerance: float
    flagged: bool
    n_boot: int
    n_matched: int
    layout: str
    vectorised: bool = False
    full_candidate: float | None = None
    full_reference: float | None = None

    @property
    def change(self) -> float:
        """Relative change ``(candidate - reference) / scale`` (NaN when undefined)."""
        if not (math.isfinite(self.candidate) and math.isfinite(self.reference)):
            return math.nan
        if not math.isfinite(self.scale) or self.scale == 0:
            return math.nan
        return (self.candidate - self.reference) / self.scale

    @property
    def critical_tolerance(self) -> float:
        """The largest tolerance at which this metric would be flagged: ``-δ_hi / s`` when a
        fall is bad, ``δ_lo / s`` when a rise is (negative: not flagged even at tolerance 0).
        NaN for metrics that are never flagged. :mod:`.calibration` collects it."""
        if self.bad_direction is None or not (self.scale > 0 and math.isfinite(self.scale)):
            return math.nan
        if self.bad_direction == "down":
            return -self.delta_high / self.scale
        return self.delta_low / self.scale

    def to_dict(self) -> dict[str, Any]:
        out = {k: _json_number(v) for k, v in asdict(self).items() if k != "name"}
        out["change"] = _json_number(self.change)
        return out


@dataclass
class MeasureResult:
    """A candidate measured against a reference.

    ``verdict`` is ``"healthy"``, ``"early"`` or ``"late"``; ``reasons`` says which metrics
    drove it. ``seed`` is the seed of the metrics' random streams, drawn from the ``rng``
    given to ``measure`` (recorded so a result can be traced, not needed to reproduce it). ``n_candidate``/``n_reference`` count the records used (after any subsample cap),
    ``n_candidate_total``/``n_reference_total`` the good records read, ``n_bad_*`` the records
    quarantined. ``tokenizer`` names the tokenizer of the text metrics (None for other kinds).
    """

    verdict: str
    reasons: list[str]
    metrics: dict[str, MetricResult]
    kind: str
    n_candidate: int
    n_reference: int
    n_boot: int
    level: float
    seed: int
    n_candidate_total: int | None = None
    n_reference_total: int | None = None
    n_bad_candidate: int = 0
    n_bad_reference: int = 0
    notes: list[str] = field(default_factory=list)
    tokenizer: str | None = None

    @property
    def flagged(self) -> list[str]:
        return [name for name, m in self.metrics.items() if m.flagged]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``modelcollapse measure --json``."""
        return {
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "kind": self.kind,
            "tokenizer": self.tokenizer,
            "n_candidate": self.n_candidate,
            "n_reference": self.n_reference,
            "n_candidate_total": self.n_candidate_total,
            "n_reference_total": self.n_reference_total,
            "n_bad_candidate": self.n_bad_candidate,
            "n_bad_reference": self.n_bad_reference,
            "n_boot": self.n_boot,
            "level": self.level,
            "seed": self.seed,
            "notes": list(self.notes),
        }
