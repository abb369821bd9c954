"""Registered metrics for numeric data (float arrays (n, d)); each wraps a functional form."""

from __future__ import annotations

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.gaussian import gaussian_nll
from modelcollapse.metrics.functional.likelihood import nll as _nll
from modelcollapse.metrics.functional.moments import (
    data_mean,
    data_variance,
    model_mean,
    model_variance,
)
from modelcollapse.metrics.functional.moments import variance_ratio as _variance_ratio
from modelcollapse.metrics.functional.tail import GAUSSIAN_KINDS
from modelcollapse.metrics.functional.tail import tail_coverage as _tail_coverage
from modelcollapse.metrics.functional.validation import as_points, model_moments
from modelcollapse.metrics.functional.wasserstein import w2 as _w2
from modelcollapse.metrics.registry import metric

_SHUMAILOV = (
    "Shumailov et al. 2024, AI models collapse when trained on recursively generated data, "
    "Nature 631"
)


@metric(
    "mean",
    "numeric",
    higher_is_better=None,
    needs_reference=False,
    citation=_SHUMAILOV,
    description="average over coordinates of the model mean (random-walks under collapse)",
)
def mean(ctx: MetricContext) -> float:
    if ctx.model is None:  # measure mode: the candidate's own distribution
        return data_mean(ctx.samples)
    return model_mean(ctx.model)


@metric(
    "variance",
    "numeric",
    higher_is_better=None,
    needs_reference=False,
    citation=_SHUMAILOV,
    description="trace of the model covariance (goes to 0 under collapse)",
)
def variance(ctx: MetricContext) -> float:
    if ctx.model is None:  # measure mode: the candidate's own (ML) total variance
        return data_variance(ctx.samples)
    return model_variance(ctx.model)


@metric(
    "variance_ratio",
    "numeric",
    higher_is_better=None,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="model variance / ML (ddof 0) variance of the real training data; 1 at generation 0 (MLE)",
)
def variance_ratio(ctx: MetricContext) -> float:
    return _variance_ratio(ctx.model, ctx.reference)


@metric(
    "w2",
    "numeric",
    higher_is_better=False,
    needs_reference=True,
    citation="Dowson & Landau 1982, The Fréchet distance between multivariate normal distributions",
    description="2-Wasserstein distance between the model's Gaussian moments and the real distribution",
)
def w2(ctx: MetricContext) -> float:
    return _w2(ctx.model, ctx.reference, ctx.heldout, ctx.truth)


@metric(
    "nll",
    "numeric",
    higher_is_better=False,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="mean negative log-likelihood (nats) of held-out real data under the model",
)
def nll(ctx: MetricContext) -> float:
    if getattr(ctx.model, "kind", None) in GAUSSIAN_KINDS:
        # Closed form, as in the vectorised engine: a collapsed (singular) Gaussian gives +inf
        # for held-out points off its support instead of stopping the run.
        mean, cov = model_moments(ctx.model, "nll")
        return float(gaussian_nll(as_points(ctx.heldout, "heldout"), mean, cov))
    return _nll(ctx.model, ctx.heldout)


@metric(
    "tail_coverage",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_SHUMAILOV + "; Hyndman 1996, Computing and graphing highest density regions",
    description="share of held-out real tail points inside the model's 99.9% highest-density region (about 0.95 for a model equal to the truth)",
)
def tail_coverage(ctx: MetricContext) -> float:
    return _tail_coverage(ctx.model, ctx.reference, ctx.heldout, ctx.samples)
