"""Registered metrics for discrete data (category indices); they read the model's ``probs_``."""

from __future__ import annotations

import numpy as np

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.discrete import category_counts, kl_divergence
from modelcollapse.metrics.functional.discrete import entropy as _entropy
from modelcollapse.metrics.functional.discrete import lost_mass as _lost_mass
from modelcollapse.metrics.functional.discrete import support_size as _support_size
from modelcollapse.metrics.functional.validation import model_attr
from modelcollapse.metrics.registry import metric

_SHUMAILOV = (
    "Shumailov et al. 2024, AI models collapse when trained on recursively generated data, "
    "Nature 631 (discrete distributions, Sec. 3)"
)


def _model_probs(ctx: MetricContext, name: str) -> np.ndarray:
    return np.asarray(model_attr(ctx.model, "probs_", name), dtype=np.float64)


def real_probs(ctx: MetricContext) -> np.ndarray:
    """The true probabilities when known, else the empirical frequencies of the reference."""
    if ctx.truth is not None and "probs" in ctx.truth:
        return np.asarray(ctx.truth["probs"], dtype=np.float64)
    return category_counts(ctx.reference).astype(np.float64)


@metric(
    "support_size",
    "discrete",
    higher_is_better=True,
    needs_reference=False,
    citation=_SHUMAILOV,
    description="number of categories with positive model probability",
)
def support_size(ctx: MetricContext) -> float:
    return _support_size(_model_probs(ctx, "support_size"))


@metric(
    "entropy",
    "discrete",
    higher_is_better=True,
    needs_reference=False,
    citation="Shannon 1948, A mathematical theory of communication",
    description="Shannon entropy (nats) of the model probabilities",
)
def entropy(ctx: MetricContext) -> float:
    return _entropy(_model_probs(ctx, "entropy"))


@metric(
    "lost_mass",
    "discrete",
    higher_is_better=False,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="real probability mass on categories the model gives zero probability",
)
def lost_mass(ctx: MetricContext) -> float:
    return _lost_mass(_model_probs(ctx, "lost_mass"), real_probs(ctx))


@metric(
    "kl",
    "discrete",
    higher_is_better=False,
    needs_reference=True,
    citation="Kullback & Leibler 1951, On information and sufficiency",
    description="KL(p_model || p_real) in nats; finite while the real distribution has full support",
)
def kl(ctx: MetricContext) -> float:
    return kl_divergence(_model_probs(ctx, "kl"), real_probs(ctx))
