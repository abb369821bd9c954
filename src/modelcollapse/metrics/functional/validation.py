"""Input checks shared by the metric functions.

Bad data (empty, NaN, wrong shape or type) raises :class:`DataError`; a bad argument or a model
that lacks what a metric needs raises :class:`InvalidParameterError`. Both say what was expected
and what was found, so no metric fails with a raw numpy error.

Models are duck-typed: metrics never import generator classes, they ask for ``moments()``,
``probs_``, ``coef_``/``intercept_``, ``log_prob`` or ``token_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelcollapse.data.arrays import as_numeric_array
from modelcollapse.errors import DataError, InvalidParameterError


def as_points(data: Any, name: str = "data", *, min_rows: int = 1) -> np.ndarray:
    """``data`` as a finite float64 array of shape (n, d); 1-D input is read as (n, 1)."""
    arr = as_numeric_array(data, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataError(f"{name}: expected an array of shape (n, d) or (n,), got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise DataError(f"{name}: expected at least {min_rows} row(s), got {arr.shape[0]}")
    if arr.shape[1] < 1:
        raise DataError(f"{name}: expected at least 1 column, got 0")
    arr = arr.astype(np.float64, copy=False)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataError(f"{name}: expected finite values, got NaN or inf in row {row}")
    return arr


def as_categories(data: Any, name: str = "data", *, min_rows: int = 1) -> np.ndarray:
    """``data`` as an int64 array (n,) of non-negative category indices."""
    if isinstance(data, (str, bytes)) or data is None:
        raise DataError(f"{name}: expected an array of category indices, got {type(data).__name__}")
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected an array of category indices ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-D array of category indices, got shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise DataError(f"{name}: expected at least {min_rows} item(s), got {arr.shape[0]}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{name}: expected integer category indices, got {arr[i]!r} at item {i}"
            )
    elif arr.size and arr.dtype.kind not in "biu":
        raise DataError(f"{name}: expected integer category indices, got dtype {arr.dtype}")
    out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        i = int(np.argmin(out))
        raise DataError(f"{name}: expected non-negative category indices, got {out[i]} at item {i}")
    return out


def as_probs(probs: Any, name: str = "probs") -> np.ndarray:
    """A finite, non-negative float64 vector (K,) with a positive sum, normalised to sum 1.

    Counts are accepted too: normalising makes ``entropy(counts)`` the entropy of the empirical
    distribution.
    """
    try:
        p = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: expected a vector of probabilities ({exc})") from None
    if p.ndim != 1 or p.shape[0] < 1:
        raise DataError(f"{name}: expected a non-empty 1-D vector, got shape {p.shape}")
    if not np.isfinite(p).all():
        raise DataError(f"{name}: expected finite values, got NaN or inf")
    if (p < 0).any():
        i = int(np.argmin(p))
        raise DataError(f"{name}: expected non-negative values, got {p[i]!r} at index {i}")
    total = p.sum()
    if total <= 0:
        raise DataError(f"{name}: expected a positive total, got {total!r}")
    return p / total


def as_documents(docs: Any, name: str = "documents", *, min_docs: int = 1) -> list[str]:
    """A list of ``str`` documents. A bare string is refused: it would be read letter by letter."""
    if isinstance(docs, (str, bytes)):
        raise DataError(f"{name}: expected a list of documents, got a single {type(docs).__name__}")
    if not isinstance(docs, Sequence) and not hasattr(docs, "__iter__"):
        raise DataError(f"{name}: expected a list of str, got {type(docs).__name__}")
    out = list(docs)
    for i, doc in enumerate(out):
        if not isinstance(doc, str):
            raise DataError(f"{name}: expected str documents, got {type(doc).__name__} at item {i}")
    if len(out) < min_docs:
        raise DataError(f"{name}: expected at least {min_docs} document(s), got {len(out)}")
    return out


def check_level(name: str, value: Any, *, high: float = 1.0) -> float:
    """A number strictly between 0 and ``high``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not (0.0 < float(value) < high):
        raise InvalidParameterError(f"{name}: expected a number in (0, {high}), got {value!r}")
    return float(value)


def check_int(name: str, value: Any, *, low: int = 0) -> int:
    """An integer ``>= low`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidParameterError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def model_attr(model: Any, attr: str, metric: str) -> Any:
    """``getattr(model, attr)`` or an error naming the metric and what it needs."""
    if not hasattr(model, attr):
        raise InvalidParameterError(
            f"metric {metric!r}: expected a model with {attr!r}, got {type(model).__name__}"
        )
    return getattr(model, attr)


def model_moments(model: Any, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``model.moments()`` as float64 ``(mean (d,), cov (d, d))``.

    Non-finite moments (a diverged model) are passed through: the metric then reports NaN/inf,
    which is a result about the model, not bad input.
    """
    mean, cov = model_attr(model, "moments", metric)()
    mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    cov = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    d = mean.shape[0]
    if mean.ndim != 1 or cov.shape != (d, d):
        raise InvalidParameterError(
            f"metric {metric!r}: expected model.moments() to give mean (d,) and cov (d, d), "
            f"got {mean.shape} and {cov.shape}"
        )
    return mean, cov
