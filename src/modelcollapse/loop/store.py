"""The run store: everything a run writes to its directory, written so a kill loses nothing.

Layout of ``DIR``::

    config.yaml                       resolved config (with the seed), written first
    metrics.parquet                   generation, replicate, metric, value (long format)
    summary.json                      statistics over replicates, wall time, counts, kinds
    samples/rep_XXXXX/gen_XXXX.npy    synthetic sets, when save_samples (.jsonl for text)
    checkpoints/rep_XXXXX/gen_XXXX.npz    general engine: generations FIRST..XXXX of a replicate
    checkpoints/rep_XXXXX/gen_XXXX.model.safetensors
                                      the model's weights, for generators whose
                                      ``checkpoint_format`` is "safetensors" (the neural ones)
    checkpoints/gen_XXXX.npz              vectorised engine: all replicates of a generation

A general-engine checkpoint file holds consecutive generations ``first..generation`` (arrays
``first``, ``generation``, ``model_format``, the model state of the last generation under
``model/``, and per generation ``gen_XXXX/samples``, ``samples_is_text``, ``metric_names``,
``metric_values``, ``count_names``, ``count_values``). The engine writes generation 0 alone (its
model is the reference model), then whatever generations finished since the last write once
``checkpoint_every`` seconds have passed, and always the last generation. A cheap model (a 1-D
Gaussian, ~1 ms a generation) so writes two files per replicate instead of one per generation,
which was 80% of a small sweep's time; a neural model's minutes-long generations each get their
own file. ``checkpoint_every=0`` writes every generation.

Every file is written atomically: to a temporary file in the same directory (``.NAME.tmp-PID``),
flushed and fsync-ed, then renamed over the final name with ``os.replace`` (atomic on POSIX and
Windows). A file with its final name is therefore complete; a
kill leaves at most a temporary file, which :meth:`RunStore.clean_temporaries` removes. Arrays
are ``.npz`` read back with ``allow_pickle=False``, or safetensors: no pickle anywhere. A
generation's ``.npz`` is written last, so it marks the generation complete; its weights file is
written (atomically) before it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from modelcollapse.errors import InvalidParameterError
from modelcollapse.loop.config import ExperimentConfig, dump_config, parse_config

_GEN_FILE = re.compile(r"^gen_(\d{4,})\.npz$")
# Ours are ".NAME.tmp-PID"; data.writers (used for text samples) writes ".NAME.XXXX.tmp".
_TMP_FILE = re.compile(r"^\..+\.tmp(-\d+)?$")

# Seconds between a general-engine replicate's checkpoint writes; generation 0 and the last
# generation are always written. 1 s keeps the writes under ~1% of a cheap run's time and loses
# at most a second of work to a kill.
DEFAULT_CHECKPOINT_EVERY = 1.0


def check_checkpoint_every(seconds: Any) -> float:
    """``checkpoint_every`` as a float, or InvalidParameterError (negative, NaN, not a number)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise InvalidParameterError(f"checkpoint_every: expected seconds >= 0, got {seconds!r}")
    return float(seconds)


METRICS_SCHEMA = pa.schema(
    [
        ("generation", pa.int64()),
        ("replicate", pa.int64()),
        ("metric", pa.string()),
        ("value", pa.float64()),
    ]
)


# -- atomic writes ------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[io.BufferedWriter]:
    """Open a temporary file next to ``path``; on success fsync it and rename it to ``path``.

    The directory is not fsync-ed: if a power failure loses the rename, the file is simply
    missing and its generation is recomputed on resume; fsync-ing the file before the rename is
    what guarantees a final name never points at partial content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> None:
    with atomic_file(path) as fh:
        fh.write(data)


def atomic_savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez`` (uncompressed: checkpoints are written every generation) atomically."""
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise InvalidParameterError(
                f"checkpoint {path.name}: expected plain arrays, got an object array for {key!r}"
            )
    # Build the zip in memory and write it with one call: ``np.savez`` on a file seeks and writes
    # dozens of times per member, and those system calls dominated small checkpoints' cost.
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getbuffer())


def atomic_save_safetensors(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write numeric arrays to a safetensors file atomically (streamed to disk, not via bytes)."""
    from modelcollapse.errors import require_extra

    save_file = require_extra("safetensors.numpy", "torch").save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        # np.ascontiguousarray would turn 0-d arrays into 1-d ones.
        save_file({k: np.require(v, requirements="C") for k, v in arrays.items()}, str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def load_safetensors(path: Path) -> dict[str, np.ndarray] | None:
    """All arrays of a safetensors file, or None when it is missing or cannot be read."""
    try:
        from safetensors.numpy import load_file

        return load_file(str(path))
    except Exception:  # a damaged file: safetensors raises several types
        return None


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """All arrays of an ``.npz`` file (never unpickling), or None when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None


def text_array(docs: list[str]) -> np.ndarray:
    """Documents as a fixed-width unicode (``<U``) array, which loads without pickle."""
    return np.array(docs, dtype=str) if docs else np.zeros(0, dtype="<U1")


# -- metric tables --------------------------------------------------------------------------------
def metrics_table(
    generation: np.ndarray,
    replicate: np.ndarray,
    metric_index: np.ndarray,
    names: list[str],
    value: np.ndarray,
    *,
    assume_sorted: bool = False,
) -> pa.Table:
    """The long-format metrics table, sorted by replicate, generation, metric name.

    ``metric_index`` indexes ``names``; building the string column from a dictionary keeps
    millions of rows fast (no Python string per row). ``assume_sorted`` skips the sort when the
    caller built the rows in order (the vectorised engine's millions of rows).
    """
    names_sorted = sorted(names)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.asarray(names, dtype=object), kind="stable")] = np.arange(len(names))
    code = rank[np.asarray(metric_index, dtype=np.int64)]
    generation = np.asarray(generation, dtype=np.int64)
    replicate = np.asarray(replicate, dtype=np.int64)
    order = None if assume_sorted else np.lexsort((code, generation, replicate))
    if order is not None and not np.array_equal(order, np.arange(order.size)):
        generation, replicate, code = generation[order], replicate[order], code[order]
        value = np.asarray(value)[order]
    metric = pa.DictionaryArray.from_arrays(
        pa.array(code.astype(np.int32)), pa.array(names_sorted, type=pa.string())
    ).cast(pa.string())
    return pa.Table.from_arrays(
        [
            pa.array(generation),
            pa.array(replicate),
            metric,
            pa.array(np.asarray(value, dtype=np.float64)),
        ],
        schema=METRICS_SCHEMA,
    )


@dataclass
class Checkpoint:
    """One replicate's generation, as the general engine stores it.

    ``model_state`` is kept only for the last generation of each checkpoint file (and always for
    generation 0, which is written alone): the others are None.
    """

    generation: int
    samples: Any
    metrics: dict[str, float]
    counts: dict[str, int]
    model_state: dict[str, np.ndarray] | None = None


def _weights_path(folder: Path, generation: int) -> Path:
    return folder / f"gen_{generation:04d}.model.safetensors"


def flatten_dict(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flatten_dict(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def _record_arrays(rec: Checkpoint) -> dict[str, np.ndarray]:
    """One generation's arrays in a checkpoint file, under ``gen_XXXX/``."""
    names, count_names = sorted(rec.metrics), sorted(rec.counts)
    samples = rec.samples
    p = f"gen_{int(rec.generation):04d}/"
    return {
        p + "samples": text_array(samples) if isinstance(samples, list) else np.asarray(samples),
        p + "samples_is_text": np.asarray(isinstance(samples, list)),
        p + "metric_names": text_array(names),
        p + "metric_values": np.asarray([rec.metrics[k] for k in names], dtype=np.float64),
        p + "count_names": text_array(count_names),
        p + "count_values": np.asarray([rec.counts[k] for k in count_names], dtype=np.int64),
    }


def record_samples(arrays: Mapping[str, np.ndarray], generation: int) -> Any:
    """The samples of ``generation`` from a checkpoint file's arrays (a list for text), or None."""
    p = f"gen_{generation:04d}/"
    if p + "samples" not in arrays:
        return None
    samples = arrays[p + "samples"]
    is_text = p + "samples_is_text" in arrays and bool(arrays[p + "samples_is_text"])
    return samples.tolist() if is_text else samples


def _read_records(folder: Path, path: Path, last: int, *, first: int) -> list[Checkpoint] | None:
    """The generations ``first..last`` stored in ``path``, or None when it is not exactly that."""
    arrays = load_npz(path)
    try:
        if (
            arrays is None
            or int(arrays["first"]) != first
            or int(arrays["generation"]) != last
            or last < first
        ):
            return None
        if str(arrays["model_format"]) == "safetensors":
            weights = load_safetensors(_weights_path(folder, last))
            if weights is None:
                return None
            state = weights
        else:
            state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
        records = []
        for g in range(first, last + 1):
            p = f"gen_{g:04d}/"
            records.append(
                Checkpoint(
                    generation=g,
                    samples=record_samples(arrays, g),
                    metrics=dict(
                        zip(
                            arrays[p + "metric_names"].tolist(),
                            arrays[p + "metric_values"].tolist(),
                            strict=True,
                        )
                    ),
                    counts=dict(
                        zip(
                            arrays[p + "count_names"].tolist(),
                            (int(c) for c in arrays[p + "count_values"]),
                            strict=True,
                        )
                    ),
                )
            )
    except (KeyError, ValueError, TypeError):
        return None
    if any(rec.samples is None for rec in records):
        return None
    records[-1].model_state = state
    return records


class RunStore:
    """Reads and writes one run directory (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- paths ---------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.parquet"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.json"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    def replicate_dir(self, replicate: int) -> Path:
        return self.checkpoint_dir / f"rep_{replicate:05d}"

    def samples_dir(self, replicate: int) -> Path:
        return self.root / "samples" / f"rep_{replicate:05d}"

    # -- config --------------------------------------------------------------------------------
    def prepare(self, cfg: ExperimentConfig, *, resume: bool) -> bool:
        """Write ``config.yaml`` (new run) or check it against ``cfg`` (resume).

        Returns True when an earlier run is being resumed. A directory that already holds a run
        is refused unless ``resume`` is set, so results are never silently mixed.
        """
        exists = self.config_path.is_file()
        if exists and not resume:
            raise InvalidParameterError(
                f"{self.root} already holds a run (config.yaml exists); expected an empty or new "
                "directory, or pass --resume (resume=True) to continue it"
            )
        if exists:
            self.check_config(cfg)
            self.clean_temporaries()
            return True
        self.root.mkdir(parents=True, exist_ok=True)
        # A run killed while writing its config leaves only ".config.yaml.tmp-PID": remove that
        # (and nothing else, the directory may be the user's) before starting afresh.
        for stale in self.root.glob(f".{self.config_path.name}.tmp-*"):
            if _TMP_FILE.match(stale.name):
                stale.unlink(missing_ok=True)
        atomic_write_bytes(self.config_path, dump_config(cfg).encode("utf-8"))
        return False

    def check_config(self, cfg: ExperimentConfig) -> None:
        """Refuse to resume with a config that differs from the stored one."""
        try:
            stored = parse_config(yaml.safe_load(self.config_path.read_text(encoding="utf-8")))
        except (yaml.YAMLError, InvalidParameterError, UnicodeDecodeError) as exc:
            raise InvalidParameterError(
                f"{self.config_path}: expected the config of the run to resume, got an unreadable file ({exc})"
            ) from None
        old, new = (
            flatten_dict(stored.model_dump(mode="json")),
            flatten_dict(cfg.model_dump(mode="json")),
        )
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                raise InvalidParameterError(
                    f"cannot resume {self.root}: config key {key!r} differs (stored "
                    f"{old.get(key)!r}, given {new.get(key)!r}); expected the same config as the "
                    "interrupted run"
                )

    def clean_temporaries(self) -> int:
        """Remove temporary files left by a killed writer; returns how many were removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.rglob(".*.tmp*"):
            if path.is_file() and _TMP_FILE.match(path.name):
                path.unlink()
                removed += 1
        return removed

    # -- general engine checkpoints ------------------------------------------------------------
    def write_checkpoint(
        self,
        replicate: int,
        records: Sequence[Checkpoint],
        *,
        model_state: Mapping[str, np.ndarray],
        model_format: str = "npz",
    ) -> Path:
        """Write generations ``records`` (consecutive) to ``rep_XXXXX/gen_LAST.npz`` atomically.

        ``model_state`` is the model of the last record. With ``model_format="safetensors"`` it
        goes to ``gen_LAST.model.safetensors`` (written first) instead of into the ``.npz``.
        """
        gens = [int(rec.generation) for rec in records]
        if not gens or gens != list(range(gens[0], gens[0] + len(gens))):
            raise InvalidParameterError(
                f"checkpoint: expected consecutive generations, got {gens or 'none'}"
            )
        folder = self.replicate_dir(replicate)
        last = gens[-1]
        arrays: dict[str, np.ndarray] = {}
        if model_format == "safetensors":
            atomic_save_safetensors(_weights_path(folder, last), model_state)
        elif model_format == "npz":
            arrays.update({f"model/{k}": np.asarray(v) for k, v in model_state.items()})
        else:
            raise InvalidParameterError(
                f"model_format: expected 'npz' or 'safetensors', got {model_format!r}"
            )
        arrays.update(
            model_format=np.asarray(model_format),
            first=np.asarray(gens[0], dtype=np.int64),
            generation=np.asarray(last, dtype=np.int64),
        )
        for rec in records:
            arrays.update(_record_arrays(rec))
        path = folder / f"gen_{last:04d}.npz"
        atomic_savez(path, arrays)
        return path

    def load_checkpoints(self, replicate: int) -> list[Checkpoint]:
        """The replicate's complete checkpoints, generations 0, 1, ... without gaps.

        Reading stops at the first missing or unreadable file; that file and any later ones are
        deleted, since the generations after a gap are recomputed anyway. The first file must
        hold generation 0 alone (its model is the run's reference model).
        """
        out: list[Checkpoint] = []
        folder = self.replicate_dir(replicate)
        for g, path in self._generation_files(folder):
            records = _read_records(folder, path, g, first=len(out))
            if records is None or (not out and g != 0):
                self._drop_from(folder, g)
                break
            out.extend(records)
        return out

    def checkpoint_holding(self, replicate: int, generation: int) -> Path | None:
        """The checkpoint file that holds ``generation`` of ``replicate`` (read-only lookup).

        Files are named by their last generation, so it is the first file at or after
        ``generation``; None when there is none.
        """
        for g, path in self._generation_files(self.replicate_dir(replicate)):
            if g >= generation:
                return path
        return None

    # -- vectorised engine checkpoints ---------------------------------------------------------
    def write_generation(self, generation: int, arrays: Mapping[str, np.ndarray]) -> Path:
        """Write ``checkpoints/gen_XXXX.npz`` (all replicates of a generation) atomically."""
        path = self.checkpoint_dir / f"gen_{generation:04d}.npz"
        atomic_savez(path, {**arrays, "generation": np.asarray(generation, dtype=np.int64)})
        return path

    def load_generations(self) -> list[dict[str, np.ndarray]]:
        """The vectorised engine's complete checkpoints, generations 0, 1, ... without gaps."""
        out: list[dict[str, np.ndarray]] = []
        for g, path in self._generation_files(self.checkpoint_dir):
            arrays = load_npz(path) if g == len(out) else None
            if arrays is None or int(arrays.get("generation", -1)) != g:
                self._drop_from(self.checkpoint_dir, g)
                break
            out.append(arrays)
        return out

    @staticmethod
    def _generation_files(folder: Path) -> list[tuple[int, Path]]:
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            m = _GEN_FILE.match(path.name)
            if m and path.is_file():
                found.append((int(m.group(1)), path))
        return sorted(found)

    def _drop_from(self, folder: Path, generation: int) -> None:
        for g, path in self._generation_files(folder):
            if g >= generation:
                path.unlink()
                with contextlib.suppress(FileNotFoundError):
                    _weights_path(folder, g).unlink()

    # -- samples, metrics, summary -------------------------------------------------------------
    def write_samples(
        self, replicate: int, generation: int, samples: Any, *, model_kind: str
    ) -> Path:
        """``samples/rep_XXXXX/gen_XXXX.npy``, or ``.jsonl`` of Documents for text.

        Text documents carry provenance ``{source: synthetic, generator: model kind,
        generation: g}`` under ``metadata["provenance"]``.
        """
        folder = self.samples_dir(replicate)
        if isinstance(samples, list):
            from modelcollapse.data.document import Document, provenance
            from modelcollapse.data.writers import write_jsonl

            docs = (
                Document(
                    id=f"rep{replicate:05d}-gen{generation:04d}-{i:06d}",
                    text=text,
                    metadata={
                        "provenance": provenance(
                            text, source="synthetic", generator=model_kind, generation=generation
                        )
                    },
                )
                for i, text in enumerate(samples)
            )
            path = folder / f"gen_{generation:04d}.jsonl"
            write_jsonl(docs, path)
            return path
        path = folder / f"gen_{generation:04d}.npy"
        with atomic_file(path) as fh:
            np.save(fh, np.asarray(samples), allow_pickle=False)
        return path

    def write_metrics(self, table: pa.Table) -> None:
        """``metrics.parquet``, atomically."""
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        atomic_write_bytes(self.metrics_path, sink.getvalue().to_pybytes())

    def read_metrics(self) -> pa.Table:
        return pq.read_table(self.metrics_path)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        """``summary.json``, atomically (non-finite numbers are written as null)."""
        text = json.dumps(summary, indent=2, allow_nan=False, sort_keys=False)
        atomic_write_bytes(self.summary_path, (text + "\n").encode("utf-8"))
