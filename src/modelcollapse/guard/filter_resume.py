"""Resume a killed sharded ``guard filter`` job: a job record and one done record per shard.

A sharded job (:func:`~modelcollapse.guard.sharded.filter_shards`) keeps two kinds of small JSON
files in its exclusions folder, next to the per-shard outputs (datatrove's completion markers,
in the sweep's style of :mod:`modelcollapse.sweep.runner`):

- ``.guard-filter.json``, the **job record**, written before any task: the checks' public
  description (``checks`` of :func:`~modelcollapse.guard.sharded.prepare_plan`: registry URL
  without its password, watermark parameters with the key's SHA-256 fingerprint, never the
  key), the settings that change a verdict but are not in ``checks`` (registry threshold,
  watermark tokenizer, detector length, batch size and device), the ordered shard list and
  output names, ``on_error``, ``text_field``, ``id_field`` and ``created_at``;
- ``.<output name>.done.json``, a shard's **done record**, written by its task atomically and
  *last*, after both output files (and the quarantine) are in place: the shard's size and
  modification time when the task began reading it, the sizes of the two outputs, its
  :class:`~modelcollapse.guard.pipeline.PipelineStats` (without paths), its bad-record count
  and the SHA-256 of the job record (so a record of another job never matches).

On resume the job record must describe the same job (compared field by field; the first
difference is named), ``created_at`` is taken from it (records without a timestamp get the
same one as in the first run, so the outputs are identical), and a shard is skipped only when
its done record belongs to this job, the shard's size and modification time are unchanged and
both outputs exist with the recorded sizes. Every other shard is recomputed after its leftover
temporaries are removed. Nothing else is checked: a registry that gained entries, or a
classifier or model directory retrained in place, since the killed run is not detected.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelcollapse.data.json_values import first_difference
from modelcollapse.data.writers import atomic_path
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.pipeline import PipelineStats

if TYPE_CHECKING:
    from modelcollapse.guard.filter_plan import FilterPlan

__all__ = [
    "JOB_FILE",
    "DoneRecord",
    "done_record_path",
    "read_done",
    "remove_leftovers",
    "start_job",
    "write_done",
]

JOB_FILE = ".guard-filter.json"
VERSION = 1
# Fields that make two jobs the same job; created_at is compared only when given explicitly.
IDENTITY = ("version", "checks", "settings", "shards", "outputs", "on_error", "text_field",
            "id_field")  # fmt: skip


def done_record_path(exclusions_dir: Path, output_name: str) -> Path:
    """Where the done record of the shard writing ``output_name`` lives."""
    return exclusions_dir / f".{output_name}.done.json"


def _canonical(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, ensure_ascii=True, indent=1) + "\n").encode("ascii")


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(_canonical(obj))


def _lookup(doc: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def plan_settings(plan: FilterPlan) -> dict[str, Any]:
    """What changes a verdict but is not in ``checks`` (which stays the public summary)."""
    settings: dict[str, Any] = {}
    if plan.registry is not None:
        settings["registry"] = {"threshold": plan.registry.threshold}
    if plan.watermark is not None:
        settings["watermark"] = {"tokenizer": plan.watermark.tokenizer}
    if plan.detector is not None:
        det = plan.detector
        settings["detector"] = {
            "max_length": det.max_length, "batch_size": det.batch_size, "device": det.device,
        }  # fmt: skip
    return settings


def start_job(
    exclusions_dir: Path,
    *,
    checks: dict[str, Any],
    plan: FilterPlan,
    shards: Sequence[Path],
    outputs: Sequence[str],
    on_error: str,
    text_field: str,
    id_field: str,
    created_at: str | None,
    resume: bool,
    overwrite: bool,
) -> tuple[str, str]:
    """Write the job record of a new job, or check the stored one on ``resume``.

    Returns ``(created_at, digest)``: the job's timestamp (the stored one on resume unless
    given; the current time, UTC, to the second, for a new job unless given) and the SHA-256 of
    the job record, which every done record carries. A new job refuses a folder holding another
    job's record unless ``overwrite``; ``resume`` refuses a folder without one, or with the
    record of a different job (one line naming the first differing field).
    """
    job = {
        "version": VERSION,
        "checks": checks,
        "settings": plan_settings(plan),
        "shards": [str(s) for s in shards],
        "outputs": list(outputs),
        "on_error": on_error,
        "text_field": text_field,
        "id_field": id_field,
        "created_at": created_at,
    }
    job = json.loads(_canonical(job))  # compare as stored: tuples become lists, and so on
    path = exclusions_dir / JOB_FILE
    if resume:
        stored = _read_job(path)
        fields = [*IDENTITY, *(["created_at"] if created_at is not None else [])]
        diff = first_difference({k: stored.get(k) for k in fields}, {k: job.get(k) for k in fields})
        if diff is not None:
            was, now = repr(_lookup(stored, diff)), repr(_lookup(job, diff))
            values = f": stored {was}, now {now}" if len(was) + len(now) < 160 else ""
            raise InvalidParameterError(
                f"{path} records a different guard filter job ({diff!r} differs{values}); "
                "expected the same shards, checks and options to resume, or new output folders"
            )
        return stored["created_at"], hashlib.sha256(_canonical(stored)).hexdigest()
    if path.exists() and not overwrite:
        raise InvalidParameterError(
            f"expected no earlier guard filter job in {exclusions_dir}, got its {JOB_FILE} "
            "(pass resume=True, CLI --resume, to finish it, or overwrite=True, CLI --overwrite, "
            "to start again)"
        )
    if created_at is None:
        job["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    exclusions_dir.mkdir(parents=True, exist_ok=True)
    for name in outputs:  # a new job: no done record of an earlier one may survive
        done_record_path(exclusions_dir, name).unlink(missing_ok=True)
    _write_json(path, job)
    return job["created_at"], hashlib.sha256(_canonical(job)).hexdigest()


def _read_job(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InvalidParameterError(
            f"resume: expected {path.parent} to hold an interrupted guard filter job, got no "
            f"{JOB_FILE}"
        )
    try:
        stored = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(
            f"{path}: expected a job record written by modelcollapse, got an unreadable file "
            f"({exc})"
        ) from None
    if not isinstance(stored, dict) or not isinstance(stored.get("created_at"), str):
        raise InvalidParameterError(
            f"{path}: expected a job record written by modelcollapse, got {type(stored).__name__}"
            " without created_at"
        )
    return stored


def shard_state(path: Path) -> dict[str, int]:
    """The shard's size and modification time (ns): what must not change for a skip."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _identity(
    job: str, shard: Path, state: dict[str, int], output_path: Path, exclusions_path: Path
) -> dict[str, Any]:
    """What a done record must match to be reused: the job, the shard as it was read and the
    two outputs as they were written."""
    return {
        "version": VERSION,
        "job": job,
        "shard": str(shard),
        "shard_size": state["size"],
        "shard_mtime_ns": state["mtime_ns"],
        "output_size": output_path.stat().st_size,
        "exclusions_size": exclusions_path.stat().st_size,
    }


def write_done(
    record: Path,
    *,
    job: str,
    shard: Path,
    state: dict[str, int],
    stats: PipelineStats,
    n_bad: int,
    quarantine_path: Path | None,
    output_path: Path,
    exclusions_path: Path,
) -> None:
    """Write a shard's done record (call it last: after both outputs and the quarantine)."""
    summary = stats.to_dict()
    del summary["output_path"], summary["exclusions_path"]  # the folders may be moved
    _write_json(
        record,
        {
            **_identity(job, shard, state, output_path, exclusions_path),
            "stats": summary,
            "n_bad": n_bad,
            "quarantine_path": None if quarantine_path is None else str(quarantine_path),
        },
    )


@dataclass
class DoneRecord:
    """A finished shard read back from its done record: stats (with the current paths), bad
    records and quarantine file."""

    stats: PipelineStats
    n_bad: int
    quarantine_path: Path | None


def read_done(
    record: Path, *, job: str, shard: Path, output_path: Path, exclusions_path: Path
) -> DoneRecord | None:
    """The shard's finished result when its done record matches this job, the shard and the
    outputs on disk; None (recompute it) otherwise, a missing or unreadable record included."""
    try:
        d = json.loads(record.read_bytes())
        if not isinstance(d, dict):
            return None
        state = shard_state(shard)
        expected = _identity(job, shard, state, output_path, exclusions_path)
        if any(d.get(k) != v for k, v in expected.items()):
            return None
        stats = PipelineStats.from_dict(d["stats"])
        n_bad, quarantine = d.get("n_bad"), d.get("quarantine_path")
    except (OSError, ValueError, KeyError, TypeError, RecursionError, InvalidParameterError):
        return None
    if isinstance(n_bad, bool) or not isinstance(n_bad, int) or n_bad < 0:
        return None
    if quarantine is not None and not (isinstance(quarantine, str) and Path(quarantine).is_file()):
        return None  # the bad records' file is gone: redo the shard, which writes it again
    stats.output_path, stats.exclusions_path = output_path, exclusions_path
    return DoneRecord(stats, n_bad, None if quarantine is None else Path(quarantine))


def remove_leftovers(folders: Sequence[Path], names: Sequence[str]) -> int:
    """Remove the temporaries a killed task left in ``folders`` for outputs named ``names``
    (``.<name>.<random>.tmp`` and the done record's ``..<name>.done.json.<random>.tmp``).
    Returns how many were removed."""
    prefixes = tuple(f".{n}." for n in names) + tuple(f"..{n}.done.json." for n in names)
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if entry.name.startswith(prefixes) and entry.name.endswith(".tmp") and entry.is_file():
                os.unlink(entry.path)
                removed += 1
    return removed
