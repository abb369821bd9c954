"""Streaming metrics: ``update(batch)``, ``compute()``, ``reset()`` and exact ``merge(other)``."""

from modelcollapse.metrics.streaming.base import StreamingMetric
from modelcollapse.metrics.streaming.discrete import (
    StreamingCategoryCounts,
    StreamingCategoryEntropy,
    StreamingSupportSize,
)
from modelcollapse.metrics.streaming.distribution import (
    StreamingUnigramJS,
    StreamingUnigramKL,
    StreamingZipfExponent,
)
from modelcollapse.metrics.streaming.frechet import StreamingFrechetDistance
from modelcollapse.metrics.streaming.likelihood import StreamingPerplexity
from modelcollapse.metrics.streaming.moments import StreamingMean, StreamingVariance
from modelcollapse.metrics.streaming.repetition import StreamingRepN
from modelcollapse.metrics.streaming.text import (
    StreamingDistinct2,
    StreamingDistinctN,
    StreamingUnigramEntropy,
    StreamingVocabSize,
)
from modelcollapse.metrics.streaming.text_diversity import StreamingNgramDiversity
from modelcollapse.metrics.streaming.vendi import StreamingVendiScore

__all__ = [
    "StreamingCategoryCounts",
    "StreamingCategoryEntropy",
    "StreamingDistinct2",
    "StreamingDistinctN",
    "StreamingFrechetDistance",
    "StreamingMean",
    "StreamingMetric",
    "StreamingNgramDiversity",
    "StreamingPerplexity",
    "StreamingRepN",
    "StreamingSupportSize",
    "StreamingUnigramEntropy",
    "StreamingUnigramJS",
    "StreamingUnigramKL",
    "StreamingVariance",
    "StreamingVendiScore",
    "StreamingVocabSize",
    "StreamingZipfExponent",
]
