"""The streaming metrics of one measurement: updated chunk by chunk, merged shard by shard.

:data:`STREAMING` lists the metrics that have an exact mergeable state
(:mod:`modelcollapse.metrics.streaming`). :class:`Streams` holds one per metric and side (or
one per two-sample metric), updated by :func:`~modelcollapse.measure.files.measure_files` as it
reads and merged by :func:`~modelcollapse.measure.sharded.measure_shards` across shards.

Text chunks are tokenized once for all text metrics (a
:class:`~modelcollapse.metrics.functional.text.TokenizedDocs`). The metrics built on unigram
counts (``vocab_size``, ``entropy``, ``zipf_exponent``, and the two-sample ``kl`` and ``js``)
and ``distinct_2`` do not keep states of their own here: ``Streams`` keeps one
:class:`~modelcollapse.measure.token_stats.TokenStats` per side (counts and distinct bigrams as
integer arrays, merged in NumPy) and lends each metric its usual state when values are computed.
One count, one merge and one small copy on the wire per shard instead of six Python states; the
values are the same (tested).
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from modelcollapse.data.tokenize import Tokenizer
from modelcollapse.measure.token_stats import TokenStats
from modelcollapse.metrics.functional.text import TokenizedDocs
from modelcollapse.metrics.streaming.base import StreamingMetric

# Streaming metrics by measure kind: name -> (class in modelcollapse.metrics.streaming, batch
# form). "one": a batch is a chunk of one input; "pair[]"/"pairNone": a batch is a
# (candidate, reference) pair with [] or None for the side not in this chunk.
STREAMING: dict[str, dict[str, tuple[str, str]]] = {
    "text": {
        "vocab_size": ("StreamingVocabSize", "one"),
        "entropy": ("StreamingUnigramEntropy", "one"),
        "distinct_2": ("StreamingDistinct2", "one"),
        "ngram_diversity": ("StreamingNgramDiversity", "one"),
        "rep_n": ("StreamingRepN", "one"),
        "zipf_exponent": ("StreamingZipfExponent", "one"),
        "kl": ("StreamingUnigramKL", "pair[]"),
        "js": ("StreamingUnigramJS", "pair[]"),
    },
    "numeric": {
        "mean": ("StreamingMean", "one"),
        "variance": ("StreamingVariance", "one"),
        "vendi_score": ("StreamingVendiScore", "one"),
        "frechet_distance": ("StreamingFrechetDistance", "pairNone"),
    },
}
STREAMING["embedding"] = STREAMING["numeric"]

# Metrics whose state comes from the sides' TokenStats: (documents, token Counter) of one side
# ("counts"), (documents, bigram NgramState) of one side ("bigrams"), or (candidate documents,
# candidate Counter, reference documents, reference Counter) ("pair").
SHARED_STATE = {
    "StreamingVocabSize": "counts",
    "StreamingUnigramEntropy": "counts",
    "StreamingZipfExponent": "counts",
    "StreamingDistinct2": "bigrams",
    "StreamingUnigramKL": "pair",
    "StreamingUnigramJS": "pair",
}
SIDES = ("candidate", "reference")


class TextChunk(list):  # type: ignore[type-arg]
    """A chunk of documents (a list of texts) with their tokens: the reader tokenizes each
    document once to find those without tokens, and :meth:`Streams.update` takes the tokens
    (leaving ``tokens`` None, so they are freed with the update's caches, not kept alive by the
    reader's loop variable while the next chunk is read)."""

    def __init__(self, texts: list[str], tokens: TokenizedDocs) -> None:
        super().__init__(texts)
        self.tokens: TokenizedDocs | None = tokens


@dataclass
class Streams:
    """The streaming metrics of one measurement; pair streams see both inputs."""

    kind: str
    names: list[str]
    one: dict[str, dict[str, StreamingMetric]] = field(default_factory=dict)
    pair: dict[str, tuple[StreamingMetric, str]] = field(default_factory=dict)
    tokenizer: Tokenizer | str | None = None  # of the text streams (None: "whitespace")
    # The shared token statistics per side (module docstring); empty when no metric uses them.
    stats: dict[str, TokenStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        module = importlib.import_module("modelcollapse.metrics.streaming")
        table = STREAMING[self.kind]
        kwargs = {"tokenizer": self.tokenizer} if self.kind == "text" else {}
        for name in self.names:
            if name not in table:
                continue
            cls_name, form = table[name]
            cls = getattr(module, cls_name)
            if form == "one":
                self.one[name] = {side: cls(**kwargs) for side in SIDES}
            else:
                self.pair[name] = (cls(**kwargs), form)
        if any(_shares(m) for m in self._metrics()):
            self.stats = {side: TokenStats() for side in SIDES}

    def _metrics(self) -> list[StreamingMetric]:
        ones = [m for per_side in self.one.values() for m in per_side.values()]
        return ones + [m for m, _form in self.pair.values()]

    def update(self, side: str, chunk: Any) -> None:
        """Add a chunk (documents or rows) of ``side`` to every stream."""
        if self.kind == "text":  # tokenize once for every text metric
            tokens = chunk.tokens if isinstance(chunk, TextChunk) else None
            if tokens is not None and tokens.tokenizer is self.tokenizer:
                chunk.tokens = None  # taken: see TextChunk
                chunk = tokens
            else:
                chunk = TokenizedDocs.of(chunk, self.tokenizer)
        if self.stats:
            self.stats[side].update(chunk)
        for per_side in self.one.values():
            if not _shares(per_side[side]):
                per_side[side].update(chunk)
        for stream, form in self.pair.values():
            if not _shares(stream):
                empty: Any = [] if form == "pair[]" else None
                stream.update((chunk, empty) if side == "candidate" else (empty, chunk))

    def merge(self, other: Streams) -> Streams:
        """Fold another shard's streams (same metrics) into these, exactly; returns self."""
        for side, stats in self.stats.items():
            stats.merge(other.stats[side])
        for name, per_side in self.one.items():
            for side, metric in per_side.items():
                if not _shares(metric):
                    metric.merge(other.one[name][side])
        for name, (metric, _form) in self.pair.items():
            if not _shares(metric):
                metric.merge(other.pair[name][0])
        return self

    def values(self) -> dict[str, tuple[float, float | None]]:
        """name -> (candidate value, reference value or None)."""
        self._lend_states()
        out: dict[str, tuple[float, float | None]] = {}
        for name, per_side in self.one.items():
            out[name] = (
                float(per_side["candidate"].compute()),
                float(per_side["reference"].compute()),
            )
        for name, (stream, _form) in self.pair.items():
            out[name] = (float(stream.compute()), None)
        return out

    def _lend_states(self) -> None:
        if not self.stats:
            return
        docs = {side: stats.docs for side, stats in self.stats.items()}
        counters: dict[str, Counter[str]] = {}  # built once per side, and only when asked

        def counts(side: str) -> Counter[str]:
            if side not in counters:
                counters[side] = self.stats[side].counter()
            return counters[side]

        for per_side in self.one.values():
            for side, metric in per_side.items():
                form = SHARED_STATE.get(type(metric).__name__)
                if form == "counts":
                    metric.state = (docs[side], counts(side))
                elif form == "bigrams":
                    metric.state = (docs[side], self.stats[side].bigram_state())
        for metric, _form in self.pair.values():
            if _shares(metric):
                metric.state = (
                    docs["candidate"],
                    counts("candidate"),
                    docs["reference"],
                    counts("reference"),
                )


def _shares(metric: StreamingMetric) -> bool:
    """Whether ``metric`` takes its state from the shared token statistics."""
    return type(metric).__name__ in SHARED_STATE
