"""Registered metrics for text data (lists of documents).

In ``measure`` mode there is no model (``ctx.model is None``): ``samples`` is the candidate
corpus and ``reference``/``heldout`` the human reference. Every metric here then compares or
describes the candidate; ``perplexity`` fits a trigram :class:`~modelcollapse.generators.ngram.
NGram` on the candidate and evaluates the reference under it.

Token-counting metrics tokenize with ``ctx.tokenizer`` (``"whitespace"`` by default; see
:func:`modelcollapse.data.tokenize.get_tokenizer`). ``perplexity`` does not: it is per *model*
token, normalised by the model's own ``token_counts`` (for the n-gram model, and the hf models
which count the same way, words and punctuation as :func:`~modelcollapse.data.tokenize.tokenize`
plus the end of each document), so it does not change with the metrics' tokenizer.
``compression_ratio`` reads bytes and has no tokens either.

The metrics added for ``measure`` (n-gram diversity and beyond) are not defaults of the
simulation loop: a run computes them when its config names them.
"""

from __future__ import annotations

from modelcollapse.metrics.context import MetricContext
from modelcollapse.metrics.functional.distribution import unigram_js, unigram_kl, zipf_exponent
from modelcollapse.metrics.functional.likelihood import model_perplexity
from modelcollapse.metrics.functional.repetition import rep_n as _rep_n
from modelcollapse.metrics.functional.repetition import self_repetition as _self_repetition
from modelcollapse.metrics.functional.self_bleu import self_bleu as _self_bleu
from modelcollapse.metrics.functional.text import distinct_2 as _distinct_2
from modelcollapse.metrics.functional.text import rare_recall as _rare_recall
from modelcollapse.metrics.functional.text import unigram_entropy
from modelcollapse.metrics.functional.text import vocab_size as _vocab_size
from modelcollapse.metrics.functional.text_diversity import compression_ratio as _compression_ratio
from modelcollapse.metrics.functional.text_diversity import ngram_diversity as _ngram_diversity
from modelcollapse.metrics.registry import metric

_SHUMAILOV = (
    "Shumailov et al. 2024, AI models collapse when trained on recursively generated data, "
    "Nature 631 (Sec. 4)"
)
_GUO = (
    "Guo et al. 2024, The curious decline of linguistic diversity: training language models "
    "on synthetic text, NAACL Findings"
)
_SHAIB = (
    "Shaib et al. 2024, Standardizing the measurement of text diversity: a tool and a "
    "comparative analysis of scores, arXiv:2403.00553"
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
    return _vocab_size(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "entropy",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation=_GUO,
    description="unigram entropy (nats) of the samples' tokens",
)
def entropy(ctx: MetricContext) -> float:
    return unigram_entropy(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "distinct_2",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation="Li et al. 2016, A diversity-promoting objective function for neural conversation models",
    description="distinct bigrams / total bigrams within the samples' documents",
)
def distinct_2(ctx: MetricContext) -> float:
    return _distinct_2(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "perplexity",
    "text",
    higher_is_better=False,
    needs_reference=True,
    citation=_SHUMAILOV,
    description=(
        "perplexity per model token of the held-out human documents under the model "
        "(measure mode: under a trigram Kneser-Ney model fitted on the candidate)"
    ),
    expensive=True,
)
def perplexity(ctx: MetricContext) -> float:
    model = ctx.model
    if model is None:
        # Imported here: metric modules duck-type models and only measure mode needs this one.
        from modelcollapse.generators.ngram import NGram

        model = NGram(n=3).fit(ctx.samples)
    return model_perplexity(model, ctx.heldout)


@metric(
    "rare_recall",
    "text",
    higher_is_better=True,
    needs_reference=True,
    citation=_SHUMAILOV,
    description="share of the reference's rare words (bottom half by frequency) found in the samples",
)
def rare_recall(ctx: MetricContext) -> float:
    return _rare_recall(ctx.reference, ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "ngram_diversity",
    "text",
    higher_is_better=True,
    needs_reference=False,
    citation=_SHAIB,
    description="sum over n = 1..4 of distinct / total n-grams (within documents)",
    default=False,
)
def ngram_diversity(ctx: MetricContext) -> float:
    return _ngram_diversity(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "compression_ratio",
    "text",
    higher_is_better=False,
    needs_reference=False,
    citation=_SHAIB,
    description="bytes / gzip (level 9) bytes of the documents joined by spaces; higher = more redundant",
    default=False,
)
def compression_ratio(ctx: MetricContext) -> float:
    return _compression_ratio(ctx.samples)


@metric(
    "self_bleu",
    "text",
    higher_is_better=False,
    needs_reference=False,
    citation=(
        "Zhu et al. 2018, Texygen: a benchmarking platform for text generation models, SIGIR; "
        "Papineni et al. 2002, BLEU"
    ),
    description="mean BLEU-4 (NLTK smoothing method 1) of each document against all the others",
    default=False,
)
def self_bleu(ctx: MetricContext) -> float:
    return _self_bleu(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "self_repetition",
    "text",
    higher_is_better=False,
    needs_reference=False,
    citation="Salkar et al. 2022, Self-repetition in abstractive neural summarizers; " + _SHAIB,
    description="mean over documents of ln(1 + other documents sharing each of its 4-grams)",
    default=False,
)
def self_repetition(ctx: MetricContext) -> float:
    return _self_repetition(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "rep_n",
    "text",
    higher_is_better=False,
    needs_reference=False,
    citation="Welleck et al. 2020, Neural text generation with unlikelihood training, ICLR",
    description="seq-rep-4: mean over documents of 1 - distinct / total 4-grams in the document",
    default=False,
)
def rep_n(ctx: MetricContext) -> float:
    return _rep_n(ctx.samples, tokenizer=ctx.tokenizer)


@metric(
    "kl",
    "text",
    higher_is_better=False,
    needs_reference=True,
    citation="Kullback & Leibler 1951, On information and sufficiency",
    description="KL(candidate || reference) of unigram distributions (nats), reference add-0.5 smoothed",
    default=False,
)
def kl(ctx: MetricContext) -> float:
    return unigram_kl(ctx.samples, ctx.reference, tokenizer=ctx.tokenizer)


@metric(
    "js",
    "text",
    higher_is_better=False,
    needs_reference=True,
    citation="Lin 1991, Divergence measures based on the Shannon entropy",
    description="Jensen-Shannon divergence of the unigram distributions (nats, at most ln 2)",
    default=False,
)
def js(ctx: MetricContext) -> float:
    return unigram_js(ctx.samples, ctx.reference, tokenizer=ctx.tokenizer)


@metric(
    "zipf_exponent",
    "text",
    higher_is_better=None,
    needs_reference=False,
    citation="Zipf 1949, Human behavior and the principle of least effort",
    description="Zipf exponent: -slope of least squares on log frequency vs log rank, ranks 1..1000",
    default=False,
)
def zipf(ctx: MetricContext) -> float:
    return zipf_exponent(ctx.samples, tokenizer=ctx.tokenizer)
