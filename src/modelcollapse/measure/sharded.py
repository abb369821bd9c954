"""Sharded measure: one task per shard file, mergeable states merged on the driver.

A corpus too large for one reader is stored as shards (JSONL, Parquet, CSV, TXT or ``.npy``
files; a directory or a glob of them). :func:`measure_shards` runs one task per shard on an
executor (:mod:`modelcollapse.execution`: local processes or a Ray cluster). A task reads its
shard in chunks exactly as :func:`~modelcollapse.measure.files.measure_files` reads a file and
returns

1. the streaming metric states of the shard (:data:`~modelcollapse.measure.streams.STREAMING`),
2. a uniform sample of at most ``max_records`` of its good records (a seeded reservoir), and
3. its counts of good and bad records (bad ones go to ``<shard>.quarantine.jsonl`` with
   ``on_error="skip"``).

The driver merges the results **in shard order**, whatever order tasks finish in:

- streaming states merge exactly (:meth:`StreamingMetric.merge`), so the ``full_*`` values are
  those of one pass over all the shards;
- the samples merge into a uniform sample of at most ``max_records`` records of the whole side:
  the union of a uniform sample of the first ``N`` records and one of the next shard's ``n``
  keeps ``m ~ Hypergeometric(n, N, keep)`` records of the new shard and ``keep - m`` of the
  old sample, each a uniform subset, which is a uniform sample of all ``N + n`` (the
  distributed form of reservoir sampling; Vitter 1985, ACM TOMS 11(1)). Records stay in corpus
  order. The bootstrap, the corpus-level metrics (self-BLEU, MAUVE, PRDC, ...) and the verdict
  then run on the merged samples, as in ``measure_files``.

Seeds: the ``rng`` gives a reference, a candidate and a measurement stream (the same three as
``measure_files``); each side's stream spawns one child per shard (a side with one shard uses
the side's stream itself) and then draws the merge. Nothing depends on which worker ran a task or
when, so the result is identical for any executor and any number of workers. A side with one
shard gives exactly ``measure_files``'s result; when a side has at most ``max_records`` good
records no sample is drawn at all, and the result equals ``measure_files`` on the concatenated
shards (streamed values up to floating-point round-off of the merge).

Shards must be readable at the same path by every worker (on a cluster: a shared filesystem).
An empty shard is fine; a side without any good record is an error.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.data.quarantine import Quarantine, check_on_error
from modelcollapse.data.records import SUFFIXES, detect_format, require_file
from modelcollapse.data.tokenize import Tokenizer
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.execution.base import Executor, executor_in_use
from modelcollapse.measure.files import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_RECORDS,
    Reservoir,
    Streams,
    _numeric_chunks,
    _text_chunks,
    add_stream_results,
    check_read_settings,
)
from modelcollapse.measure.measure import EMBEDDING_PREFIX, default_metric_names
from modelcollapse.measure.measure import measure as measure_data
from modelcollapse.measure.result import MeasureResult
from modelcollapse.rng import as_generator

ShardSpec = str | Path | Sequence[str | Path]
QUARANTINE_SUFFIX = ".quarantine.jsonl"


def _is_data_file(path: Path) -> bool:
    if not path.is_file() or path.name.startswith(".") or path.name.endswith(QUARANTINE_SUFFIX):
        return False
    try:
        detect_format(path)
    except DataError:
        return False
    return True


def is_sharded(spec: ShardSpec) -> bool:
    """Whether ``spec`` names shards rather than one file: a directory, a glob or a list."""
    if isinstance(spec, (str, Path)):
        return Path(spec).expanduser().is_dir() or glob.has_magic(str(spec))
    return True


def expand_shards(spec: ShardSpec, what: str = "input") -> list[Path]:
    """The shard files of ``spec``, in merge order.

    ``spec`` is a file; a directory (its data files, sorted by name, without recursing and
    without hidden or ``*.quarantine.jsonl`` files); a glob pattern (its matches, sorted); or a
    list of these (expanded in the given order). The order fixes the merge, and so the result:
    name shards so that they sort (``part-00001.jsonl``, ...).
    """
    items: list[str | Path] = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if not items:
        raise InvalidParameterError(f"{what}: expected at least one shard, got an empty list")
    out: list[Path] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if _is_data_file(f))
            if not found:
                known = ", ".join(SUFFIXES)
                raise DataError(
                    f"expected data files ({known}) in the directory, got none", path=str(p)
                )
            out += found
        elif glob.has_magic(str(item)):
            found = sorted(Path(f) for f in glob.glob(str(p)) if _is_data_file(Path(f)))
            if not found:
                raise DataError(
                    "expected data files matching the pattern, got none", path=str(item)
                )
            out += found
        else:
            out.append(require_file(p))
    seen: set[Path] = set()
    for p in out:
        key = p.resolve()
        if key in seen:
            raise InvalidParameterError(f"{what}: expected each shard once, got {p} twice")
        seen.add(key)
        detect_format(p)  # fail fast on an unknown extension, before any task runs
    return out


@dataclass(frozen=True)
class ShardTask:
    """One shard to read (picklable: it travels to the worker)."""

    path: Path
    side: str  # "reference" or "candidate"
    kind: str
    names: tuple[str, ...]  # the streamed metric names
    rng: np.random.Generator  # the shard's reservoir stream
    text_field: str
    id_field: str
    on_error: str
    max_records: int
    chunk_size: int
    tokenizer: Tokenizer | str | None


@dataclass
class ShardResult:
    """What a task sends back: states, a sample and counts. ``sample`` is a list of documents
    or an array of rows (empty list for a shard without good records)."""

    path: Path
    side: str
    streams: Streams
    sample: Any
    n_good: int
    n_bad: int
    quarantine_path: Path | None
    first_line: int | None


def measure_shard(task: ShardTask) -> ShardResult:
    """Read one shard: streaming states, a reservoir sample and counts (an executor task)."""
    streams = Streams(task.kind, list(task.names), tokenizer=task.tokenizer)
    reservoir = Reservoir(task.max_records, task.rng)
    lines: list[int] = []
    with Quarantine(task.path, task.on_error) as q:
        chunks: Iterator[Any]
        if task.kind == "text":
            fields = (task.text_field, task.id_field)
            chunks = _text_chunks(task.path, q, *fields, task.chunk_size, lines, task.tokenizer)
        else:
            chunks = _numeric_chunks(task.path, q, task.chunk_size, lines)
        for chunk in chunks:
            streams.update(task.side, chunk)
            reservoir.add(chunk)
    first = lines[0] if lines else None
    sample = reservoir.sample() if reservoir.seen else []
    return ShardResult(
        task.path,
        task.side,
        streams,
        sample,
        reservoir.seen,
        q.n_bad,
        q.written,
        first,
    )


class SampleMerge:
    """A uniform sample of at most ``capacity`` records of a side, from per-shard samples added
    in shard order (see the module docstring). Draws only when records must be dropped."""

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = capacity
        self.rng = rng
        self.seen = 0
        self.items: Any = []
        self.width: int | None = None  # numeric: columns of the first non-empty shard
        self.first: ShardResult | None = None

    def _subset(self, items: Any, m: int) -> Any:
        n = len(items)
        if m == n:
            return items
        keep = np.sort(self.rng.choice(n, size=m, replace=False))
        return items[keep] if isinstance(items, np.ndarray) else [items[i] for i in keep.tolist()]

    def add(self, shard: ShardResult) -> None:
        n = shard.n_good
        if n == 0:
            return
        if isinstance(shard.sample, np.ndarray):
            width = shard.sample.shape[1]
            if self.width is not None and width != self.width:
                assert self.first is not None
                raise DataError(
                    f"expected {self.width} values per record like the {shard.side} shard "
                    f"{self.first.path}, got {width}",
                    path=str(shard.path),
                    line=shard.first_line,
                )
            self.width = width
        self.first = self.first or shard
        total = self.seen + n
        keep = min(self.capacity, total)
        if self.seen == 0:
            new_m = keep
        elif total <= self.capacity:
            new_m = n
        else:
            new_m = int(self.rng.hypergeometric(n, self.seen, keep))
        old = self._subset(self.items, keep - new_m) if self.seen else self.items
        new = self._subset(shard.sample, new_m)
        if isinstance(new, np.ndarray):
            self.items = np.concatenate([old, new]) if self.seen else np.array(new, copy=True)
        else:
            self.items = list(old) + list(new)
        self.seen = total


def _check_side(
    merge: SampleMerge, spec: ShardSpec, shards: list[Path], results: list[ShardResult]
) -> None:
    """DataError when a whole side has no good record (one empty shard among others is fine)."""
    if merge.seen:
        return
    n_bad = sum(r.n_bad for r in results)
    named = spec if isinstance(spec, (str, Path)) else shards[0]
    where = str(shards[0]) if len(shards) == 1 else f"{named} ({len(shards)} shards)"
    if n_bad == 0:
        raise DataError("no records", path=where)
    raise DataError(f"no valid records: all {n_bad} record(s) are bad", path=where)


def measure_shards(
    reference: ShardSpec,
    candidate: ShardSpec,
    *,
    kind: str = "text",
    metrics: Sequence[str] | None = None,
    rng: np.random.Generator | int,
    executor: Executor | str = "local",
    workers: int | None = None,
    address: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    on_error: str = "fail",
    max_records: int = DEFAULT_MAX_RECORDS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    tokenizer: Tokenizer | str | None = None,
    **measure_kwargs: Any,
) -> MeasureResult:
    """:func:`~modelcollapse.measure.measure.measure` over sharded inputs, one task per shard.

    Args:
        reference, candidate: a file, a directory, a glob or a list of them
            (:func:`expand_shards`).
        executor: an :class:`~modelcollapse.execution.base.Executor` (left open) or a name for
            :func:`~modelcollapse.execution.base.get_executor` with ``workers`` and ``address``
            (closed at the end).
        Everything else as :func:`~modelcollapse.measure.files.measure_files`.

    The result is identical for every executor and worker count (see the module docstring).
    """
    kind = check_read_settings(kind, max_records, chunk_size, tokenizer)
    check_on_error(on_error)
    ref_shards = expand_shards(reference, "reference")
    cand_shards = expand_shards(candidate, "candidate")
    gen = as_generator(rng)
    ref_rng, cand_rng, measure_rng = gen.spawn(3)  # as measure_files
    names = list(metrics) if metrics is not None else default_metric_names(kind)
    streamed = tuple(n for n in names if not n.startswith(EMBEDDING_PREFIX))
    settings = dict(
        kind=kind, names=streamed, text_field=text_field, id_field=id_field, on_error=on_error,
        max_records=max_records, chunk_size=chunk_size, tokenizer=tokenizer,
    )  # fmt: skip
    tasks: list[ShardTask] = []
    merges: dict[str, SampleMerge] = {}
    for side, shards, side_rng in (
        ("reference", ref_shards, ref_rng),
        ("candidate", cand_shards, cand_rng),
    ):
        shard_rngs = [side_rng] if len(shards) == 1 else side_rng.spawn(len(shards))
        # One shard: no merge draw ever happens, so sharing the side's stream is safe.
        merges[side] = SampleMerge(max_records, side_rng)
        tasks += [
            ShardTask(path=path, side=side, rng=r, **settings)  # type: ignore[arg-type]
            for path, r in zip(shards, shard_rngs, strict=True)
        ]
    streams = Streams(kind, list(streamed), tokenizer=tokenizer)
    results: list[ShardResult] = []
    pending: dict[int, ShardResult] = {}
    with executor_in_use(executor, workers=workers, address=address) as ex:
        for index, shard in ex.map(measure_shard, tasks):
            pending[index] = shard
            while len(results) in pending:  # merge in shard order, as soon as possible
                done = pending.pop(len(results))
                merges[done.side].add(done)  # checks widths before the states merge
                streams.merge(done.streams)
                done.streams = None  # type: ignore[assignment]  # free the states now
                done.sample = None
                results.append(done)
    ref_results, cand_results = results[: len(ref_shards)], results[len(ref_shards) :]
    ref, cand = merges["reference"], merges["candidate"]
    _check_side(ref, reference, ref_shards, ref_results)
    _check_side(cand, candidate, cand_shards, cand_results)
    if kind != "text" and cand.width != ref.width:
        assert cand.first is not None and ref.first is not None
        raise DataError(
            f"expected {ref.width} values per record like the reference {ref.first.path}, "
            f"got {cand.width}",
            path=str(cand.first.path),
            line=cand.first.first_line,
        )
    result = measure_data(
        ref.items, cand.items, kind=kind, metrics=metrics, rng=measure_rng,
        **({"tokenizer": tokenizer} if kind == "text" else {}), **measure_kwargs,
    )  # fmt: skip
    # The bookkeeping of measure_files, summed over shards.
    result.n_reference_total, result.n_candidate_total = ref.seen, cand.seen
    result.n_bad_reference = sum(r.n_bad for r in ref_results)
    result.n_bad_candidate = sum(r.n_bad for r in cand_results)
    if len(ref_shards) > 1 or len(cand_shards) > 1:
        result.notes.append(
            f"sharded input: {len(ref_shards)} reference and {len(cand_shards)} candidate shard(s)"
        )
    return add_stream_results(result, results, max(ref.seen, cand.seen), max_records, streams)
