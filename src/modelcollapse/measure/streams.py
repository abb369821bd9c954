"""The streaming metrics of one measurement: updated chunk by chunk, merged shard by shard.

:data:`STREAMING` lists the metrics that have an exact mergeable state
(:mod:`modelcollapse.metrics.streaming`). :class:`Streams` holds one per metric and side (or
one per two-sample metric), updated by :func:`~modelcollapse.measure.files.measure_files` as it
reads and merged by :func:`~modelcollapse.measure.sharded.measure_shards` across shards.

Text chunks are tokenized once for all text metrics (a
:class:`~modelcollapse.metrics.functional.text.TokenizedDocs`). The metrics built on unigram
counts (``vocab_size``, ``entropy``, ``zipf_exponent``, and the two-sample ``kl`` and ``js``)
all keep the same sufficient statistic, the number of documents and a token ``Counter`` per
side. ``Streams`` keeps it once per side and lends it to those metrics when their values are
computed: one count, one merge and one copy on the wire per shard instead of five. The values
are the same as with a state per metric (tested).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from modelcollapse.data.tokenize import Tokenizer
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

# Whose state is (documents, token Counter) of one side ("one"), or of both sides as
# (candidate documents, candidate Counter, reference documents, reference Counter) ("pair").
UNIGRAM_STATE = {
    "StreamingVocabSize": "one",
    "StreamingUnigramEntropy": "one",
    "StreamingZipfExponent": "one",
    "StreamingUnigramKL": "pair",
    "StreamingUnigramJS": "pair",
}
SIDES = ("candidate", "reference")


@dataclass
class Streams:
    """The streaming metrics of one measurement; pair streams see both inputs."""

    kind: str
    names: list[str]
    one: dict[str, dict[str, StreamingMetric]] = field(default_factory=dict)
    pair: dict[str, tuple[StreamingMetric, str]] = field(default_factory=dict)
    tokenizer: Tokenizer | str | None = None  # of the text streams (None: "whitespace")
    # The shared unigram state per side (see the module docstring); empty when no metric uses it.
    counts: dict[str, StreamingMetric] = field(default_factory=dict)

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
            self.counts = {side: module.StreamingVocabSize(**kwargs) for side in SIDES}

    def _metrics(self) -> list[StreamingMetric]:
        ones = [m for per_side in self.one.values() for m in per_side.values()]
        return ones + [m for m, _form in self.pair.values()]

    def update(self, side: str, chunk: Any) -> None:
        """Add a chunk (documents or rows) of ``side`` to every stream."""
        if self.kind == "text":  # tokenize once for every text metric
            chunk = TokenizedDocs.of(chunk, self.tokenizer)
        if self.counts:
            self.counts[side].update(chunk)
        for per_side in self.one.values():
            if not _shares(per_side[side]):
                per_side[side].update(chunk)
        for stream, form in self.pair.values():
            if not _shares(stream):
                empty: Any = [] if form == "pair[]" else None
                stream.update((chunk, empty) if side == "candidate" else (empty, chunk))

    def merge(self, other: Streams) -> Streams:
        """Fold another shard's streams (same metrics) into these, exactly; returns self."""
        for side, counts in self.counts.items():
            counts.merge(other.counts[side])
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
        self._lend_counts()
        out: dict[str, tuple[float, float | None]] = {}
        for name, per_side in self.one.items():
            out[name] = (
                float(per_side["candidate"].compute()),
                float(per_side["reference"].compute()),
            )
        for name, (stream, _form) in self.pair.items():
            out[name] = (float(stream.compute()), None)
        return out

    def _lend_counts(self) -> None:
        if not self.counts:
            return
        cand, ref = self.counts["candidate"].state, self.counts["reference"].state
        for per_side in self.one.values():
            for side, metric in per_side.items():
                if _shares(metric):
                    metric.state = self.counts[side].state
        for metric, _form in self.pair.values():
            if _shares(metric):
                metric.state = (cand[0], cand[1], ref[0], ref[1])


def _shares(metric: StreamingMetric) -> bool:
    """Whether ``metric`` takes its state from the shared unigram counts."""
    return type(metric).__name__ in UNIGRAM_STATE
