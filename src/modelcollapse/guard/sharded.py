"""Sharded ``guard filter``: one task per shard on an executor, stats merged on the driver.

A corpus stored as shards (JSONL, Parquet, CSV or TXT files; a directory, a glob or a list of
them, see :func:`~modelcollapse.measure.sharded.expand_shards`) is filtered by
:func:`filter_shards`, one task per shard on an executor (:mod:`modelcollapse.execution`: local
processes or a Ray cluster). A task

1. builds its own steps from the :class:`~modelcollapse.guard.filter_plan.FilterPlan` (its own
   registry connection, the watermark key read from its file or variable by the worker, so the
   key is never part of a task's arguments);
2. streams its shard with the record rules of
   :func:`~modelcollapse.data.readers.read_documents` (bad records fail with ``file:line`` or,
   with ``on_error="skip"``, go to ``<shard>.quarantine.jsonl`` and are counted);
3. runs the steps with :func:`~modelcollapse.guard.pipeline.run_pipeline`, writing kept
   documents to ``out_dir/<shard name>`` and dropped ones to ``exclusions_dir/<shard name>``
   (JSONL and Parquet shards keep their format and name; CSV and TXT shards are written as
   ``<stem>.jsonl``), each atomically (temporary name, then rename), so a killed job never
   leaves a half-written shard under its final name;
4. returns its :class:`~modelcollapse.guard.pipeline.PipelineStats` and its bad-record count.

The driver merges the stats **in shard order** (:meth:`PipelineStats.merged`: counts and
per-reason counts add) and checks ``kept + excluded == input`` for the whole run. Nothing a
task does depends on the worker or on timing, so the output files (byte for byte) and the
merged stats are the same for the local executor with 1 or N workers and for Ray. (Records
without ``provenance.created_at`` get one timestamp for the whole job, fixed on the driver or
given as ``created_at``, rather than each reader's clock.) Two caveats:
gzip output (``.jsonl.gz`` shards) stores the write time in its header, so only the decompressed
bytes match; and a zero-shot language-model detector's scores are floating-point sums whose last
bits may depend on the thread count (the n-gram classifier, the registry and the watermark are
exact).

Shards, the registry database and the key file must be reachable at the same path from every
worker (on a cluster: a shared filesystem). Relative paths are made absolute on the driver.

Resume: the job writes ``exclusions_dir/.guard-filter.json`` before any task and every task
writes ``exclusions_dir/.<output name>.done.json`` last (:mod:`modelcollapse.guard.filter_resume`),
so ``resume=True`` (CLI ``--resume``) finishes a killed job in the same folders: finished shards
are skipped, their stats read back, and the merged result and the folders are those of an
uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelcollapse.data.document import Document
from modelcollapse.data.quarantine import Quarantine, check_on_error
from modelcollapse.data.readers import iter_documents
from modelcollapse.data.records import detect_format
from modelcollapse.errors import (
    DataError,
    InvalidParameterError,
    ModelCollapseError,
)
from modelcollapse.execution.base import executor_in_use
from modelcollapse.guard.filter_plan import FilterPlan, load_watermark_tokenizer
from modelcollapse.guard.filter_resume import (
    done_record_path,
    read_done,
    remove_leftovers,
    shard_state,
    start_job,
    write_done,
)
from modelcollapse.guard.pipeline import PipelineStats, run_pipeline

if TYPE_CHECKING:
    from modelcollapse.execution.base import Executor
    from modelcollapse.measure.sharded import ShardSpec

__all__ = ["ShardFilterResult", "ShardedFilterResult", "filter_shard", "filter_shards"]


def output_name(shard: Path) -> str:
    """The file name of a shard's outputs: its own for JSONL and Parquet, ``<stem>.jsonl`` for
    CSV and TXT (gzipped or not)."""
    fmt, gz = detect_format(shard)
    if fmt in ("jsonl", "parquet"):
        return shard.name
    base = shard.name[: -len(".gz")] if gz else shard.name
    return Path(base).stem + ".jsonl"


def _stamped(obj: Any, created_at: str) -> Any:
    """``obj`` with ``provenance.created_at`` set to ``created_at`` where the record has none.

    The reader fills a missing ``created_at`` with the time of reading, which differs between
    workers and runs; one timestamp for the whole job keeps the outputs identical whichever
    worker reads which shard. Provenance that is not an object (or a string holding one) is
    left for the reader to reject with its usual reason.
    """
    if not isinstance(obj, dict):
        return obj
    prov = obj.get("provenance")
    if isinstance(prov, str):
        try:
            prov = json.loads(prov)
        except (ValueError, RecursionError):
            return obj
    if prov is None:
        prov = {}
    if not isinstance(prov, dict) or "created_at" in prov:
        return obj
    return {**obj, "provenance": {**prov, "created_at": created_at}}


def iter_shard_documents(
    path: Path,
    q: Quarantine,
    *,
    text_field: str = "text",
    id_field: str = "id",
    created_at: str | None = None,
) -> Iterator[Document]:
    """The shard's documents, one at a time, bad records handed to ``q``: the rules of
    :func:`~modelcollapse.data.readers.read_documents` without holding the file in memory and
    without its "no records" error (an empty shard is a shard with nothing to filter). With
    ``created_at``, records without ``provenance.created_at`` get that timestamp."""
    stamp = None if created_at is None else (lambda obj: _stamped(obj, created_at))
    for _, doc in iter_documents(path, q, text_field, id_field, prepare=stamp):
        yield doc


@dataclass(frozen=True)
class ShardFilterTask:
    """One shard to filter (picklable: it travels to the worker; it holds no key). With
    ``record_path``, the task writes its done record there last, tagged with ``job`` (the job
    record's SHA-256)."""

    path: Path
    plan: FilterPlan
    output_path: Path
    exclusions_path: Path
    text_field: str
    id_field: str
    on_error: str
    created_at: str
    record_path: Path | None = None
    job: str = ""


@dataclass
class ShardFilterResult:
    """What one shard's task did: its stats, its bad records and where they went."""

    path: Path
    stats: PipelineStats
    n_bad: int
    quarantine_path: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            **self.stats.to_dict(),
            "n_bad": self.n_bad,
            "quarantine_path": None if self.quarantine_path is None else str(self.quarantine_path),
        }


def filter_shard(task: ShardFilterTask) -> ShardFilterResult:
    """Filter one shard into its output and exclusion files (an executor task); then, when the
    task has a ``record_path``, write its done record."""
    state = shard_state(task.path)  # before reading: a shard changed meanwhile is redone
    with Quarantine(task.path, task.on_error) as q, task.plan.open_steps() as steps:
        docs = iter_shard_documents(
            task.path, q, text_field=task.text_field, id_field=task.id_field,
            created_at=task.created_at,
        )  # fmt: skip
        stats = run_pipeline(
            docs, steps, exclusions_path=task.exclusions_path, output_path=task.output_path
        )
    result = ShardFilterResult(task.path, stats, q.n_bad, q.written)
    if task.record_path is not None:
        write_done(
            task.record_path, job=task.job, shard=task.path, state=state, stats=stats,
            n_bad=q.n_bad, quarantine_path=q.written, output_path=task.output_path,
            exclusions_path=task.exclusions_path,
        )  # fmt: skip
    return result


@dataclass
class ShardedFilterResult:
    """The merged run: ``stats`` over all shards (in shard order), per-shard results, bad
    records, ``checks``, a JSON-ready description of the checks (registry URL without its
    password, watermark parameters with the key's SHA-256 fingerprint, never the key), and
    ``skipped``, the indices of the shards a resumed run found finished and did not redo."""

    stats: PipelineStats
    shards: list[ShardFilterResult]
    checks: dict[str, Any] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)

    @property
    def n_bad(self) -> int:
        return sum(s.n_bad for s in self.shards)

    @property
    def n_shards(self) -> int:
        return len(self.shards)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        """The single-file ``guard filter --json`` summary plus ``n_shards``, ``n_skipped`` and
        ``shards``."""
        return {
            **self.stats.to_dict(),
            "n_bad": self.n_bad,
            "n_shards": self.n_shards,
            "n_skipped": self.n_skipped,
            "checks": self.checks,
            "shards": [s.to_dict() for s in self.shards],
        }


def _absolute_registry_url(url: str) -> str:
    """``url`` with a relative SQLite path made absolute (workers may run in another folder);
    an in-memory SQLite database is refused (each worker would see its own, empty one)."""
    from modelcollapse.guard.database import parse_url

    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file::memory:"):
        raise InvalidParameterError(
            "registry: expected a database every worker can open (a SQLite file or a "
            f"PostgreSQL server), got an in-memory SQLite database {url!r}"
        )
    path = Path(db).expanduser()
    if path.is_absolute():
        return url
    return parsed.set(database=str(path.absolute())).render_as_string(hide_password=False)


def prepare_plan(plan: FilterPlan) -> tuple[FilterPlan, dict[str, Any]]:
    """Check on the driver, before any task, what every worker will need, and describe it.

    Opens the registry once (which also creates its tables, so workers never race to), reads
    the watermark key once (for its fingerprint; the key stays in this process) and checks the
    tokenizer; the classifier directory must exist. Returns the plan with absolute paths and the
    ``checks`` description.
    """
    from dataclasses import replace

    checks: dict[str, Any] = {}
    if plan.registry is not None:
        from modelcollapse.guard.registry import Registry

        spec = replace(plan.registry, url=_absolute_registry_url(plan.registry.url))
        with Registry(spec.url) as reg:
            checks["registry"] = {"url": reg.url, "near": spec.near}
        plan = replace(plan, registry=spec)
    if plan.watermark is not None:
        wm = plan.watermark
        if wm.key_file is not None:
            wm = replace(wm, key_file=Path(wm.key_file).expanduser().absolute())
        cfg = wm.config()
        load_watermark_tokenizer(wm.tokenizer)
        checks["watermark"] = {
            **cfg.public_params(),
            "z_threshold": wm.z_threshold,
            "window": wm.window,
        }
        plan = replace(plan, watermark=wm)
    if plan.detector is not None:
        det = plan.detector
        if det.classifier is not None:
            from modelcollapse.guard.classifier import NGramClassifier

            det = replace(det, classifier=Path(det.classifier).expanduser().absolute())
            NGramClassifier.load(det.classifier)  # fail here, not once per task
        desc = {"method": det.method}
        desc.update(
            {"classifier": str(det.classifier)}
            if det.method == "classifier"
            else {"model": det.model, "performer": det.performer}
        )
        checks["detector"] = {**desc, "threshold": det.threshold}
        plan = replace(plan, detector=det)
    return plan, checks


def _targets(
    shards: list[Path], out_dir: Path, exclusions_dir: Path, overwrite: bool
) -> list[tuple[Path, Path]]:
    """Each shard's output and exclusion paths, refusing clashes and (unless ``overwrite``)
    files already there."""
    for name, folder in (("out_dir", out_dir), ("exclusions_dir", exclusions_dir)):
        if folder.exists() and not folder.is_dir():
            raise InvalidParameterError(f"{name}: expected a directory, got the file {folder}")
    if out_dir.resolve() == exclusions_dir.resolve():
        raise InvalidParameterError(
            f"expected different out_dir and exclusions_dir, got {out_dir} twice"
        )
    names: dict[str, Path] = {}
    for shard in shards:
        fmt, _ = detect_format(shard)
        if fmt == "npy":
            raise DataError(
                "expected a text format (.jsonl, .ndjson, .csv, .parquet, .txt), got .npy",
                path=str(shard),
            )
        name = output_name(shard)
        if name in names:
            raise InvalidParameterError(
                f"expected shards with distinct output names, got {names[name]} and {shard} "
                f"both writing {name}"
            )
        names[name] = shard
    inputs = {s.resolve() for s in shards}
    pairs = [(out_dir / n, exclusions_dir / n) for n in names]
    for path in (p for pair in pairs for p in pair):
        if path.resolve() in inputs:
            raise InvalidParameterError(
                f"expected outputs apart from the input shards, got {path} as both"
            )
        if path.exists() and not overwrite:
            raise InvalidParameterError(
                f"expected no existing output file, got {path} (pass overwrite=True, CLI "
                "--overwrite, to replace the outputs of an earlier run)"
            )
    return pairs


def filter_shards(
    inputs: ShardSpec,
    plan: FilterPlan,
    out_dir: str | Path,
    exclusions_dir: str | Path,
    *,
    executor: Executor | str = "local",
    workers: int | None = None,
    address: str | None = None,
    on_error: str = "fail",
    text_field: str = "text",
    id_field: str = "id",
    overwrite: bool = False,
    resume: bool = False,
    created_at: str | None = None,
    progress: bool = False,
) -> ShardedFilterResult:
    """Run ``plan``'s checks over every shard of ``inputs``, one task per shard.

    Args:
        inputs: a file, a directory, a glob or a list of them
            (:func:`~modelcollapse.measure.sharded.expand_shards`; the order is shard order).
        plan: the checks (:class:`~modelcollapse.guard.filter_plan.FilterPlan`), with the
            detector's threshold already resolved.
        out_dir, exclusions_dir: directories (created when missing) for the kept and dropped
            documents, one file per shard (see the module docstring); refused when they already
            hold a target file or an earlier job, unless ``overwrite`` or ``resume``.
        executor: an :class:`~modelcollapse.execution.base.Executor` (left open) or a name for
            :func:`~modelcollapse.execution.base.get_executor` with ``workers`` and ``address``
            (closed at the end).
        on_error, text_field, id_field: as :func:`~modelcollapse.data.readers.read_documents`,
            per shard (an empty shard is fine; a run without any good record is a DataError).
        overwrite: replace the outputs and the job of an earlier run in the folders.
        resume: finish the job an earlier, interrupted call started in the same folders (see
            :mod:`modelcollapse.guard.filter_resume`): the same inputs, checks and options are
            required (else InvalidParameterError naming the first difference), shards whose done
            record matches are skipped, the others recomputed. Not with ``overwrite``.
        created_at: the ``provenance.created_at`` given to records without one (default: the
            time the job started, UTC, to the second, reused on resume; the same for every
            shard).
        progress: show a progress bar over shards (on stderr).

    Returns the merged stats, per-shard results, the checks' description and the skipped
    shards; identical for any executor and worker count, and for a resumed and an
    uninterrupted job. A failed task stops the run with the task's own error (a bad record's
    DataError names ``file:line``); shards finished by then keep their outputs.

    Example (a job killed part way, run again with the same arguments)::

        res = filter_shards("crawl/", plan, "kept/", "excluded/", resume=True)
        res.n_skipped  # shards finished before the kill, not redone
    """
    from modelcollapse.measure.sharded import expand_shards
    from modelcollapse.progress import progress_bar

    if not isinstance(plan, FilterPlan):
        raise InvalidParameterError(f"plan: expected a FilterPlan, got {type(plan).__name__}")
    on_error = check_on_error(on_error)
    if overwrite and resume:
        raise InvalidParameterError(
            "expected at most one of overwrite (start again) and resume (finish an interrupted "
            "job), got both"
        )
    if created_at is not None and (not isinstance(created_at, str) or not created_at):
        raise InvalidParameterError(
            f"created_at: expected an ISO 8601 timestamp string, got {created_at!r}"
        )
    shards = [p.absolute() for p in expand_shards(inputs, "inputs")]
    out = Path(out_dir).expanduser().absolute()
    excl = Path(exclusions_dir).expanduser().absolute()
    pairs = _targets(shards, out, excl, overwrite or resume)
    plan, checks = prepare_plan(plan)
    names = [o.name for o, _ in pairs]
    created_at, job = start_job(
        excl, checks=checks, plan=plan, shards=shards, outputs=names, on_error=on_error,
        text_field=text_field, id_field=id_field, created_at=created_at, resume=resume,
        overwrite=overwrite,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    results: list[ShardFilterResult | None] = [None] * len(shards)
    tasks: list[ShardFilterTask] = []
    todo: list[int] = []  # shard index of each task
    for i, (shard, (o, e)) in enumerate(zip(shards, pairs, strict=True)):
        record = done_record_path(excl, o.name)
        found = (
            read_done(record, job=job, shard=shard, output_path=o, exclusions_path=e)
            if resume
            else None
        )
        if found is not None:
            results[i] = ShardFilterResult(shard, found.stats, found.n_bad, found.quarantine_path)
            continue
        if resume:  # what a killed task left: its done record (if stale) and its temporaries
            record.unlink(missing_ok=True)
            remove_leftovers([out, excl], [o.name])
            remove_leftovers([shard.parent], [f"{shard.name}.quarantine.jsonl"])
        todo.append(i)
        tasks.append(
            ShardFilterTask(
                shard, plan, o, e, text_field, id_field, on_error, created_at, record, job
            )
        )
    if tasks:
        with (
            executor_in_use(executor, workers=workers, address=address) as ex,
            progress_bar(progress, len(tasks), "guard filter (shards)", stderr=True) as adv,
        ):
            for index, result in ex.map(filter_shard, tasks):
                results[todo[index]] = result
                adv()
    done = [r for r in results if r is not None]
    assert len(done) == len(shards), "every shard reports once"
    stats = PipelineStats.merged([r.stats for r in done], output_path=out, exclusions_path=excl)
    if stats.n_output + stats.n_excluded != stats.n_input:
        raise ModelCollapseError(
            f"sharded filter: expected kept + excluded == input, got {stats.n_output} + "
            f"{stats.n_excluded} != {stats.n_input}"
        )
    if stats.n_input == 0:
        n_bad = sum(r.n_bad for r in done)
        named = inputs if isinstance(inputs, (str, Path)) else shards[0]
        where = str(shards[0]) if len(shards) == 1 else f"{named} ({len(shards)} shards)"
        reason = f"no valid records: all {n_bad} record(s) are bad" if n_bad else "no records"
        raise DataError(reason, path=where)
    skipped = sorted(set(range(len(shards))) - set(todo))
    return ShardedFilterResult(stats, done, checks, skipped)
