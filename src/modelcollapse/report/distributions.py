"""Summaries of data distributions that a report plots: histograms and rank-frequency curves.

- :func:`histograms`: several samples of one quantity binned on **shared** edges (so the bars
  compare), normalised to densities: ``density_k = count_k / (n · width_k)``, which integrates
  to 1 over the bins. The edges are ``numpy.histogram_bin_edges(..., bins="auto")`` of the
  pooled finite values (the larger of the Sturges and Freedman-Diaconis bin counts), capped at
  :data:`MAX_BINS` bins.
- :func:`rank_frequency`: the Zipf plot of a corpus (Zipf 1949, "Human behavior and the principle
  of least effort"): token types sorted by count, ``frequency(r) = count of the r-th most common
  type / all tokens`` against the rank ``r = 1, 2, ...``, shown on log-log axes where a Zipfian
  corpus is a straight line. Collapse shows as a curve that ends early (the rare types are gone)
  and is steeper at the head. At most :data:`MAX_POINTS` ranks are kept, spaced evenly on the log
  scale (always rank 1 and the last rank), so a large vocabulary stays a small plot.
- :func:`category_shares`: the share of each code of discrete data.
- :func:`to_values`: numeric rows as one number each, the quantity histogrammed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from modelcollapse.data.tokenize import Tokenizer, get_tokenizer

MAX_BINS = 60
MAX_POINTS = 300


@dataclass(frozen=True)
class Histograms:
    """Densities of several labelled samples on shared bin edges."""

    edges: np.ndarray  # (bins + 1,)
    density: dict[str, np.ndarray]  # label -> (bins,)
    n: dict[str, int]  # label -> finite values binned

    @property
    def centers(self) -> np.ndarray:
        return (self.edges[:-1] + self.edges[1:]) / 2

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)


def histograms(samples: Mapping[str, np.ndarray], *, max_bins: int = MAX_BINS) -> Histograms | None:
    """Bin each sample on edges shared by all of them (None when no sample has a finite value)."""
    finite = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in samples.items()}
    finite = {k: v[np.isfinite(v)] for k, v in finite.items()}
    pooled = np.concatenate(list(finite.values())) if finite else np.zeros(0)
    if pooled.size == 0:
        return None
    lo, hi = float(pooled.min()), float(pooled.max())
    if lo == hi:  # one value: a single bin of width 1 centred on it
        edges = np.array([lo - 0.5, hi + 0.5])
    else:
        edges = np.histogram_bin_edges(pooled, bins="auto")
        if edges.size - 1 > max_bins:
            edges = np.linspace(lo, hi, max_bins + 1)
    density: dict[str, np.ndarray] = {}
    for label, v in finite.items():
        counts, _ = np.histogram(v, bins=edges)
        density[label] = counts / (v.size * np.diff(edges)) if v.size else np.zeros(counts.size)
    return Histograms(edges, density, {k: int(v.size) for k, v in finite.items()})


def to_values(
    data: np.ndarray, data_kind: str | None, centre: np.ndarray | None = None
) -> tuple[np.ndarray, str]:
    """One number per row, and what it is.

    1-D numeric data: the value. d-dimensional numeric data: the Euclidean distance to
    ``centre`` (the mean of generation 0's samples, so a shrinking distribution moves left and a
    lost tail is visible). Regression rows ``[x, y]``: the response ``y``.
    """
    arr = np.asarray(data, dtype=np.float64)
    if arr.ndim == 1:
        return arr, "value"
    if data_kind == "regression":
        return arr[:, -1], "response y (last column)"
    if arr.shape[1] == 1:
        return arr[:, 0], "value"
    c = arr.mean(axis=0) if centre is None else centre
    return np.linalg.norm(
        arr - c, axis=1
    ), f"distance to generation 0's mean ({arr.shape[1]} dimensions)"


def category_shares(samples: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Codes seen in any sample and each sample's share of every code."""
    arrays = {k: np.asarray(v).astype(np.int64).ravel() for k, v in samples.items()}
    codes = np.unique(np.concatenate(list(arrays.values()))) if arrays else np.zeros(0, np.int64)
    shares = {}
    for label, v in arrays.items():
        counts = np.array([np.count_nonzero(v == c) for c in codes], dtype=np.float64)
        shares[label] = counts / v.size if v.size else counts
    return codes, shares


@dataclass(frozen=True)
class RankFrequency:
    """A Zipf curve: relative frequency of the ``rank``-th most common token type."""

    rank: np.ndarray  # int64, 1-based, increasing
    frequency: np.ndarray  # count / total tokens
    types: int  # distinct token types
    tokens: int  # all tokens


def rank_frequency(
    docs: Sequence[str], tokenizer: Tokenizer | str | None = None, *, max_points: int = MAX_POINTS
) -> RankFrequency:
    """Rank-frequency curve of ``docs`` tokenized by ``tokenizer`` (see the module docstring)."""
    tokenize = get_tokenizer(tokenizer)
    counts = Counter(tok for doc in docs for tok in tokenize(doc))
    values = np.sort(np.fromiter(counts.values(), dtype=np.int64, count=len(counts)))[::-1]
    total = int(values.sum())
    if values.size == 0:
        return RankFrequency(np.zeros(0, np.int64), np.zeros(0), 0, 0)
    rank = np.arange(1, values.size + 1)
    if values.size > max_points:
        keep = np.unique(np.geomspace(1, values.size, max_points).round().astype(np.int64))
        rank = keep
    return RankFrequency(rank, values[rank - 1] / total, int(values.size), total)
