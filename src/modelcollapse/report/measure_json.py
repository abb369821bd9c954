"""Read a measurement result (the JSON of ``modelcollapse measure --json``) for a report.

:func:`measure_from_dict` validates the document of ``MeasureResult.to_dict()``: the keys
``verdict``, ``reasons``, ``metrics`` and ``kind`` with their types, and for every metric the
fields ``candidate``, ``reference``, ``ci_low``, ``ci_high`` and ``flagged``. Numbers come back as
floats: ``null`` (measure's NaN) as NaN, ``"inf"``/``"-inf"`` as infinities, absent optional ones
(``delta_low``, ``scale``, ...) as NaN. Anything else raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelcollapse.errors import DataError

_MEASURE_KEYS = ("verdict", "reasons", "metrics", "kind")
_METRIC_FIELDS = ("candidate", "reference", "ci_low", "ci_high", "flagged")
# Numbers a metric may carry; the optional ones are NaN when absent.
_METRIC_NUMBERS = (
    "candidate", "reference", "ci_low", "ci_high", "reference_ci_low", "reference_ci_high",
    "delta_low", "delta_high", "scale", "tolerance", "change", "n_boot", "n_matched",
    "full_candidate", "full_reference",
)  # fmt: skip


def _number(value: Any) -> float:
    # measure writes NaN as null and infinities as the strings "inf" / "-inf".
    if value is None:
        return float("nan")
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    return float(value)


def load_measure(path: str | Path) -> dict[str, Any]:
    """A ``measure --json`` document, validated: numbers as floats (NaN for null)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DataError("expected UTF-8 JSON, got undecodable bytes", path=str(path)) from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"expected a measure JSON result, got invalid JSON ({exc.msg})",
            path=str(path),
            line=exc.lineno,
        ) from None
    return measure_from_dict(doc, path)


def measure_from_dict(doc: Any, path: str | Path | None = None) -> dict[str, Any]:
    """Validate a measure result mapping (``MeasureResult.to_dict()``) for the report.

    Returns a copy whose metric numbers are floats (NaN for null or absent optional ones) and
    whose ``flagged`` are bools.
    """
    where = None if path is None else str(path)
    if not isinstance(doc, dict):
        raise DataError(
            f"expected a JSON object with {', '.join(_MEASURE_KEYS)}, got {type(doc).__name__}",
            path=where,
        )
    missing = [k for k in _MEASURE_KEYS if k not in doc]
    if missing:
        raise DataError(
            f"expected a measure result with keys {', '.join(_MEASURE_KEYS)}, got no {', '.join(missing)}",
            path=where,
        )
    for key, kind in (("verdict", str), ("kind", str), ("reasons", list), ("metrics", dict)):
        if not isinstance(doc[key], kind):
            raise DataError(
                f"expected {key!r} to be a {kind.__name__}, got {type(doc[key]).__name__}",
                path=where,
            )
    if not doc["metrics"]:
        raise DataError("expected 'metrics' to map metric names to results, got none", path=where)
    metrics: dict[str, dict[str, Any]] = {}
    for name, m in doc["metrics"].items():
        if not isinstance(m, dict) or any(f not in m for f in _METRIC_FIELDS):
            raise DataError(
                f"metric {name!r}: expected fields {', '.join(_METRIC_FIELDS)}, got {m!r:.200}",
                path=where,
            )
        out = dict(m)
        for key in _METRIC_NUMBERS:
            try:
                out[key] = _number(m.get(key))
            except TypeError:
                raise DataError(
                    f"metric {name!r}: expected a number for {key!r}, got {m.get(key)!r:.100}",
                    path=where,
                ) from None
        if not isinstance(m["flagged"], bool):
            raise DataError(
                f"metric {name!r}: expected true or false for 'flagged', got {m['flagged']!r:.100}",
                path=where,
            )
        metrics[str(name)] = out
    notes = doc.get("notes", [])
    return {**doc, "metrics": metrics, "notes": notes if isinstance(notes, list) else [notes]}
