"""Raw records of a data file, each tagged with its 1-based line (or row) number.

This is the layer every reader sits on. It knows file formats and byte-level trouble (encodings,
byte-order marks, gzip, CRLF line endings, malformed JSON, CSV quoting, unreadable Parquet) and
turns each record into either a parsed value or a reason why it is bad. It never decides what a
record means; :mod:`modelcollapse.data.readers` and :mod:`modelcollapse.data.array_readers` do.

Conventions shared by every line-based format (``.jsonl``/``.ndjson``, ``.csv``, ``.txt``, each
optionally gzipped as ``<name>.gz``):

- lines end in ``\\n`` or ``\\r\\n``; the ending is not part of the record;
- a UTF-8 byte-order mark at the start of the file is ignored; a UTF-16/32 one is refused for the
  whole file (every line would be garbage);
- blank (whitespace-only) lines are not records: they carry no data and are skipped, but they
  still count for line numbers so ``file:line`` points at the real line.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelcollapse.data.document import Document
from modelcollapse.errors import DataError, did_you_mean

Format = Literal["jsonl", "csv", "parquet", "npy", "txt"]
DataReadKind = Literal["numeric", "text", "discrete"]

SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".npy": "npy",
    ".txt": "txt",
}
_GZIP_OK = frozenset({"jsonl", "csv", "txt"})
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


@dataclass
class ReadResult:
    """What a reader found.

    ``documents`` holds the good records for text reads (empty for arrays). ``n_bad`` counts the
    rejected records; with ``on_error="skip"`` each one is in ``quarantine_path`` (None when
    nothing was rejected). ``n_good + n_bad`` is the number of (non-blank) records in the file.
    """

    path: Path
    n_good: int
    n_bad: int = 0
    quarantine_path: Path | None = None
    documents: list[Document] = field(default_factory=list)
    data_kind: str | None = None
    columns: list[str] | None = None
    categories: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Bad:
    """A record that could not be parsed: where it is, why, and its raw content."""

    line: int
    reason: str
    raw: bytes | str


@dataclass(frozen=True, slots=True)
class Rec:
    """A parsed record: its line, its raw content (for the quarantine) and its value."""

    line: int
    raw: bytes | str
    value: Any


def detect_format(path: Path) -> tuple[Format, bool]:
    """The file format from the extension, and whether it is gzipped."""
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if gz and len(suffixes) >= 2 else (suffixes[-1] if suffixes else "")
    fmt = SUFFIXES.get(suffix)
    if fmt is None or (gz and fmt not in _GZIP_OK):
        known = ", ".join(SUFFIXES) + " (.jsonl, .ndjson, .csv and .txt may end in .gz)"
        got = "".join(path.suffixes) or "no extension"
        raise DataError(f"expected one of {known}, got {got}", path=str(path))
    return fmt, gz


def require_file(path: str | Path) -> Path:
    """The path as a Path, or DataError when it is not an existing file."""
    p = Path(path).expanduser()
    if not p.is_file():
        what = "a directory" if p.is_dir() else "missing"
        raise DataError(f"expected an existing data file, got {what}", path=str(p))
    return p


def iter_lines(path: Path, gz: bool, *, keep_blank: bool = False) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines (all lines with ``keep_blank``) as ``(line number, bytes without ending)``.

    Reads in binary so a line of invalid UTF-8 is one bad record, not a crash of the whole read;
    streams, so a multi-megabyte line costs only its own memory.
    """
    number = 0
    opener = gzip.open if gz else open
    try:
        with opener(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if number == 1:
                    if raw.startswith(_OTHER_BOMS):
                        raise DataError(
                            "expected UTF-8 text, got a UTF-16/UTF-32 byte-order mark; "
                            "re-save the file as UTF-8",
                            path=str(path),
                            line=1,
                        )
                    raw = raw.removeprefix(_UTF8_BOM)
                raw = raw.removesuffix(b"\n").removesuffix(b"\r")
                if keep_blank or raw.strip():
                    yield number, raw
    except (OSError, EOFError, zlib.error) as exc:
        # Truncated or corrupt gzip streams surface here mid-iteration.
        raise DataError(
            f"could not read the file ({exc})", path=str(path), line=number + 1
        ) from None


def decode(raw: bytes) -> str | Bad:
    """UTF-8 text of a line, or the reason it is not valid UTF-8 (line filled in by the caller)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Bad(0, f"invalid UTF-8 at byte {exc.start} ({exc.reason})", raw)


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def iter_json(path: Path, gz: bool) -> Iterator[Rec | Bad]:
    """Parsed JSON values, one per non-blank line."""
    for number, raw in iter_lines(path, gz):
        text = decode(raw)
        if isinstance(text, Bad):
            yield Bad(number, text.reason, raw)
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Bad(number, f"invalid JSON ({exc.msg} at column {exc.colno})", raw)
        except (RecursionError, ValueError) as exc:
            # Nesting deeper than the interpreter's limit, or an integer longer than
            # Python's int-string conversion limit.
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            yield Bad(number, f"invalid JSON ({reason})", raw)
        else:
            yield Rec(number, raw, value)


def iter_text(path: Path, gz: bool) -> Iterator[Rec | Bad]:
    """Decoded text lines (one record per non-blank line)."""
    for number, raw in iter_lines(path, gz):
        text = decode(raw)
        yield Bad(number, text.reason, raw) if isinstance(text, Bad) else Rec(number, raw, text)


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    # The csv module refuses fields over 128 KiB by default; huge records are legal data.
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, limit))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def iter_csv(path: Path, gz: bool) -> Iterator[Rec | Bad]:
    """CSV rows as lists of strings; a quoted field may span lines (the record gets its first).

    Lines that are not valid UTF-8 are rejected on their own and never reach the CSV parser.
    Blank lines between records are skipped; inside a quoted field they are kept.
    """
    # The lines handed to the parser and not consumed yet (physical line numbers and text);
    # fed[0] is line ``base`` of reader.line_num. Consumed lines are dropped, so memory holds
    # one record, not the file.
    fed: list[int] = []
    texts: list[str] = []
    base = 0
    last = 0  # physical line number of the last dropped line
    pending: list[Bad] = []

    def feed() -> Iterator[str]:
        for number, raw in iter_lines(path, gz, keep_blank=True):
            text = decode(raw)
            if isinstance(text, Bad):
                pending.append(Bad(number, text.reason, raw))
                continue
            fed.append(number)
            texts.append(text)
            yield text + "\n"

    def consumed(start: int, stop: int) -> str:
        nonlocal base, last
        raw = "\n".join(texts[start - base : stop - base])
        if stop > base:
            last = fed[stop - base - 1]
            del fed[: stop - base], texts[: stop - base]
            base = stop
        return raw

    reader = csv.reader(feed(), strict=True)
    with _csv_field_limit(2**31 - 1):
        while True:
            start = reader.line_num  # lines consumed before this record
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield from pending
                pending.clear()
                first = fed[min(start - base, len(fed) - 1)] if fed else (last or 1)
                yield Bad(first, f"malformed CSV ({exc})", consumed(start, reader.line_num))
                continue
            yield from pending
            pending.clear()
            line = fed[start - base]
            raw = consumed(start, reader.line_num)
            if row and not (len(row) == 1 and not row[0].strip()):  # skip blank lines
                yield Rec(line, raw, row)
    yield from pending


def check_header(path: Path, header: list[str], line: int, required: str | None) -> None:
    """A CSV header must have distinct names (and the required column, when given)."""
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(
            f"expected distinct column names, got duplicates {dupes}", path=str(path), line=line
        )
    if required is not None and required not in header:
        hint = did_you_mean(required, header)
        raise DataError(
            f"expected a {required!r} column in the header{hint}, got columns {header}",
            path=str(path),
            line=line,
        )


def parquet_file(path: Path) -> Any:
    """Open a Parquet file, turning pyarrow's errors into DataError."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", path=str(path)) from None


def iter_parquet(path: Path, columns: list[str] | None = None) -> Iterator[Rec]:
    """Parquet rows as dicts; the row number (1-based) plays the role of the line."""
    import pyarrow as pa

    pf = parquet_file(path)
    names = pf.schema_arrow.names
    missing = [c for c in columns or [] if c not in names]
    if missing:
        raise DataError(
            f"expected column(s) {missing} in the Parquet file, got columns {names}", path=str(path)
        )
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=4096, columns=columns):
            for value in batch.to_pylist():
                row += 1
                yield Rec(row, "", value)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"could not read Parquet data ({exc})", path=str(path), line=row + 1
        ) from None


def raw_text(raw: bytes | str, value: Any = None) -> str:
    """The raw content of a record as text for the quarantine file, never failing."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    if raw == "" and value is not None:
        return json.dumps(value, default=str, ensure_ascii=False)
    return raw
