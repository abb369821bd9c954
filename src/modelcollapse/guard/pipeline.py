"""Pipeline steps over Documents, in the datatrove style: keep, or drop with a reason.

- A :class:`Step` is a callable ``Iterable[Document] -> Iterator[Document]``: a generator that
  passes documents on, one by one. Subclasses write :meth:`Step.run`, which yields the documents
  it keeps and hands every other one to ``exclude(doc, reason)``. A step never loses a document:
  for every run, ``kept + excluded == input`` is checked when the step's input is exhausted, and
  a step that swallows, duplicates or invents documents raises :class:`StepAccountingError`.
- A :class:`Filter` only decides: :meth:`Filter.decide` returns ``None`` (keep) or a reason
  string (drop). :meth:`Filter.from_function` wraps a plain ``decide(doc) -> None | str``.
- Dropped documents go to an :class:`ExclusionSink`, written as JSON lines or Parquet with the
  writers of :mod:`modelcollapse.data.writers` (so :func:`read_documents` reads them back), each
  carrying ``metadata["exclusion"] = {"step": <step name>, "reason": <reason>}`` on top of its
  untouched metadata (provenance included; an older ``"exclusion"`` entry is replaced).
- :func:`run_pipeline` chains steps lazily (each document flows through every step before the
  next is read), routes every step's drops to one sink, and returns :class:`PipelineStats`:
  per step and reason, how many documents were kept and dropped. :meth:`PipelineStats.merged`
  adds up the stats of runs over parts of one input (the shards of
  :mod:`modelcollapse.guard.sharded`).

Excluded documents are held in memory until the sink is closed (they are written atomically,
in one piece); kept documents stream straight to ``output_path`` when it is a JSON-lines file.

Reference: datatrove's ``BaseFilter`` and ``PipelineStep``
(https://github.com/huggingface/datatrove, ``src/datatrove/pipeline/filters/base_filter.py``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcollapse.data.document import Document
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.errors import InvalidParameterError, ModelCollapseError

__all__ = [
    "BatchStep",
    "ExclusionSink",
    "Filter",
    "PipelineStats",
    "Step",
    "StepAccountingError",
    "StepStats",
    "run_pipeline",
]

Exclude = Callable[[Document, str], None]


class StepAccountingError(ModelCollapseError, RuntimeError):
    """A step's output does not account for its input (kept + excluded != input)."""


def _writer_for(path: Path, what: str) -> Callable[[Iterable[Document], Path], int]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return write_parquet
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        return write_jsonl
    raise InvalidParameterError(
        f"{what}: expected a .jsonl, .jsonl.gz, .ndjson or .parquet path, got {path.name!r}"
    )


def _count(d: Mapping[str, Any], key: str) -> int:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(f"{key}: expected a count (an integer >= 0), got {value!r}")
    return value


@dataclass
class StepStats:
    """Counts of one step's run: ``n_in == n_kept + n_excluded``; drops by reason."""

    name: str
    n_in: int = 0
    n_kept: int = 0
    n_excluded: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_in": self.n_in,
            "n_kept": self.n_kept,
            "n_excluded": self.n_excluded,
            "reasons": dict(sorted(self.reasons.items())),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StepStats:
        """The stats :meth:`to_dict` wrote (e.g. read back from a resumed job's record)."""
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str):
            raise InvalidParameterError(f"expected a step stats object with a name, got {d!r}")
        counts = [_count(d, key) for key in ("n_in", "n_kept", "n_excluded")]
        reasons = d.get("reasons", {})
        if not isinstance(reasons, Mapping) or not all(isinstance(k, str) for k in reasons):
            raise InvalidParameterError(
                f"reasons: expected an object of reason -> count, got {reasons!r}"
            )
        return cls(d["name"], *counts, Counter({k: _count(reasons, k) for k in reasons}))

    def merge(self, other: StepStats) -> StepStats:
        """The counts of this run and ``other`` together, as a new object: counts and
        per-reason counts add. Both must be the same step (same name)."""
        if not isinstance(other, StepStats) or other.name != self.name:
            got = other.name if isinstance(other, StepStats) else type(other).__name__
            raise InvalidParameterError(
                f"expected stats of step {self.name!r} to merge, got {got!r}"
            )
        reasons = Counter(self.reasons)
        reasons.update(other.reasons)
        return StepStats(
            self.name,
            self.n_in + other.n_in,
            self.n_kept + other.n_kept,
            self.n_excluded + other.n_excluded,
            reasons,
        )


@dataclass
class PipelineStats:
    """What :func:`run_pipeline` did. ``documents`` holds the kept documents when no
    ``output_path`` was given (None otherwise)."""

    n_input: int
    n_output: int
    n_excluded: int
    steps: list[StepStats]
    output_path: Path | None = None
    exclusions_path: Path | None = None
    documents: list[Document] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the documents)."""
        return {
            "n_input": self.n_input,
            "n_output": self.n_output,
            "n_excluded": self.n_excluded,
            "output_path": None if self.output_path is None else str(self.output_path),
            "exclusions_path": None if self.exclusions_path is None else str(self.exclusions_path),
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PipelineStats:
        """The stats :meth:`to_dict` wrote (``output_path``/``exclusions_path`` optional);
        ``documents`` is None. Inverse of :meth:`to_dict` up to the documents."""
        if not isinstance(d, Mapping) or not isinstance(d.get("steps"), list):
            raise InvalidParameterError(f"expected a pipeline stats object with steps, got {d!r}")
        paths = [d.get(key) for key in ("output_path", "exclusions_path")]
        for key, value in zip(("output_path", "exclusions_path"), paths, strict=True):
            if value is not None and not isinstance(value, str):
                raise InvalidParameterError(f"{key}: expected a path string or null, got {value!r}")
        return cls(
            *(_count(d, key) for key in ("n_input", "n_output", "n_excluded")),
            steps=[StepStats.from_dict(s) for s in d["steps"]],
            output_path=None if paths[0] is None else Path(paths[0]),
            exclusions_path=None if paths[1] is None else Path(paths[1]),
        )

    @classmethod
    def merged(
        cls,
        parts: Sequence[PipelineStats],
        *,
        output_path: str | Path | None = None,
        exclusions_path: str | Path | None = None,
    ) -> PipelineStats:
        """The stats of one run over the inputs of ``parts`` in order (e.g. one per shard):
        counts add, step by step and reason by reason. Every part must have run the same steps.
        ``documents`` is the concatenation when every part kept its documents, else None."""
        parts = list(parts)
        if not parts:
            raise InvalidParameterError("expected at least one PipelineStats to merge, got none")
        names = [s.name for s in parts[0].steps]
        for i, part in enumerate(parts):
            got = [s.name for s in part.steps]
            if got != names:
                raise InvalidParameterError(
                    f"parts[{i}]: expected the steps {names} of parts[0], got {got}"
                )
        steps = [StepStats(name) for name in names]  # new objects: never alias a part's
        for part in parts:
            steps = [a.merge(b) for a, b in zip(steps, part.steps, strict=True)]
        keep_docs = all(p.documents is not None for p in parts)
        return cls(
            n_input=sum(p.n_input for p in parts),
            n_output=sum(p.n_output for p in parts),
            n_excluded=sum(p.n_excluded for p in parts),
            steps=steps,
            output_path=None if output_path is None else Path(output_path),
            exclusions_path=None if exclusions_path is None else Path(exclusions_path),
            documents=[d for p in parts for d in p.documents or []] if keep_docs else None,
        )


class ExclusionSink:
    """Receives dropped documents; :meth:`close` writes them to ``path`` (JSONL or Parquet).

    With ``path=None`` the documents stay in :attr:`documents` (for standalone use and tests).
    The file is written on every close, empty when nothing was dropped, so a rerun never leaves
    a stale exclusion file behind.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = None if path is None else Path(path).expanduser()
        self._writer = None if self.path is None else _writer_for(self.path, "exclusions_path")
        self.documents: list[Document] = []

    def __len__(self) -> int:
        return len(self.documents)

    def add(self, doc: Document, step: str, reason: str) -> None:
        """Record ``doc`` as dropped by ``step`` for ``reason`` (the document is not mutated)."""
        meta = {**doc.metadata, "exclusion": {"step": step, "reason": reason}}
        self.documents.append(Document(id=doc.id, text=doc.text, metadata=meta))

    def close(self) -> Path | None:
        """Write the file (when a path was given); return its path."""
        if self._writer is None or self.path is None:
            return None
        self._writer(self.documents, self.path)
        return self.path


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class Step(ABC):
    """A pipeline step: a generator over Documents that keeps some and excludes the rest.

    ``name`` (default: the class name in snake case) labels the step in stats and exclusion
    records. Calling a step directly, ``step(docs)``, sends its drops to :attr:`exclusions` (an
    in-memory :class:`ExclusionSink` unless one is given) and its counts to :attr:`stats`;
    :func:`run_pipeline` routes all steps to one sink instead. Steps are not re-entrant: run a
    step instance in one pipeline at a time.
    """

    def __init__(self, *, name: str | None = None, exclusions: ExclusionSink | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidParameterError(f"name: expected a non-empty string, got {name!r}")
        self._name = name
        self._exclusions = exclusions
        self._stats: StepStats | None = None

    # Properties, so a subclass whose __init__ forgets super().__init__() still works.
    @property
    def name(self) -> str:
        """The step's label in stats and exclusion records (default: class name, snake case)."""
        return self.__dict__.get("_name") or _CAMEL.sub("_", type(self).__name__).lower()

    @property
    def exclusions(self) -> ExclusionSink:
        """Where drops go when the step is called directly (in memory unless given)."""
        if self.__dict__.get("_exclusions") is None:
            self._exclusions = ExclusionSink()
        return self._exclusions  # type: ignore[return-value]

    @property
    def stats(self) -> StepStats:
        """Counts of the last direct call."""
        if self.__dict__.get("_stats") is None:
            self._stats = StepStats(self.name)
        return self._stats  # type: ignore[return-value]

    @abstractmethod
    def run(self, docs: Iterator[Document], exclude: Exclude) -> Iterator[Document]:
        """Yield the documents to keep; call ``exclude(doc, reason)`` for every other one."""

    def __call__(self, docs: Iterable[Document]) -> Iterator[Document]:
        self._stats = StepStats(self.name)
        return self.apply(docs, sink=self.exclusions, stats=self._stats)

    def apply(
        self, docs: Iterable[Document], *, sink: ExclusionSink, stats: StepStats
    ) -> Iterator[Document]:
        """Run the step over ``docs``, sending drops to ``sink`` and counts to ``stats``."""
        source = iter(docs)

        def counted() -> Iterator[Document]:
            for doc in source:
                if not isinstance(doc, Document):
                    raise InvalidParameterError(
                        f"step {self.name!r}: expected Document objects, got {type(doc).__name__}"
                    )
                stats.n_in += 1
                yield doc

        def exclude(doc: Document, reason: str) -> None:
            if not isinstance(reason, str) or not reason:
                raise InvalidParameterError(
                    f"step {self.name!r}: expected a non-empty reason string, got {reason!r}"
                )
            sink.add(doc, self.name, reason)
            stats.n_excluded += 1
            stats.reasons[reason] += 1

        inner = counted()
        for doc in self.run(inner, exclude):
            if not isinstance(doc, Document):
                raise StepAccountingError(
                    f"step {self.name!r}: expected to yield Documents, got {type(doc).__name__}"
                )
            stats.n_kept += 1
            yield doc
        if next(inner, None) is not None:
            raise StepAccountingError(
                f"step {self.name!r}: expected the step to consume all its input, "
                f"got a run that stopped after {stats.n_in - 1} documents"
            )
        if stats.n_kept + stats.n_excluded != stats.n_in:
            raise StepAccountingError(
                f"step {self.name!r}: expected kept + excluded == input, got "
                f"{stats.n_kept} + {stats.n_excluded} != {stats.n_in}"
            )


class BatchStep(Step):
    """A step that decides on ``batch_size`` documents at a time (one database query or one
    model pass per batch). Subclasses write :meth:`run_batch`; kept documents keep their order.
    """

    def __init__(
        self,
        *,
        batch_size: int = 64,
        name: str | None = None,
        exclusions: ExclusionSink | None = None,
    ):
        super().__init__(name=name, exclusions=exclusions)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidParameterError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size

    @abstractmethod
    def run_batch(self, batch: list[Document], exclude: Exclude) -> Iterator[Document]:
        """Yield the batch's documents to keep; ``exclude(doc, reason)`` the others."""

    def run(self, docs: Iterator[Document], exclude: Exclude) -> Iterator[Document]:
        batch: list[Document] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == self.batch_size:
                yield from self.run_batch(batch, exclude)
                batch = []
        if batch:
            yield from self.run_batch(batch, exclude)


class Filter(Step):
    """A step that only decides: :meth:`decide` returns None to keep, a reason to drop."""

    @abstractmethod
    def decide(self, doc: Document) -> str | None:
        """None to keep ``doc``; a short, non-empty reason string to drop it."""

    def run(self, docs: Iterator[Document], exclude: Exclude) -> Iterator[Document]:
        for doc in docs:
            reason = self.decide(doc)
            if reason is None:
                yield doc
            elif isinstance(reason, str) and reason:
                exclude(doc, reason)
            else:
                raise InvalidParameterError(
                    f"filter {self.name!r}: expected decide() to return None or a non-empty "
                    f"reason string, got {reason!r}"
                )

    @staticmethod
    def from_function(
        decide: Callable[[Document], str | None],
        *,
        name: str | None = None,
        exclusions: ExclusionSink | None = None,
    ) -> Filter:
        """A Filter whose :meth:`decide` is ``decide`` (named after the function by default)."""
        if not callable(decide):
            raise InvalidParameterError(f"decide: expected a callable, got {decide!r}")
        return _FunctionFilter(
            decide, name=name or getattr(decide, "__name__", None), exclusions=exclusions
        )


class _FunctionFilter(Filter):
    def __init__(
        self,
        fn: Callable[[Document], str | None],
        *,
        name: str | None,
        exclusions: ExclusionSink | None,
    ):
        self._fn = fn
        super().__init__(
            name=name if name and name != "<lambda>" else "filter", exclusions=exclusions
        )

    def decide(self, doc: Document) -> str | None:
        return self._fn(doc)


def run_pipeline(
    docs: Iterable[Document],
    steps: Sequence[Step],
    *,
    exclusions_path: str | Path | None,
    output_path: str | Path | None = None,
) -> PipelineStats:
    """Run ``docs`` through ``steps`` in order; write kept and excluded documents.

    Kept documents go to ``output_path`` (JSONL or Parquet) when given, else into
    ``PipelineStats.documents``. Every drop of every step goes to ``exclusions_path`` (JSONL or
    Parquet; None keeps them in memory only, which the caller must then not lose: use it for
    tests). Checks ``input == output + excluded`` for the whole run and for every step.
    """
    steps = list(steps)
    for i, step in enumerate(steps):
        if not isinstance(step, Step):
            raise InvalidParameterError(f"steps[{i}]: expected a Step, got {type(step).__name__}")
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidParameterError(f"expected distinct step names, got duplicates {dupes}")
    out = None if output_path is None else Path(output_path).expanduser()
    out_writer = None if out is None else _writer_for(out, "output_path")
    sink = ExclusionSink(exclusions_path)
    if out is not None and sink.path is not None and out.resolve() == sink.path.resolve():
        raise InvalidParameterError(
            f"expected different output and exclusion files, got {out} twice"
        )
    n_input = 0

    def source() -> Iterator[Document]:
        nonlocal n_input
        for doc in docs:
            n_input += 1
            yield doc

    all_stats = [StepStats(s.name) for s in steps]
    stream: Iterator[Document] = source()
    for step, stats in zip(steps, all_stats, strict=True):
        stream = step.apply(stream, sink=sink, stats=stats)
    kept: list[Document] | None = None
    if out_writer is not None and out is not None:
        n_output = out_writer(stream, out)
    else:
        kept = list(stream)
        n_output = len(kept)
    written = sink.close()
    if n_output + len(sink) != n_input:
        raise StepAccountingError(
            f"pipeline: expected output + excluded == input, got {n_output} + {len(sink)} "
            f"!= {n_input}"
        )
    return PipelineStats(
        n_input=n_input,
        n_output=n_output,
        n_excluded=len(sink),
        steps=all_stats,
        output_path=out,
        exclusions_path=written,
        documents=kept,
    )
