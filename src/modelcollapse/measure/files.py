"""Measure files: read the inputs in chunks, in bounded memory, with bad records quarantined.

Each input is read once, ``chunk_size`` records at a time. Every good record

1. updates the streaming metrics (exact over the whole file;
   :data:`~modelcollapse.measure.streams.STREAMING` lists them), and
2. enters a uniform random sample of at most ``max_records`` records (reservoir sampling,
   Vitter 1985, "Random sampling with a reservoir", ACM TOMS 11(1), Algorithm R, with an
   explicit seeded generator), kept in file order.

The bootstrap, the corpus-level metrics and the verdict run on the samples (:func:`measure`):
self-BLEU, self-repetition, compression ratio, perplexity, rare-word recall, MAUVE, PRDC, MMD
and the like need all their records at once, and a size-matched comparison needs equal sizes
anyway. So memory is ``O(max_records)`` records plus the streaming states (token counters grow
with the vocabulary, not with the file). When an input has more than ``max_records`` good
records, the streamed metrics are also reported over the whole inputs (``full_candidate`` and
``full_reference``; two-sample streams, such as KL against the reference, only for the
candidate).

Formats: text is streamed from JSONL, CSV, Parquet and TXT (gzipped too), with the record rules
of :mod:`modelcollapse.data.readers`, plus one more: a document without any token (of the
measurement's tokenizer, ``"whitespace"`` by default) is a bad record. Numeric data and embeddings are streamed from ``.npy`` (memory-mapped), CSV, JSONL (gzipped
too) and Parquet (record batches) by :func:`~modelcollapse.data.array_readers.iter_array`, with
the rules of :func:`~modelcollapse.data.readers.read_array`: NaN, infinite or non-numeric values
are bad records; so are rows of another width than the first.

Bad records follow ``on_error`` (:mod:`modelcollapse.data.quarantine`): ``fail`` raises a
one-line :class:`DataError` naming ``file:line``; ``skip`` writes each to the quarantine file
next to the input and counts it. An input without any good record is an error either way.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.array_readers import iter_array
from modelcollapse.data.quarantine import Quarantine, check_on_error
from modelcollapse.data.readers import iter_documents
from modelcollapse.data.records import detect_format, require_file
from modelcollapse.data.tokenize import Tokenizer, get_tokenizer, tokenizer_name
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.measure.measure import EMBEDDING_PREFIX, check_kind, default_metric_names
from modelcollapse.measure.measure import measure as measure_data
from modelcollapse.measure.result import MeasureResult
from modelcollapse.measure.streams import Streams, TextChunk
from modelcollapse.metrics.functional.text import TokenizedDocs, as_token_list
from modelcollapse.rng import as_generator

DEFAULT_MAX_RECORDS = 5000
DEFAULT_CHUNK_SIZE = 4096
NO_TOKENS = "document has no tokens"


def no_tokens_reason(tokenizer: Tokenizer | str | None) -> str:
    """The reason a document without any token of ``tokenizer`` is a bad record."""
    return f"{NO_TOKENS}; expected at least one token of tokenizer {tokenizer_name(tokenizer)!r}"


@dataclass
class InputSample:
    """One input read: the sampled records (file order) and what the read found."""

    path: Path
    data: Any
    n_good: int
    n_bad: int
    quarantine_path: Path | None
    first_line: int | None


class Reservoir:
    """A uniform sample of at most ``capacity`` items of a stream (Algorithm R), vectorised per
    chunk: item ``t`` (0-based) replaces slot ``j ~ U{0..t}`` when ``j < capacity``, later
    items of a chunk overwriting earlier ones exactly as one-by-one processing would.

    Chunks are lists (documents) or 2-D arrays (rows). Rows are copied into one preallocated
    array: keeping row views would keep every chunk they came from alive.
    """

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.rng = rng
        self.seen = 0
        self.items: list[Any] | np.ndarray = []
        self.order: list[int] = []

    def _put(self, slot: int, item: Any) -> None:
        if slot == len(self.order):  # still filling: a new slot
            self.order.append(-1)
            if isinstance(self.items, list):
                self.items.append(item)
                return
        self.items[slot] = item  # an array row is copied in

    def add(self, chunk: Sequence[Any] | np.ndarray) -> None:
        if isinstance(chunk, np.ndarray) and isinstance(self.items, list) and not self.items:
            self.items = np.empty((self.capacity, *chunk.shape[1:]), dtype=chunk.dtype)
        k = len(chunk)
        fill = max(0, min(k, self.capacity - self.seen))
        for i in range(fill):
            self._put(self.seen + i, chunk[i])
            self.order[self.seen + i] = self.seen + i
        if fill < k:
            t = np.arange(self.seen + fill, self.seen + k, dtype=np.int64)
            j = self.rng.integers(0, t + 1)
            accepted = np.flatnonzero(j < self.capacity)
            for i in accepted.tolist():  # in order: a later item wins a contested slot
                slot = int(j[i])
                self._put(slot, chunk[fill + i])
                self.order[slot] = int(t[i])
        self.seen += k

    def sample(self) -> Any:
        """The sampled items in stream order (a list, or an array for array chunks)."""
        order = np.argsort(self.order, kind="stable")
        if isinstance(self.items, np.ndarray):
            return self.items[: len(self.order)][order]
        return [self.items[i] for i in order.tolist()]


def _text_chunks(
    src: Path,
    q: Quarantine,
    text_field: str,
    id_field: str,
    chunk_size: int,
    lines: list[int],
    tokenizer: Tokenizer | str | None = None,
) -> Iterator[TextChunk]:
    # The tokens that decide "no tokens, bad record" are kept for the text metrics.
    tokenize = get_tokenizer(tokenizer)
    no_tokens = no_tokens_reason(tokenizer)
    texts: list[str] = []
    tokens: list[list[str]] = []
    for rec, doc in iter_documents(src, q, text_field, id_field):
        toks = as_token_list(tokenize(doc.text), len(texts))
        if not toks:
            q.reject(rec.line, no_tokens, rec.raw, rec.value)
            continue
        if not lines:
            lines.append(rec.line)
        texts.append(doc.text)
        tokens.append(toks)
        if len(texts) >= chunk_size:
            yield TextChunk(texts, TokenizedDocs(tokens, tokenizer))
            texts, tokens = [], []
    if texts:
        yield TextChunk(texts, TokenizedDocs(tokens, tokenizer))


def _numeric_chunks(
    src: Path, q: Quarantine, chunk_size: int, lines: list[int]
) -> Iterator[np.ndarray]:
    for chunk in iter_array(src, q, chunk_size=chunk_size):
        if not lines:
            lines.append(chunk.first_line)
        yield chunk.rows


def load_input(
    path: str | Path,
    kind: str,
    *,
    side: str,
    streams: Streams | None,
    rng: np.random.Generator,
    text_field: str = "text",
    id_field: str = "id",
    on_error: str = "fail",
    max_records: int = DEFAULT_MAX_RECORDS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    tokenizer: Tokenizer | str | None = None,
) -> InputSample:
    """Read one input in chunks (see the module docstring); a text record without any token
    of ``tokenizer`` (None: ``"whitespace"``) is a bad record."""
    src = require_file(path)
    check_on_error(on_error)
    lines: list[int] = []
    reservoir = Reservoir(max_records, rng)
    with Quarantine(src, on_error) as q:
        chunks: Iterator[Any] = (
            _text_chunks(src, q, text_field, id_field, chunk_size, lines, tokenizer)
            if kind == "text"
            else _numeric_chunks(src, q, chunk_size, lines)
        )
        width: int | None = None
        for chunk in chunks:
            if kind != "text":
                width = width or chunk.shape[1]
                if chunk.shape[1] != width:  # the readers keep one width a file; a guard
                    raise DataError(
                        f"expected {width} columns, got {chunk.shape[1]}", path=str(src)
                    )
            if streams is not None:
                streams.update(side, chunk)
            reservoir.add(chunk)
    q.check_found(reservoir.seen)
    data = reservoir.sample()
    first = lines[0] if lines else None
    return InputSample(src, data, reservoir.seen, q.n_bad, q.written, first)


def check_read_settings(
    kind: str, max_records: Any, chunk_size: Any, tokenizer: Tokenizer | str | None
) -> str:
    """The checked measure ``kind``; InvalidParameterError for a bad kind, record cap, chunk
    size or tokenizer (checked before any input is read)."""
    kind = check_kind(kind)
    for name, value in (("max_records", max_records), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise InvalidParameterError(f"{name}: expected an integer >= 2, got {value!r}")
    get_tokenizer(tokenizer)
    return kind


def measure_files(
    reference: str | Path,
    candidate: str | Path,
    *,
    kind: str = "text",
    metrics: Sequence[str] | None = None,
    rng: np.random.Generator | int,
    text_field: str = "text",
    id_field: str = "id",
    on_error: str = "fail",
    max_records: int = DEFAULT_MAX_RECORDS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    tokenizer: Tokenizer | str | None = None,
    **measure_kwargs: Any,
) -> MeasureResult:
    """:func:`~modelcollapse.measure.measure.measure` on two files, in bounded memory.

    ``max_records`` caps the records of each input used for the bootstrap and the verdict
    (a seeded uniform sample); ``tokenizer`` is that of the text metrics, the streamed ones
    and the no-token check included (see ``measure``); ``measure_kwargs`` go to ``measure``
    (``n_boot``, ``level``, ``embeddings``, ...). See the module docstring.
    """
    kind = check_read_settings(kind, max_records, chunk_size, tokenizer)
    for path in (reference, candidate):  # fail fast, before reading anything
        detect_format(require_file(path))
    gen = as_generator(rng)
    ref_rng, cand_rng, measure_rng = gen.spawn(3)
    names = list(metrics) if metrics is not None else default_metric_names(kind)
    streamed = [n for n in names if not n.startswith(EMBEDDING_PREFIX)]
    streams = Streams(kind, streamed, tokenizer=tokenizer)
    common = dict(
        text_field=text_field, id_field=id_field, on_error=on_error, max_records=max_records,
        chunk_size=chunk_size, streams=streams, tokenizer=tokenizer,
    )  # fmt: skip
    ref = load_input(reference, kind, side="reference", rng=ref_rng, **common)  # type: ignore[arg-type]
    cand = load_input(candidate, kind, side="candidate", rng=cand_rng, **common)  # type: ignore[arg-type]
    if kind != "text" and cand.data.shape[1] != ref.data.shape[1]:
        raise DataError(
            f"expected {ref.data.shape[1]} values per record like the reference {ref.path}, "
            f"got {cand.data.shape[1]}",
            path=str(cand.path),
            line=cand.first_line,
        )
    result = measure_data(
        ref.data, cand.data, kind=kind, metrics=metrics, rng=measure_rng,
        **({"tokenizer": tokenizer} if kind == "text" else {}), **measure_kwargs,
    )  # fmt: skip
    result.n_reference_total, result.n_candidate_total = ref.n_good, cand.n_good
    result.n_bad_reference, result.n_bad_candidate = ref.n_bad, cand.n_bad
    return add_stream_results(
        result, [ref, cand], max(ref.n_good, cand.n_good), max_records, streams
    )


def add_stream_results(
    result: MeasureResult, inputs: Sequence[Any], n_largest: int, max_records: int, streams: Streams
) -> MeasureResult:
    """Note quarantined records of ``inputs`` (objects with ``n_bad``, ``path`` and
    ``quarantine_path``) and, when the larger side (``n_largest`` records) was subsampled, the
    streamed whole-input values as ``full_*``."""
    for info in inputs:
        if info.quarantine_path is not None:
            result.notes.append(
                f"{info.n_bad} bad record(s) of {info.path} quarantined to {info.quarantine_path}"
            )
    if n_largest > max_records:
        result.notes.append(
            f"inputs subsampled to {max_records} records each for the bootstrap and the verdict; "
            "full_* values cover every record"
        )
        for name, (c_full, r_full) in streams.values().items():
            if name in result.metrics:
                result.metrics[name].full_candidate = c_full
                result.metrics[name].full_reference = r_full
    return result
