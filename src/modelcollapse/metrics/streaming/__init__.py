"""Streaming metrics: ``update(batch)``, ``compute()``, ``reset()`` and exact ``merge(other)``."""

from modelcollapse.metrics.streaming.base import StreamingMetric
from modelcollapse.metrics.streaming.discrete import (
    StreamingCategoryCounts,
    StreamingCategoryEntropy,
    StreamingSupportSize,
)
from modelcollapse.metrics.streaming.likelihood import StreamingPerplexity
from modelcollapse.metrics.streaming.moments import StreamingMean, StreamingVariance
from modelcollapse.metrics.streaming.text import (
    StreamingDistinct2,
    StreamingDistinctN,
    StreamingUnigramEntropy,
    StreamingVocabSize,
)

__all__ = [
    "StreamingCategoryCounts",
    "StreamingCategoryEntropy",
    "StreamingDistinct2",
    "StreamingDistinctN",
    "StreamingMean",
    "StreamingMetric",
    "StreamingPerplexity",
    "StreamingSupportSize",
    "StreamingUnigramEntropy",
    "StreamingVariance",
    "StreamingVocabSize",
]
