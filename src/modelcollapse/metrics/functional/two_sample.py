"""Input checks for two-sample metrics on float arrays (n, d): raw numeric data or embeddings.

Every metric that compares a candidate sample with a reference sample (Fréchet distance, sliced
Wasserstein, MMD, PRDC, MAUVE, quantile ratios) validates its inputs here, so they all reject
empty sets, NaN/inf rows and mismatched widths with the same "expected X, got Y" message.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.validation import as_points


def as_two_samples(
    x: Any, y: Any, names: tuple[str, str] = ("X", "Y"), *, min_rows: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (n, d) and ``y`` (m, d) as finite float64 arrays with the same number of columns.

    1-D inputs are read as one column. Raises :class:`DataError` for empty, non-finite or
    non-numeric input and for a width mismatch (the message names both widths).
    """
    a = as_points(x, names[0], min_rows=min_rows)
    b = as_points(y, names[1], min_rows=min_rows)
    if a.shape[1] != b.shape[1]:
        raise DataError(
            f"{names[1]}: expected {a.shape[1]} column(s) like {names[0]}, got {b.shape[1]}"
        )
    return a, b


def check_chunk(chunk_size: Any) -> int:
    """A positive integer block size for chunked pairwise computations."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise InvalidParameterError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    if chunk_size < 1:
        raise InvalidParameterError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    return int(chunk_size)


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``, or an int seed turned into one (``default_rng(seed)``), as
    in :func:`modelcollapse.rng.as_generator`; ``None`` and ``RandomState`` are refused."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InvalidParameterError(
        f"{name}: expected a numpy.random.Generator or an int seed, got {type(rng).__name__}"
    )


def row_norms(a: np.ndarray) -> np.ndarray:
    """Euclidean norms of the rows of ``a``, scaled by each row's largest absolute value first so
    that rows of tiny (or huge) values do not underflow to a norm of 0 (or overflow)."""
    top = np.abs(a).max(axis=1)
    safe = np.where(top > 0.0, top, 1.0)
    scaled = a / safe[:, None]
    return top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


def distance_factors(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Factors ``(L, R)`` (n, d + 2) of the rows of ``a`` with ``L_i · R_jᵀ = ‖a_i − b_j‖²``.

    ``L = [a, 1, ‖a‖²]`` and ``R = [−2a, ‖a‖², 1]``: the expansion ``‖a‖² − 2 a·b + ‖b‖²``
    becomes one matrix product (BLAS) between the ``L`` rows of one set and the ``R`` rows of
    the other, with no elementwise passes over the (n, m) block and no (n, m, d) difference
    tensor. Round-off is ~eps·(‖a‖² + ‖b‖²); integer-valued data small enough for exact
    products gives exact distances.
    """
    n, d = a.shape
    sq = np.einsum("ij,ij->i", a, a)
    left = np.empty((n, d + 2))
    right = np.empty((n, d + 2))
    left[:, :d] = a
    left[:, d] = 1.0
    left[:, d + 1] = sq
    np.multiply(a, -2.0, out=right[:, :d])
    right[:, d] = sq
    right[:, d + 1] = 1.0
    return left, right


def squared_distance_block(left_rows: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Squared distances (len(left_rows), len(right)) from :func:`distance_factors`, with the
    round-off below 0 clipped to 0 (so a point's distance to itself or a duplicate is 0)."""
    out = left_rows @ right.T
    np.maximum(out, 0.0, out=out)
    return out
