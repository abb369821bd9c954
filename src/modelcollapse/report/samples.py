"""The generated data a run stored, read for a report without changing the run.

A run keeps each generation's synthetic set in one of three places (see
:mod:`modelcollapse.loop.store`), tried in this order:

1. ``samples/rep_XXXXX/gen_XXXX.npy`` (or ``.jsonl`` of documents for text), with
   ``save_samples: true``;
2. the general engine's checkpoints: ``checkpoints/rep_XXXXX/gen_LAST.npz`` holds generations
   ``FIRST..LAST``, key ``gen_XXXX/samples`` for generation ``XXXX``;
3. ``checkpoints/gen_XXXX.npz``: the vectorised Gaussian engine keeps only the fitted models
   (``mean`` (R, d), ``cov`` (R, d, d)), no samples; :func:`fitted_variances` reads those.

Files are opened read-only and only the ``samples`` member of a checkpoint is decompressed
(``RunStore.load_checkpoints`` would delete files after a gap, which a report must never do).
Arrays are loaded with ``allow_pickle=False``. Anything unreadable is treated as absent; the
report says what it could not find.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.loop.store import RunStore
from modelcollapse.report.load import RunData

MAX_ROWS = 20_000  # numeric values pooled over replicates for a histogram
MAX_REPLICATES = 50  # replicates opened for one generation


@dataclass(frozen=True)
class Stored:
    """One generation's synthetic data from one or more replicates."""

    data: Any  # ndarray (numeric kinds) or list[str] (text)
    replicates: int  # replicates pooled
    where: str  # "samples/" or "checkpoints/"


def _gen_name(generation: int) -> str:
    return f"gen_{generation:04d}"


def _read_jsonl_texts(path: Path) -> list[str] | None:
    texts: list[str] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                obj = json.loads(line)
                if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                    texts.append(obj["text"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return texts


def _npz_member(path: Path, key: str) -> np.ndarray | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return z[key] if key in z.files else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None


def read_replicate(run: RunData, replicate: int, generation: int) -> tuple[Any, str] | None:
    """One replicate's synthetic set of ``generation`` and where it came from, or None."""
    rep = f"rep_{replicate:05d}"
    base = run.path / "samples" / rep / _gen_name(generation)
    if base.with_suffix(".jsonl").is_file():
        texts = _read_jsonl_texts(base.with_suffix(".jsonl"))
        if texts is not None:
            return texts, "samples/"
    if base.with_suffix(".npy").is_file():
        try:
            return np.load(base.with_suffix(".npy"), allow_pickle=False), "samples/"
        except (OSError, ValueError, EOFError):
            pass
    ckpt = RunStore(run.path).checkpoint_holding(replicate, generation)
    if ckpt is not None:
        samples = _npz_member(ckpt, f"{_gen_name(generation)}/samples")
        is_text = _npz_member(ckpt, f"{_gen_name(generation)}/samples_is_text")
        if samples is not None:
            if is_text is not None and bool(is_text):
                return samples.tolist(), "checkpoints/"
            return samples, "checkpoints/"
    return None


def replicates_of(run: RunData) -> list[int]:
    """The run's replicate numbers, ascending."""
    return sorted(set(run.metrics.replicate.tolist()))


def read_text(run: RunData, generation: int, replicate: int = 0) -> Stored | None:
    """One replicate's documents of ``generation`` (None when none are stored)."""
    got = read_replicate(run, replicate, generation)
    if got is None or not isinstance(got[0], list):
        return None
    return Stored(got[0], 1, got[1])


def read_pooled(
    run: RunData, generation: int, *, max_rows: int = MAX_ROWS, max_replicates: int = MAX_REPLICATES
) -> Stored | None:
    """Numeric rows of ``generation`` pooled over replicates (in order) up to ``max_rows``."""
    parts: list[np.ndarray] = []
    where = ""
    total = 0
    for r in replicates_of(run)[:max_replicates]:
        got = read_replicate(run, r, generation)
        if got is None or isinstance(got[0], list):
            continue
        arr = np.asarray(got[0])
        parts.append(arr[: max_rows - total])
        where = got[1]
        total += parts[-1].shape[0]
        if total >= max_rows:
            break
    if not parts:
        return None
    return Stored(np.concatenate(parts), len(parts), where)


def fitted_variances(run: RunData, generation: int) -> np.ndarray | None:
    """Vectorised engine: the fitted models' total variance ``tr Σ`` per replicate, or None."""
    cov = _npz_member(run.path / "checkpoints" / f"{_gen_name(generation)}.npz", "cov")
    if cov is None or cov.ndim != 3:
        return None
    return np.trace(cov, axis1=-2, axis2=-1).astype(np.float64)
