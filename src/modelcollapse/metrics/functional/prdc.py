"""Precision, recall, density and coverage of a generated sample against a real one.

Naeem, Oh, Uh, Choi & Yoo 2020, "Reliable fidelity and diversity metrics for generative
models" (ICML), building on Kynkäänniemi et al. 2019 ("Improved precision and recall metric for
assessing generative models"). With ``B(x, r)`` the ball of radius ``r`` around ``x`` and
``NND_k(x)`` the distance from ``x`` to its k-th nearest neighbour within its own set (the point
itself excluded, as in the ``prdc`` package: the (k+1)-th smallest distance counting the 0 to
itself), for real points ``X_i`` (N of them) and fake points ``Y_j`` (M):

- precision = (1/M) Σ_j 1[∃ i: ‖Y_j − X_i‖ < NND_k(X_i)]  (fake points on the real manifold)
- recall    = (1/N) Σ_i 1[∃ j: ‖X_i − Y_j‖ < NND_k(Y_j)]  (real points on the fake manifold)
- density   = 1/(kM) Σ_j Σ_i 1[‖Y_j − X_i‖ < NND_k(X_i)]   (how many real balls hold each fake)
- coverage  = (1/N) Σ_i 1[min_j ‖X_i − Y_j‖ < NND_k(X_i)]  (real balls that hold any fake)

These are the exact definitions (strict inequalities) of the reference package ``prdc`` 0.2.

Memory and speed. The package builds three full distance matrices (O(N² + M² + NM)). Here
squared distances are computed in tiles of ``chunk_size`` × ``chunk_size`` with one BLAS product
each (``‖x‖² − 2x·y + ‖y‖²``, :func:`~.two_sample.distance_factors`) and thrown away after use:

- radii: distances within a set are symmetric, so only the tiles on and above the diagonal are
  computed; a tile's rows and columns both feed a running "k + 1 smallest so far" per point.
  After a point's first tile only the values below its running bound are candidates (one
  comparison pass, no partition of the tile); for the first tile the bound comes from slab
  minima (:func:`_group_bound`).
- counts: one pass over real × fake tiles counts everything, because coverage's
  ``min_j d_ij < r_i`` is the same event as ``∃ j: d_ij < r_i`` and density only needs the
  total number of incidences.

Tiles are shared out to one thread per CPU core, with BLAS held to one thread each (so no
thread waits on another inside BLAS, which costs dearly on a loaded machine), and each thread
keeps its own running state, merged at the end, so the result does not depend on the number of
threads. Peak memory is O(workers · chunk_size² + (N + M)·(d + k)). Comparisons are made on
squared distances against squared radii (the same order, no square roots).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
from threadpoolctl import ThreadpoolController

from modelcollapse.errors import DataError
from modelcollapse.metrics.functional.two_sample import (
    as_two_samples,
    check_chunk,
    distance_factors,
)
from modelcollapse.metrics.functional.validation import as_points, check_int

# Tiles of DEFAULT_TILE x DEFAULT_TILE squared distances (2 MiB): big enough for BLAS to run
# near its peak, small enough that the passes over a tile stay in cache.
DEFAULT_TILE = 512

_Task = TypeVar("_Task")
_Out = TypeVar("_Out")


@dataclass(frozen=True)
class PRDC:
    """The four numbers of :func:`prdc`."""

    precision: float
    recall: float
    density: float
    coverage: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def knn_sq_radii(x: Any, k: int = 5, *, chunk_size: int = DEFAULT_TILE) -> np.ndarray:
    """Squared distance from each row of ``x`` to its k-th nearest other row: ``NND_k(x_i)²``.

    That is the (k+1)-th smallest squared distance in row ``i`` counting the 0 to itself (a
    duplicate of ``x_i`` counts as a neighbour at distance 0, as in ``prdc``). Needs ``k + 1``
    rows. Tiled: memory O(workers · chunk_size² + n·k).
    """
    k = check_int("k", k, low=1)
    chunk = check_chunk(chunk_size)
    a = as_points(x, "data", min_rows=k + 1)
    return _knn_sq_radii(*distance_factors(a), k, chunk)


def _group_bound(tile: np.ndarray, axis: int, k: int) -> np.ndarray:
    """An upper bound on the (k+1)-th smallest value of each row (``axis=1``) or column
    (``axis=0``) of ``tile``, at most a few values above it (inf for lines of <= k + 1 values).

    The line is cut into ``g`` strided slabs and the slabs are folded with ``np.minimum``, so
    group ``c`` (positions ``c, c + G, c + 2G, ...``) is reduced to its minimum; the (k+1)-th
    smallest of the ``G`` group minima bounds the line's (k+1)-th smallest from above, since it
    is itself preceded by k other values of the line. Folding slabs is a contiguous
    elementwise pass, several times cheaper than partitioning the whole line.
    """
    length = tile.shape[axis]
    if length <= k + 1:
        return np.full(tile.shape[1 - axis], np.inf)
    g = max(1, int(np.sqrt(length / (k + 1))))  # balances the G group minima and their slabs
    width = -(-length // g)  # G; the last slab may be narrower
    lines = tile if axis == 1 else tile.T
    mins = lines[:, :width].copy()
    for s in range(width, length, width):
        part = lines[:, s : s + width]
        np.minimum(mins[:, : part.shape[1]], part, out=mins[:, : part.shape[1]])
    return np.partition(mins, k, axis=1)[:, k]


def _offer(best: np.ndarray, top: np.ndarray, start: int, tile: np.ndarray, axis: int) -> None:
    """Fold the rows (``axis=1``) or columns (``axis=0``) of ``tile``, the squared distances of
    the points ``start, start + 1, ...`` to a block of other points, into their running k + 1
    smallest values ``best`` (n, k + 1), whose maxima are ``top`` (n,).

    Only values at or below the running (k+1)-th smallest can enter, and after a point's first
    tile they are few, so each tile costs one comparison pass plus work on the candidates.
    """
    k = best.shape[1] - 1
    span = slice(start, start + tile.shape[1 - axis])
    bound = top[span]
    if np.isinf(bound).any():  # points seen for the first time: bound them from this tile
        bound = np.minimum(bound, _group_bound(tile, axis, k))
    mask = tile <= (bound[:, None] if axis == 1 else bound[None, :])
    flat = np.flatnonzero(mask)
    if flat.size == 0:
        return
    vals = tile.ravel()[flat]
    ids = flat // tile.shape[1] if axis == 1 else flat % tile.shape[1]
    if axis == 0:  # group candidates by column (rows come out grouped already)
        order = np.argsort(ids, kind="stable")
        ids, vals = ids[order], vals[order]
    firsts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    counts = np.diff(np.r_[firsts, ids.size])
    lines = ids[firsts]
    # One row per line with candidates: its k + 1 best so far, then its candidates, inf-padded.
    pool = np.full((lines.size, k + 1 + int(counts.max())), np.inf)
    pool[:, : k + 1] = best[start + lines]
    which = np.repeat(np.arange(lines.size), counts)
    pool[which, k + 1 + np.arange(ids.size) - np.repeat(firsts, counts)] = vals
    pool.partition(k, axis=1)
    best[start + lines] = pool[:, : k + 1]
    top[start + lines] = pool[:, k]


def _workers() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _blas() -> ThreadpoolController:
    # Inspecting the loaded libraries takes a while; limiting through a kept controller is cheap.
    return ThreadpoolController()


def _in_parallel(work: Callable[[Sequence[_Task]], _Out], tasks: list[_Task]) -> list[_Out]:
    """``work`` on interleaved shares of ``tasks``, one share per thread (in this thread when
    there is one core or one task). numpy releases the GIL in BLAS products, comparisons and
    partitions, so the threads run in parallel. BLAS is held to one thread meanwhile: its own
    threads would split each small tile product and spin between them (measured 10x slower on
    a loaded 2-core machine)."""
    n = min(_workers(), len(tasks))
    with _blas().limit(limits=1, user_api="blas"):
        if n <= 1:
            return [work(tasks)]
        with ThreadPoolExecutor(n) as pool:
            return list(pool.map(work, [tasks[w::n] for w in range(n)]))


def _knn_sq_radii(left: np.ndarray, right: np.ndarray, k: int, chunk: int) -> np.ndarray:
    # Squared distances are symmetric, so each pair of tiles (I, J), (J, I) is computed once:
    # the tile's rows feed the points of I, its columns the points of J.
    n = left.shape[0]
    starts = range(0, n, chunk)
    tiles = [(i0, j0) for i0 in starts for j0 in starts if j0 >= i0]

    def work(share: Sequence[tuple[int, int]]) -> np.ndarray:
        best = np.full((n, k + 1), np.inf)
        top = np.full(n, np.inf)
        for i0, j0 in share:
            tile = left[i0 : i0 + chunk] @ right[j0 : j0 + chunk].T
            _offer(best, top, i0, tile, axis=1)
            if j0 != i0:
                _offer(best, top, j0, tile, axis=0)
        return best

    # Each thread saw a part of every point's distances: the k + 1 smallest of the union.
    pooled = np.concatenate(_in_parallel(work, tiles), axis=1)
    kth = np.partition(pooled, k, axis=1)[:, k]
    # The (k+1)-th smallest, with round-off below 0 read as 0 (clipping commutes with order).
    return np.maximum(kth, 0.0)


def _strict_bound(sq_radii: np.ndarray) -> np.ndarray:
    """Radii to compare unclipped squared distances with: ``max(d², 0) < r`` is ``d² < r`` for
    ``r > 0`` and never true for ``r = 0``, where the bound becomes -inf."""
    return np.where(sq_radii > 0.0, sq_radii, -np.inf)


def prdc(real: Any, fake: Any, k: int = 5, *, chunk_size: int = DEFAULT_TILE) -> PRDC:
    """Precision, recall, density and coverage (Naeem et al. 2020) of ``fake`` (M, d) against
    ``real`` (N, d) with ``k`` nearest neighbours, equal to ``prdc.compute_prdc(real, fake, k)``
    but tiled (module docstring). Each set needs at least ``k + 1`` rows."""
    k = check_int("k", k, low=1)
    chunk = check_chunk(chunk_size)
    x, y = as_two_samples(real, fake, ("real", "fake"))
    for name, arr in (("real", x), ("fake", y)):
        if arr.shape[0] < k + 1:
            raise DataError(f"{name}: expected at least k + 1 = {k + 1} rows, got {arr.shape[0]}")
    lx, rx = distance_factors(x)
    ly, ry = distance_factors(y)
    r_real = _strict_bound(_knn_sq_radii(lx, rx, k, chunk))
    r_fake = _strict_bound(_knn_sq_radii(ly, ry, k, chunk))
    n, m = x.shape[0], y.shape[0]
    tiles = [(i0, j0) for i0 in range(0, n, chunk) for j0 in range(0, m, chunk)]

    def work(share: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        fake_in_real = np.zeros(m, dtype=bool)  # precision: fake j inside some real ball
        real_in_fake = np.zeros(n, dtype=bool)  # recall: real i inside some fake ball
        covered = np.zeros(n, dtype=bool)  # coverage: real ball i holds some fake point
        in_count = 0  # density: number of (real ball, fake point) incidences
        for i0, j0 in share:
            rows, cols = slice(i0, i0 + chunk), slice(j0, j0 + chunk)
            d2 = lx[rows] @ ry[cols].T
            inside = d2 < r_real[rows, None]
            fake_in_real[cols] |= inside.any(axis=0)
            covered[rows] |= inside.any(axis=1)
            in_count += int(np.count_nonzero(inside))
            real_in_fake[rows] |= (d2 < r_fake[None, cols]).any(axis=1)
        return fake_in_real, real_in_fake, covered, in_count

    parts = _in_parallel(work, tiles)
    fake_in_real, real_in_fake, covered = (
        np.logical_or.reduce([p[i] for p in parts]) for i in range(3)
    )
    in_count = sum(p[3] for p in parts)
    return PRDC(
        precision=float(fake_in_real.mean()),
        recall=float(real_in_fake.mean()),
        density=in_count / (k * m),
        coverage=float(covered.mean()),
    )
