"""Read what a report shows: a simulate run, a sweep, a folder of runs, or a measure result.

Sources (:func:`detect_source` decides which a path is):

- **run**: a run directory of ``modelcollapse simulate`` (:mod:`modelcollapse.loop.store`):
  ``config.yaml`` and ``metrics.parquet`` are required, ``summary.json``, ``samples/`` and
  ``checkpoints/`` are optional (what is missing is said in the report, not an error).
- **sweep**: a directory of ``modelcollapse sweep``: ``results.parquet`` (one row per run,
  generation, replicate and metric, with ``run_id`` and the swept config keys as columns),
  ``sweep.yaml`` (the resolved sweep) and ``runs/<run_id>/`` (normal run directories). Without
  ``results.parquet`` (an interrupted sweep) the runs' own ``metrics.parquet`` are read
  (:mod:`.sweep_dir`).
- **runs**: any directory whose sub-directories are runs, such as ``modelcollapse demo --out``.
- **measure**: the JSON document of ``modelcollapse measure --json`` (:mod:`.measure_json`).

Runs are grouped into :class:`Family` objects (runs with the same data source and model kind,
which share metrics and axes), and each family into :class:`Arm` objects, the things compared:
one per run, or for a sweep one per combination of swept keys other than ``seed`` (runs that
differ only in their seed pool their replicates). Every malformed input raises
:class:`~modelcollapse.errors.DataError` naming the file and saying what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.loop.config import ExperimentConfig, parse_config
from modelcollapse.loop.results import Metrics
from modelcollapse.loop.store import flatten_dict

SourceKind = Literal["run", "sweep", "runs", "measure"]
METRIC_COLUMNS = ("generation", "replicate", "metric", "value")
# Keys that identify a run without changing what it computes, left out of arm labels.
NOT_ARM_KEYS = ("name", "seed")
# The data kind of each built-in data source (``path`` is read from the run's summary).
SOURCE_DATA_KIND = {
    "gaussian": "numeric",
    "digits": "numeric",
    "categorical": "discrete",
    "linear": "regression",
    "kjv": "text",
}


@dataclass
class RunData:
    """One run directory, read."""

    path: Path
    run_id: str
    config: ExperimentConfig | None
    config_text: str | None
    summary: dict[str, Any] | None
    metrics: Metrics
    keys: dict[str, Any] = field(default_factory=dict)  # swept values (sweeps only)

    @property
    def data_kind(self) -> str | None:
        """numeric, discrete, text or regression (None when neither summary nor config says)."""
        if self.summary is not None and isinstance(self.summary.get("data_kind"), str):
            return self.summary["data_kind"]
        if self.config is not None:
            return SOURCE_DATA_KIND.get(self.config.data.source)
        return None


@dataclass
class Arm:
    """Runs compared as one: a colour in every plot."""

    label: str
    runs: list[RunData]


@dataclass
class Family:
    """Runs that share a data source and a model kind: one set of plots, one arm per colour."""

    title: str
    arms: list[Arm]

    @property
    def runs(self) -> list[RunData]:
        return [r for a in self.arms for r in a.runs]


@dataclass
class Collection:
    """Everything a simulation report shows."""

    path: Path
    kind: SourceKind
    families: list[Family]
    sweep_text: str | None = None
    notes: list[str] = field(default_factory=list)


# -- detecting the source ---------------------------------------------------------------------------
def is_run_dir(path: Path) -> bool:
    return (path / "config.yaml").is_file() or (path / "metrics.parquet").is_file()


def run_subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))


def detect_source(path: str | Path) -> SourceKind:
    """Which kind of source ``path`` is (see the module docstring)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".json":
            return "measure"
        raise DataError(
            f"expected a run directory, a sweep directory or a measure JSON file, got a "
            f"{path.suffix or 'suffix-less'} file",
            path=str(path),
        )
    if not path.is_dir():
        raise DataError(
            "expected a run directory, a sweep directory or a measure JSON file, got nothing there",
            path=str(path),
        )
    if is_run_dir(path):
        return "run"
    if (path / "results.parquet").is_file() or (path / "sweep.yaml").is_file():
        return "sweep"
    if run_subdirs(path):
        return "runs"
    raise DataError(
        "expected a run directory (config.yaml, metrics.parquet), a sweep directory "
        "(results.parquet, runs/) or a folder of runs, got none of them",
        path=str(path),
    )


# -- files ----------------------------------------------------------------------------------------
def read_yaml(path: Path) -> tuple[Any, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError("expected UTF-8 YAML, got undecodable bytes", path=str(path)) from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(
            f"expected valid YAML, got {getattr(exc, 'problem', None) or exc}",
            path=str(path),
            line=mark.line + 1 if mark is not None else None,
        ) from None


def read_config(path: Path) -> tuple[ExperimentConfig, str]:
    """A run's ``config.yaml``: the validated config and its text."""
    if not path.is_file():
        raise DataError("expected the run's resolved config, got no file", path=str(path))
    raw, text = read_yaml(path)
    try:
        return parse_config(raw), text
    except InvalidParameterError as exc:
        raise DataError(f"expected a valid experiment config, got: {exc}", path=str(path)) from None


def read_summary(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``summary.json`` or None, with a note saying why it is absent or unusable."""
    if not path.is_file():
        return None, f"{path} is missing: the run may not have finished"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path} is not valid JSON ({exc}); its information is left out"
    if not isinstance(summary, dict):
        return None, f"{path}: expected a JSON object, got {type(summary).__name__}; left out"
    return summary, None


def read_table(path: Path, what: str) -> pa.Table:
    if not path.is_file():
        raise DataError(f"expected {what}, got no file (has the run finished?)", path=str(path))
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"expected a Parquet file of {what}, got: {exc}", path=str(path)) from None


def metric_rows(table: pa.Table, path: Path) -> Metrics:
    """Validate the long-format columns of a metrics table and return them as arrays."""
    missing = [c for c in METRIC_COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(
            f"expected columns {', '.join(METRIC_COLUMNS)}, got {', '.join(table.column_names) or 'none'}"
            f" (missing {', '.join(missing)})",
            path=str(path),
        )
    if table.num_rows == 0:
        raise DataError("expected at least one metric row, got an empty table", path=str(path))
    cols: dict[str, np.ndarray] = {}
    for name, kind in (("generation", "i"), ("replicate", "i"), ("value", "f")):
        col = table.column(name)
        if col.null_count:
            raise DataError(
                f"expected no missing {name} values, got {col.null_count}", path=str(path)
            )
        arr = col.to_numpy()
        if arr.dtype.kind not in ("iu" if kind == "i" else "iuf"):
            raise DataError(f"expected numeric {name} values, got type {col.type}", path=str(path))
        cols[name] = arr.astype(np.int64 if kind == "i" else np.float64)
    if np.any(cols["generation"] < 0) or np.any(cols["replicate"] < 0):
        raise DataError(
            "expected generations and replicates >= 0, got negative ones", path=str(path)
        )
    metric = table.column("metric")
    if not (pa.types.is_string(metric.type) or pa.types.is_large_string(metric.type)):
        if pa.types.is_dictionary(metric.type):
            metric = metric.cast(pa.string())
        else:
            raise DataError(
                f"expected metric names as strings, got type {metric.type}", path=str(path)
            )
    if metric.null_count:
        raise DataError(
            f"expected a name on every metric row, got {metric.null_count} missing", path=str(path)
        )
    # A handful of names over up to millions of rows: decode each name once.
    enc = metric.combine_chunks().dictionary_encode()
    names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    rows = Metrics(
        cols["generation"], cols["replicate"], names[enc.indices.to_numpy(zero_copy_only=False)],
        cols["value"],
    )  # fmt: skip
    if not np.any(np.isfinite(rows.value)):
        raise DataError(
            f"expected at least one finite metric value, got {rows.value.size} NaN or infinite ones",
            path=str(path),
        )
    return rows


# -- runs -----------------------------------------------------------------------------------------
def load_run(
    path: str | Path, *, metrics: Metrics | None = None, run_id: str | None = None
) -> tuple[RunData, list[str]]:
    """Read one run directory; returns the run and notes about what is missing.

    ``metrics`` replaces ``metrics.parquet`` (a sweep's rows for this run, from its results).
    """
    path = Path(path)
    notes: list[str] = []
    cfg, text = read_config(path / "config.yaml")
    if metrics is None:
        metrics = metric_rows(
            read_table(path / "metrics.parquet", "the run's metrics"), path / "metrics.parquet"
        )
    summary, note = read_summary(path / "summary.json")
    if note:
        notes.append(note)
    run = RunData(path, run_id or path.name, cfg, text, summary, metrics)
    return run, notes


def short_label(key: str, value: Any) -> str:
    """``policy.kind=fresh`` -> ``fresh``; ``policy.params.lambda=0.1`` -> ``lambda=0.1``."""
    if key in ("policy.kind", "model.kind", "data.source"):
        return str(value)
    for prefix in ("policy.params.", "model.params.", "data.params."):
        if key.startswith(prefix):
            return f"{key.removeprefix(prefix)}={value}"
    return f"{key}={value}"


def policy_label(cfg: ExperimentConfig) -> str:
    """The policy with its parameters, e.g. ``fresh, lambda=0.1``."""
    parts = [cfg.policy.kind, *(f"{k}={v}" for k, v in sorted(cfg.policy.params.items()))]
    return ", ".join(parts)


def family_key(run: RunData) -> tuple[str, str]:
    if run.config is None:
        return ("unknown data", "unknown model")
    return (run.config.data.source, run.config.model.kind)


def differing_labels(runs: list[RunData], *, pool: bool = False) -> list[str]:
    """Label each run by the config keys (other than name and seed) that differ between runs
    (a run alone in its family: by its policy). Runs that share a label are one arm with
    ``pool`` (a sweep's seeds); otherwise every run is labelled by its folder name."""
    if len(runs) == 1:
        return [policy_label(runs[0].config) if runs[0].config else runs[0].run_id]
    flats = [flatten_dict(r.config.model_dump(mode="json")) if r.config else {} for r in runs]
    keys = sorted({k for f in flats for k in f} - set(NOT_ARM_KEYS))
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
    labels = [
        ", ".join(short_label(k, f[k]) for k in differ if k in f) or r.run_id
        for f, r in zip(flats, runs, strict=True)
    ]
    if not pool and len(set(labels)) < len(labels):  # same config but the seed: folder names
        return [r.run_id for r in runs]
    return labels


def families(groups: Iterable[tuple[tuple[str, str], list[Arm]]]) -> list[Family]:
    return [Family(f"{model} on {data}", arms) for (data, model), arms in groups]


def load_run_collection(path: str | Path) -> Collection:
    """A single run, or a folder of runs (one arm per run, labelled by what differs)."""
    path = Path(path)
    kind = detect_source(path)
    if kind == "run":
        run, notes = load_run(path)
        label = policy_label(run.config) if run.config else run.run_id
        return Collection(
            path, "run", families([(family_key(run), [Arm(label, [run])])]), notes=notes
        )
    if kind != "runs":
        raise DataError(
            f"expected a run directory or a folder of runs, got a {kind} source", path=str(path)
        )
    notes: list[str] = []
    by_family: dict[tuple[str, str], list[RunData]] = {}
    for sub in run_subdirs(path):
        run, run_notes = load_run(sub)
        notes.extend(run_notes)
        by_family.setdefault(family_key(run), []).append(run)
    groups = []
    for key, runs in by_family.items():
        labels = differing_labels(runs)
        groups.append((key, [Arm(lab, [r]) for lab, r in zip(labels, runs, strict=True)]))
    return Collection(path, "runs", families(groups), notes=notes)


def load_collection(path: str | Path) -> Collection:
    """A run, a folder of runs or a sweep (see :func:`detect_source`)."""
    kind = detect_source(path)
    if kind == "sweep":
        from modelcollapse.report.sweep_dir import load_sweep

        return load_sweep(path)
    if kind == "measure":
        raise DataError(
            "expected a run or sweep directory, got a measure JSON file", path=str(path)
        )
    return load_run_collection(path)
