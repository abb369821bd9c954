"""Turning user input into a numeric numpy array, with typed errors instead of numpy's."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError


def as_numeric_array(data: Any, name: str) -> np.ndarray:
    """``np.asarray(data)`` of a numeric (bool, int or float) dtype, else DataError naming ``name``."""
    if isinstance(data, (str, bytes)) or data is None:
        raise DataError(f"{name}: expected a numeric array, got {type(data).__name__}")
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:  # ragged lists and the like
        raise DataError(
            f"{name}: expected a numeric array, got {type(data).__name__} ({exc})"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected numeric values, got dtype {arr.dtype}")
    return arr
