"""Input checks shared by the generators.

Bad data raises :class:`DataError` and bad hyperparameters :class:`InvalidParameterError`, each
saying what was expected and what was found, so no generator ever fails with a raw numpy error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from modelcollapse.data.arrays import as_numeric_array
from modelcollapse.errors import DataError, InvalidParameterError


def check_numeric(
    data: Any,
    *,
    name: str = "data",
    n_features: int | None = None,
    min_rows: int = 1,
    min_features: int = 1,
) -> np.ndarray:
    """Return ``data`` as a finite float64 array of shape (n, d) with ``n >= min_rows``.

    ``n_features`` (when given) is the width the fitted model expects.
    """
    arr = as_numeric_array(data, name)
    if arr.ndim != 2:
        hint = "; reshape 1-D data with x.reshape(-1, 1)" if arr.ndim == 1 else ""
        raise DataError(
            f"{name}: expected a 2-D array of shape (n, d), got shape {arr.shape}{hint}"
        )
    n, d = arr.shape
    if n < min_rows:
        raise DataError(f"{name}: expected at least {min_rows} row(s), got {n}")
    if d < min_features:
        raise DataError(f"{name}: expected at least {min_features} column(s), got {d}")
    if n_features is not None and d != n_features:
        raise DataError(f"{name}: expected {n_features} column(s) as at fit, got {d}")
    arr = arr.astype(np.float64, copy=True)
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DataError(f"{name}: expected finite values, got NaN or inf in row {row}")
    return arr


def check_discrete(
    data: Any, *, name: str = "data", n_categories: int | None = None, min_rows: int = 1
) -> np.ndarray:
    """Return ``data`` as an int64 array of shape (n,) with values in ``[0, n_categories)``.

    Floats are accepted when every value is a whole number (e.g. labels read from CSV).
    """
    arr = as_numeric_array(data, name)
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
        if arr.size and np.abs(arr).max() >= 2**62:
            raise DataError(
                f"{name}: expected category indices below 2**62, got {np.abs(arr).max()!r}"
            )
    elif arr.dtype.kind == "u" and arr.size and arr.max() >= 2**63:
        raise DataError(f"{name}: expected category indices below 2**63, got {arr.max()!r}")
    out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        i = int(np.argmin(out))
        raise DataError(f"{name}: expected non-negative category indices, got {out[i]} at item {i}")
    if n_categories is not None and out.size and out.max() >= n_categories:
        i = int(np.argmax(out))
        raise DataError(
            f"{name}: expected category indices in [0, {n_categories}), got {out[i]} at item {i}"
        )
    return out


# -- hyperparameters --------------------------------------------------------------------------
def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise InvalidParameterError(
            f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return value


def check_float(name: str, value: Any, *, low: float = 0.0, low_inclusive: bool = True) -> float:
    """A finite real number ``>= low`` (``> low`` when ``low_inclusive`` is False)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = np.isfinite(value) and (value >= low if low_inclusive else value > low)
    if not ok:
        bound = f">= {low}" if low_inclusive else f"> {low}"
        raise InvalidParameterError(f"{name}: expected a finite number {bound}, got {value!r}")
    return value


def check_int(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= low
    if not ok or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InvalidParameterError(f"{name}: expected an integer {bound}, got {value!r}")
    return int(value)


def check_fitted_finite(owner: str, **arrays: Any) -> None:
    """Refuse a fit whose parameters overflowed (e.g. data near the float64 limit)."""
    for key, value in arrays.items():
        if not np.isfinite(value).all():
            raise DataError(
                f"{owner}.fit: expected finite fitted {key}, got inf/NaN (data values too large)"
            )


def check_log_prob(values: np.ndarray, owner: str) -> np.ndarray:
    """Log-densities may be -inf (outside the support) but never NaN; NaN only comes from
    overflow on astronomically large inputs, which we report instead of returning."""
    if np.isnan(values).any():
        row = int(np.flatnonzero(np.isnan(values))[0])
        raise DataError(
            f"{owner}.log_prob: expected values small enough to evaluate, got overflow in row {row}"
        )
    return values


def check_state(
    state: Mapping[str, Any], keys: Iterable[str], owner: str, *, scalars: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Pick ``keys`` (arrays) and ``scalars`` (one number each) from a loaded state dict, or say
    which are missing or malformed."""
    names = [*keys, *scalars]
    scalars = set(scalars)
    missing = [k for k in names if k not in state]
    if missing:
        raise DataError(f"{owner} state: expected keys {names}, missing {missing}")
    out = {k: np.asarray(state[k]) for k in names}
    for k in names:
        if out[k].dtype.kind not in "biuf" or (k in scalars and out[k].size != 1):
            what = "one number" if k in scalars else "a numeric array"
            raise DataError(f"{owner} state: expected {k} to be {what}, got {out[k]!r}")
    return out
