"""Where bad records go: fail on the first one, or quarantine every one and carry on.

With ``on_error="fail"`` the first bad record raises :class:`DataError` naming ``file:line`` and
the reason. With ``on_error="skip"`` each bad record is written as one JSON line

    {"path": "<input>", "line": 12, "reason": "invalid JSON (...)", "raw": "<the record>"}

(``raw`` is the record's bytes decoded as UTF-8 with ``errors="replace"``) and the good records
are kept, so nothing is lost silently: ``n_good + n_bad`` is the number of records in the file.

The quarantine file defaults to ``<input>.quarantine.jsonl`` in the input's folder. When that
folder is not writable the caller must name another file. The file is written to a temporary
name and renamed into place when reading ends, so it is never half-written; it is only created
when at least one record was bad.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from modelcollapse.data.records import raw_text
from modelcollapse.errors import DataError, InvalidParameterError

OnError = Literal["fail", "skip"]


def check_on_error(on_error: str) -> OnError:
    if on_error not in ("fail", "skip"):
        raise InvalidParameterError(f"on_error: expected 'fail' or 'skip', got {on_error!r}")
    return on_error  # type: ignore[return-value]


def default_quarantine_path(source: Path) -> Path:
    """``<input>.quarantine.jsonl`` next to the input (``data.jsonl.quarantine.jsonl``)."""
    return source.with_name(source.name + ".quarantine.jsonl")


def resolve_quarantine_path(source: Path, quarantine: str | Path | None) -> Path:
    """The quarantine file to use, checked to be writable before any reading starts."""
    if quarantine is None:
        target = default_quarantine_path(source)
        if not os.access(target.parent, os.W_OK):
            raise InvalidParameterError(
                f"quarantine: expected a writable folder for {target.name}, got read-only "
                f"{target.parent}; pass quarantine=<path> (CLI: --quarantine PATH)"
            )
        return target
    target = Path(quarantine).expanduser()
    if target.is_dir():
        raise InvalidParameterError(f"quarantine: expected a file path, got directory {target}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(
            f"quarantine: expected a creatable folder, got {target.parent} ({exc})"
        ) from None
    if not os.access(target.parent, os.W_OK):
        raise InvalidParameterError(f"quarantine: expected a writable folder, got {target.parent}")
    return target


class Quarantine:
    """Receives every bad record of one read; use as a context manager.

    >>> with Quarantine(path, "skip", None) as q:
    ...     q.reject(3, "invalid JSON", b"{oops")
    >>> q.n_bad, q.written
    """

    def __init__(self, source: Path, on_error: str, quarantine: str | Path | None = None):
        self.source = source
        self.on_error = check_on_error(on_error)
        self.path = resolve_quarantine_path(source, quarantine) if on_error == "skip" else None
        self.n_bad = 0
        self.written: Path | None = None
        self._fh: IO[str] | None = None
        self._tmp: str | None = None

    def reject(self, line: int | None, reason: str, raw: bytes | str, value: Any = None) -> None:
        """Record one bad record: raise in fail mode, append to the quarantine in skip mode."""
        if self.on_error == "fail":
            raise DataError(reason, path=str(self.source), line=line)
        if self._fh is None:
            assert self.path is not None
            fd, self._tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        record = {
            "path": str(self.source),
            "line": line,
            "reason": reason,
            "raw": raw_text(raw, value),
        }
        # ensure_ascii keeps lone surrogates (from JSON \ud800 escapes) writable.
        self._fh.write(json.dumps(record, ensure_ascii=True) + "\n")
        self.n_bad += 1

    def close(self) -> Path | None:
        """Move the quarantine into place (when anything was rejected); return its path."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            assert self._tmp is not None and self.path is not None
            os.replace(self._tmp, self.path)
            self._tmp = None
            self.written = self.path
        return self.written

    def __enter__(self) -> Quarantine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Keep what was quarantined even when a fatal error ends the read: it is evidence.
        self.close()

    def check_found(self, n_good: int) -> None:
        """DataError when a read found nothing usable (call after the ``with`` block ends)."""
        if n_good:
            return
        if self.n_bad == 0:
            raise DataError("no records", path=str(self.source))
        where = f"; see {self.written}" if self.written else ""
        raise DataError(
            f"no valid records: all {self.n_bad} record(s) are bad{where}", path=str(self.source)
        )

    def summary(self) -> str:
        """One line for logs and the CLI: how many records were rejected and where they are."""
        if self.n_bad == 0:
            return f"{self.source}: no bad records"
        return f"{self.source}: {self.n_bad} bad record(s) quarantined to {self.written}"
