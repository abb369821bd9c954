"""Plain JSON values for metadata and summaries.

Strict JSON has no NaN or Infinity and no numpy types, so everything written as metadata or a
``--json`` summary goes through :func:`jsonable` first: NaN becomes ``null``, infinities the
strings ``"inf"``/``"-inf"``, numpy scalars and tuples plain Python values, paths strings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with every nested dict, list, tuple, number and path made strict-JSON ready."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    return value


def first_difference(old: Any, new: Any, prefix: str = "") -> str | None:
    """The dotted key (``"a.b.0"``) of the first place two JSON-like values differ, ``"<root>"``
    when they differ at the top, or None when they are equal (NaN equals NaN here)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            found = first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found = first_difference(a, b, f"{prefix}{i}.")
            if found:
                return found
        return None
    both_nan = isinstance(old, float) and isinstance(new, float) and old != old and new != new
    return None if old == new or both_nan else prefix.rstrip(".") or "<root>"
