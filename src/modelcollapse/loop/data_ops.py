"""Length, concatenation and row selection for every data kind.

Policies mix and cut training sets without caring what the rows are. Array kinds (``numeric``
(n, d), ``discrete`` (n,), ``regression`` (n, d + 1)) are numpy arrays indexed along axis 0;
``text`` is a ``list[str]`` of documents. These three helpers are the only place that knows the
difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelcollapse.errors import DataError


def is_text(data: Any) -> bool:
    """True for a list of documents (``text`` kind), False for an array kind."""
    return isinstance(data, list)


def length(data: Any) -> int:
    """Number of rows (array kinds) or documents (text)."""
    if isinstance(data, np.ndarray):
        if data.ndim == 0:
            raise DataError(
                f"expected an array with a row axis, got a scalar of dtype {data.dtype}"
            )
        return int(data.shape[0])
    if isinstance(data, list):
        return len(data)
    raise DataError(f"expected a numpy array or a list of documents, got {type(data).__name__}")


def concat(parts: Sequence[Any]) -> Any:
    """Concatenate training sets of one kind, in order.

    Arrays must agree on every axis but the first (a numeric set of width 2 cannot join one of
    width 3); text lists are joined. Mixing arrays with text raises DataError.
    """
    if len(parts) == 0:
        raise DataError("concat: expected at least one data set, got none")
    if all(isinstance(p, list) for p in parts):
        out: list[str] = []
        for p in parts:
            out.extend(p)
        return out
    if all(isinstance(p, np.ndarray) for p in parts):
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise DataError(
                f"concat: expected data sets with the same row shape, got {sorted(shapes)}"
            )
        return np.concatenate(parts, axis=0)
    kinds = sorted({type(p).__name__ for p in parts})
    raise DataError(f"concat: expected data sets of one kind (all arrays or all text), got {kinds}")


def take(data: Any, index: np.ndarray | Sequence[int]) -> Any:
    """Rows ``index`` of ``data`` (a copy), in the order given."""
    idx = np.asarray(index, dtype=np.int64)
    if idx.ndim != 1:
        raise DataError(f"take: expected a 1-D index, got shape {idx.shape}")
    n = length(data)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise DataError(f"take: expected indices in [0, {n}), got range [{idx.min()}, {idx.max()}]")
    if isinstance(data, list):
        return [data[i] for i in idx.tolist()]
    return data[idx]
