"""The verdict: healthy, early-stage or late-stage collapse, from flagged metrics.

Collapse has two stages (Shumailov et al. 2024, "AI models collapse when trained on recursively
generated data", Nature 631, Sec. 2): *early*, the tails of the distribution disappear while
the bulk still looks right; *late*, the distribution contracts (variance and diversity gone,
repetition up) and no longer resembles the original (fidelity lost).

**Roles.** Each metric plays one role (``MetricSpec.role``, else :data:`DEFAULT_ROLES`):

=============  ===============================================  ==========
role           metrics                                          bad when
=============  ===============================================  ==========
``tail``       rare_recall, tail_coverage, extreme-quantile     down
               ratios, prdc recall/coverage
``spread``     variance                                         down
``diversity``  vocab_size, entropy, distinct-n,                 down
               ngram_diversity, vendi
``repetition`` self_bleu, rep_n, self_repetition, compression   up
``fidelity``   perplexity, nll, kl, js, frechet, mmd, mauve,    per metric
               sliced Wasserstein, prdc precision/density
=============  ===============================================  ==========

"Bad when" comes from the metric's ``higher_is_better`` when set, else from the role. Metrics
without a role (mean, zipf_exponent, ...) are reported but never flagged.

**Flag.** Let ``c`` be the candidate value, ``r`` the value of the size-matched healthy
stand-in from the reference (:mod:`.arms`), ``[δ_lo, δ_hi]`` the bootstrap interval of the
difference ``δ = c - r`` (:mod:`.bootstrap`), ``s`` the metric's scale and ``t`` its tolerance.
A metric whose bad direction is down is flagged when the whole interval lies below the healthy
range, ``δ_hi < -t·s`` (it is *significantly* down, by more than ``t`` scales); one whose bad
direction is up when ``δ_lo > t·s``.

The scale makes ``t`` a practical effect size (:data:`EFFECTS`):

- ``relative`` (most metrics): ``s = max(|r|, se(r))``, so ``t`` is a share of the healthy value
  (``se`` is the bootstrap standard error of ``r``, a floor for values near 0);
- ``absolute``: ``s = 1``, ``t`` in the metric's own bounded units (JS and KL in nats, MMD²,
  MAUVE). These divergences are 0 for identical distributions, so their healthy value ``r`` is
  sampling noise, shrinking with the sample size: a share of it is no effect size at all;
- ``variance`` / ``std``: ``s`` = the reference's total variance ``tr Σ`` (Fréchet distance,
  a squared distance) or its per-coordinate standard deviation ``sqrt(tr Σ / d)`` (sliced
  Wasserstein, a distance), so ``t`` is a share of the reference's own spread.

**Verdict.** With ``tail``, ``collapse`` (spread or diversity), ``repetition`` and
``fidelity`` meaning "some metric of that role is flagged":

- ``late`` when ``fidelity`` and (``collapse`` or ``repetition``). When no fidelity metric was
  measured at all: when ``collapse`` and ``repetition``.
- else ``early`` when ``tail``: the tails are significantly down while the bulk holds; and
  also when ``collapse`` or ``repetition`` alone is flagged while fidelity holds (collapse
  has begun but has not yet cost fidelity).
- else ``healthy``.

A fidelity flag alone (the candidate differs from the reference without losing tails or
diversity: a distribution shift, not collapse) leaves the verdict ``healthy`` and is named in
the reasons.

**Calibration.** See :mod:`.calibration` for the procedure and :data:`TOLERANCES` for the
constants and the figures they were chosen from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from modelcollapse.metrics.registry import ROLES, MetricSpec

Verdict = Literal["healthy", "early", "late"]
VERDICTS: tuple[Verdict, ...] = ("healthy", "early", "late")
STAGE = {"healthy": 0, "early": 1, "late": 2}

DEFAULT_ROLES: dict[str, str] = {
    # text
    "rare_recall": "tail",
    "vocab_size": "diversity",
    "entropy": "diversity",
    "distinct_2": "diversity",
    "distinct_n": "diversity",
    "ngram_diversity": "diversity",
    "self_bleu": "repetition",
    "self_repetition": "repetition",
    "rep_n": "repetition",
    "compression_ratio": "repetition",
    "perplexity": "fidelity",
    "kl": "fidelity",
    "js": "fidelity",
    # numeric and embeddings
    "tail_coverage": "tail",
    "extreme_quantile_ratio": "tail",
    "recall": "tail",
    "coverage": "tail",
    "variance": "spread",
    "vendi_score": "diversity",
    "nll": "fidelity",
    "w2": "fidelity",
    "frechet_distance": "fidelity",
    "sliced_wasserstein": "fidelity",
    "mmd": "fidelity",
    "mauve": "fidelity",
    "precision": "fidelity",
    "density": "fidelity",
}

# Minimum relative effect (share of the healthy value) before a significant change is flagged.
# Chosen by modelcollapse.measure.calibration; see the figures in that module's docstring.
TOLERANCES: dict[str, float] = {
    "tail": 0.05,
    "spread": 0.10,
    "diversity": 0.02,
    "repetition": 0.10,
    "fidelity": 0.05,
}

# How a metric's effect is measured (module docstring); metrics not listed are "relative".
EFFECTS: dict[str, str] = {
    "js": "absolute",
    "kl": "absolute",
    "mmd": "absolute",
    "mauve": "absolute",
    "frechet_distance": "variance",
    "sliced_wasserstein": "std",
}

# Per-metric tolerances in the metric's effect units, overriding the role's.
METRIC_TOLERANCES: dict[str, float] = {
    "vocab_size": 0.06,  # its bootstrap interval under-covers (see calibration.py)
    "rep_n": 0.37,  # near 0 on human text, so its relative noise is large
    "self_repetition": 0.22,  # whitespace 4-grams: one KJV split of 100 reached 0.149
    "extreme_quantile_ratio": 0.12,  # extreme quantiles of discrete pixels jump (digits)
    "vendi_score": 0.04,  # sentence embeddings of KJV halves: up to 0.025
    "js": 0.02,
    "kl": 0.05,
    "mmd": 0.02,
    "mauve": 0.1,
    "frechet_distance": 0.1,
    "sliced_wasserstein": 0.1,
}

_DOWN_IS_BAD = {"tail": True, "spread": True, "diversity": True, "repetition": False}


def role_of(spec: MetricSpec, name: str | None = None) -> str | None:
    """The metric's role: the registry's when set, else the default table's (by name or by the
    name's prefix before ``[`` or ``@``, so ``extreme_quantile_ratio@0.99`` is a tail metric)."""
    if spec.role is not None:
        return spec.role
    key = name or spec.name
    for candidate in (key, key.split("[")[0], key.split("@")[0], key.rsplit(".", 1)[-1]):
        if candidate in DEFAULT_ROLES:
            return DEFAULT_ROLES[candidate]
    return None


def down_is_bad(spec: MetricSpec, role: str | None) -> bool | None:
    """True when a fall is bad, False when a rise is, None when the metric is never flagged."""
    if role is None:
        return None
    if spec.higher_is_better is not None:
        return spec.higher_is_better
    return _DOWN_IS_BAD.get(role)


def _base_name(name: str) -> str:
    return name.split("[")[0].split("@")[0].rsplit(".", 1)[-1]


def effect_of(name: str) -> str:
    """``relative``, ``absolute``, ``variance`` or ``std`` (see :data:`EFFECTS`)."""
    return EFFECTS.get(_base_name(name), "relative")


def tolerance_of(
    role: str | None, overrides: dict[str, float] | None = None, name: str | None = None
) -> float:
    """The tolerance of a metric: ``overrides`` (by role, or by metric name), then
    :data:`METRIC_TOLERANCES`, then the role's :data:`TOLERANCES`."""
    if role is None:
        return math.nan
    overrides = overrides or {}
    base = _base_name(name) if name is not None else None
    if base is not None and base in overrides:
        return float(overrides[base])
    if role in overrides:
        return float(overrides[role])
    if base is not None and base in METRIC_TOLERANCES:
        return METRIC_TOLERANCES[base]
    return float(TOLERANCES[role])


def effect_scale(
    effect: str, reference: float, se: float, spread: tuple[float, int] | None = None
) -> float:
    """The scale ``s`` of the module docstring. ``spread`` is ``(tr Σ_ref, d)`` for numeric
    data (needed by the ``variance`` and ``std`` effects; NaN without it)."""
    if effect == "absolute":
        return 1.0
    if effect in ("variance", "std"):
        if spread is None or not spread[0] > 0:
            return math.nan
        return spread[0] if effect == "variance" else math.sqrt(spread[0] / spread[1])
    if math.isfinite(se):
        return max(abs(reference), se)
    return abs(reference)


def is_flagged(
    down_bad: bool | None, delta_low: float, delta_high: float, scale: float, tol: float
) -> bool:
    """The flag rule of the module docstring (False whenever an input is undefined)."""
    if down_bad is None or not (math.isfinite(scale) and math.isfinite(tol)):
        return False
    if down_bad:
        return bool(delta_high < -tol * scale)
    return bool(delta_low > tol * scale)


@dataclass(frozen=True)
class Decision:
    """The verdict and the reasons behind it."""

    verdict: Verdict
    reasons: list[str]


def decide(flags: dict[str, list[str]], measured_roles: set[str]) -> Decision:
    """The verdict from the flagged metric names per role (see the module docstring)."""
    unknown = set(flags) - set(ROLES)
    if unknown:
        raise ValueError(f"decide: expected roles among {ROLES}, got {sorted(unknown)}")
    tail = bool(flags.get("tail"))
    collapse = bool(flags.get("spread")) or bool(flags.get("diversity"))
    repetition = bool(flags.get("repetition"))
    fidelity = bool(flags.get("fidelity"))
    reasons = [f"{role}: {', '.join(names)} flagged" for role, names in flags.items() if names]
    if "fidelity" in measured_roles:
        late = fidelity and (collapse or repetition)
    else:
        late = collapse and repetition
    if late:
        return Decision("late", reasons)
    if tail or collapse or repetition:
        return Decision("early", reasons)
    if reasons:
        reasons.append("no collapse signature: healthy (a fidelity change alone is a shift)")
    return Decision("healthy", reasons)


def reaches(verdict: str, stage: str) -> bool:
    """Whether ``verdict`` is at or beyond ``stage`` (``late`` reaches ``early``)."""
    return STAGE[verdict] >= STAGE[stage]
