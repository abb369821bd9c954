"""Registered metrics for text data (lists of documents)."""

from __future__ import annotations

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.likelihood import model_perplexity
from modelcollapse.metrics.functional.text import distinct_2 as _distinct_2
from modelcollapse.metrics.functional.text import rare_recall as _rare_recall
from modelcollapse.metrics.functional.text import unigram_entropy
from modelcollapse.metrics.functional.text import vocab_size as _vocab_size
from modelcollapse.metrics.registry import metric

_SHUMAILOV = (
    "Shumailov et al. 2024, AI models collapse when trained on recursively generated data, "
    "Nature 631 (Sec. 4)"
)
_GUO = (
    "Guo et al. 2024, The curious decline of linguistic diversity: training language models "
    "on synthetic text, NAACL Findings"
)


@metric(
    "vocab_size",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation=_GUO,
    description="number of distinct tokens in the samples",
)
def vocab_size(ctx: MetricContext) -> float:
    return _vocab_size(ctx.samples)


@metric(
    "entropy",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation=_GUO,
    description="unigram entropy (nats) of the samples' tokens",
)
def entropy(ctx: MetricContext) -> float:
    return unigram_entropy(ctx.samples)


@metric(
    "distinct_2",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation="Li et al. 2016, A diversity-promoting objective function for neural conversation models",
    description="distinct bigrams / total bigrams within the samples' documents",
)
def distinct_2(ctx: MetricContext) -> float:
    return _distinct_2(ctx.samples)


@metric(
    "perplexity",
    "text",
    higher_is_better=False,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="per-token perplexity of the held-out human documents under the model",
)
def perplexity(ctx: MetricContext) -> float:
    return model_perplexity(ctx.model, ctx.heldout)


@metric(
    "rare_recall",
    "text",
    higher_is_better=True,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="share of the reference's rare words (bottom half by frequency) found in the samples",
)
def rare_recall(ctx: MetricContext) -> float:
    return _rare_recall(ctx.reference, ctx.samples)
