"""Registered two-sample metrics for numeric data and embeddings (float arrays (n, d)).

Each wraps a functional form and is registered for data kind ``numeric``, which ``measure``
also uses for ``--kind embedding`` (embeddings are numeric vectors; see
``modelcollapse.measure.measure.registry_kind``). What they compare:

- the candidate is ``ctx.samples`` (a model's samples, or the candidate dataset in ``measure``);
- the real sample is ``ctx.heldout`` when present, else ``ctx.reference``: in ``simulate`` the
  held-out real data (the model never trained on it), in ``measure`` the human reference.

Randomness (projections, k-means starts, the bandwidth subsample) comes from ``ctx.rng``. They
are registered with ``default=False`` so the simulation loop's default metrics do not change;
``measure`` chooses its own defaults. ``role`` is the collapse signal each one is for the
verdict (``modelcollapse.measure.verdict``); ``expensive`` marks the super-linear ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.frechet import frechet_distance as _frechet_distance
from modelcollapse.metrics.functional.mauve import mauve as _mauve
from modelcollapse.metrics.functional.mmd import mmd as _mmd
from modelcollapse.metrics.functional.prdc import PRDC
from modelcollapse.metrics.functional.prdc import prdc as _prdc
from modelcollapse.metrics.functional.quantiles import (
    extreme_quantile_ratio as _extreme_quantile_ratio,
)
from modelcollapse.metrics.functional.sliced_wasserstein import (
    sliced_wasserstein as _sliced_wasserstein,
)
from modelcollapse.metrics.functional.validation import as_points
from modelcollapse.metrics.functional.vendi import vendi_score as _vendi_score
from modelcollapse.metrics.registry import metric

PRDC_K = 5

_FID = (
    "Heusel et al. 2017, GANs trained by a two time-scale update rule converge to a local Nash "
    "equilibrium, NeurIPS; Dowson & Landau 1982"
)
_SW = "Bonneel, Rabin, Peyré & Pfister 2015, Sliced and Radon Wasserstein barycenters of measures"
_MMD = "Gretton et al. 2012, A kernel two-sample test, JMLR 13"
_PRDC = (
    "Naeem, Oh, Uh, Choi & Yoo 2020, Reliable fidelity and diversity metrics for generative "
    "models, ICML"
)
_MAUVE = (
    "Pillutla et al. 2021, MAUVE: Measuring the gap between neural text and human text using "
    "divergence frontiers, NeurIPS"
)
_VENDI = (
    "Friedman & Dieng 2023, The Vendi Score: A diversity evaluation metric for machine learning, "
    "TMLR"
)
_SHUMAILOV = (
    "Shumailov et al. 2024, AI models collapse when trained on recursively generated data, "
    "Nature 631"
)


def real_sample(ctx: MetricContext) -> Any:
    """The real data a two-sample metric compares with: held-out data, else the reference."""
    return ctx.heldout if ctx.heldout is not None else ctx.reference


def _digest(a: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return a.shape, hashlib.blake2b(np.ascontiguousarray(a), digest_size=16).digest()


# The four PRDC numbers come from one computation; registered separately, they would each redo
# it. One entry, keyed by content (not identity: arrays can be modified in place), is enough
# because the registry evaluates a context's metrics one after another.
_PRDC_CACHE: dict[tuple[Any, ...], PRDC] = {}


def prdc_of(ctx: MetricContext) -> PRDC:
    """:func:`prdc` of the candidate against the real sample, ``k = 5``, cached by content."""
    real = as_points(real_sample(ctx), "reference")
    fake = as_points(ctx.samples, "samples")
    key = (_digest(real), _digest(fake), PRDC_K)
    hit = _PRDC_CACHE.get(key)
    if hit is None:
        hit = _prdc(real, fake, PRDC_K)
        _PRDC_CACHE.clear()
        _PRDC_CACHE[key] = hit
    return hit


@metric(
    "frechet_distance",
    "numeric",
    higher_is_better=False,
    needs_reference=True,
    citation=_FID,
    description="FID formula ‖μx−μy‖² + Tr(Σx+Σy−2(ΣxΣy)^½) between the samples and real data",
    default=False,
    role="fidelity",
)
def frechet_distance(ctx: MetricContext) -> float:
    return _frechet_distance(ctx.samples, real_sample(ctx))


@metric(
    "sliced_wasserstein",
    "numeric",
    higher_is_better=False,
    needs_reference=True,
    citation=_SW,
    description="sliced 2-Wasserstein distance, 128 random directions, exact 1-D transport",
    default=False,
    role="fidelity",
)
def sliced_wasserstein(ctx: MetricContext) -> float:
    return _sliced_wasserstein(ctx.samples, real_sample(ctx), rng=ctx.rng)


@metric(
    "mmd",
    "numeric",
    higher_is_better=False,
    needs_reference=True,
    citation=_MMD,
    description="unbiased MMD² with an RBF kernel, median-heuristic bandwidth",
    default=False,
    role="fidelity",
    expensive=True,
)
def mmd(ctx: MetricContext) -> float:
    return _mmd(ctx.samples, real_sample(ctx), rng=ctx.rng)


@metric(
    "precision",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_PRDC,
    description="share of samples inside some real point's 5-NN ball (fidelity)",
    default=False,
    role="fidelity",
    expensive=True,
)
def precision(ctx: MetricContext) -> float:
    return prdc_of(ctx).precision


@metric(
    "recall",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_PRDC,
    description="share of real points inside some sample's 5-NN ball (diversity)",
    default=False,
    role="tail",
    expensive=True,
)
def recall(ctx: MetricContext) -> float:
    return prdc_of(ctx).recall


@metric(
    "density",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_PRDC,
    description="mean number of real 5-NN balls holding each sample, divided by 5 (about 1 when equal)",
    default=False,
    role="fidelity",
    expensive=True,
)
def density(ctx: MetricContext) -> float:
    return prdc_of(ctx).density


@metric(
    "coverage",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_PRDC,
    description="share of real points whose 5-NN ball holds a sample",
    default=False,
    role="tail",
    expensive=True,
)
def coverage(ctx: MetricContext) -> float:
    return prdc_of(ctx).coverage


@metric(
    "mauve",
    "numeric",
    higher_is_better=True,
    needs_reference=True,
    citation=_MAUVE,
    description="area under the divergence frontier of k-means histograms (1 = indistinguishable)",
    default=False,
    role="fidelity",
    expensive=True,
)
def mauve(ctx: MetricContext) -> float:
    return _mauve(real_sample(ctx), ctx.samples, rng=ctx.rng)


@metric(
    "vendi_score",
    "numeric",
    higher_is_better=True,
    needs_reference=False,
    citation=_VENDI,
    description="effective number of distinct samples (order-1 Vendi score, cosine kernel)",
    default=False,
    role="diversity",
)
def vendi_score(ctx: MetricContext) -> float:
    return _vendi_score(ctx.samples, q=1)


@metric(
    "extreme_quantile_ratio",
    "numeric",
    higher_is_better=None,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="mean over coordinates of the samples' 1%-99% spread / the real data's (1 = tails intact)",
    default=False,
    role="tail",
)
def extreme_quantile_ratio(ctx: MetricContext) -> float:
    return _extreme_quantile_ratio(ctx.samples, real_sample(ctx))
