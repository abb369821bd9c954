"""Shared plumbing of the ``modelcollapse guard`` commands: reading, writing, JSON summaries.

Inputs are read with :func:`modelcollapse.data.readers.read_documents` (JSONL, Parquet, CSV, TXT,
gzipped text formats), outputs written by extension with :mod:`modelcollapse.data.writers`
(``.jsonl``, ``.jsonl.gz``, ``.ndjson``, ``.parquet``), so provenance survives every step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from modelcollapse.data.document import Document
from modelcollapse.data.json_values import jsonable
from modelcollapse.errors import InvalidParameterError

if TYPE_CHECKING:
    from modelcollapse.guard.registry import Registry

OUTPUT_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".parquet")
ON_ERROR_HELP = (
    "'fail' on the first bad record, or 'skip' bad records into <input>.quarantine.jsonl "
    "next to the input (data.jsonl -> data.jsonl.quarantine.jsonl)."
)


class OnError(StrEnum):
    fail = "fail"
    skip = "skip"


def read_docs(
    paths: Sequence[Path], *, on_error: OnError | str, text_field: str = "text"
) -> tuple[list[Document], int]:
    """All documents of ``paths`` in order, and how many bad records were skipped."""
    from modelcollapse.data.readers import read_documents

    docs: list[Document] = []
    n_bad = 0
    for path in paths:
        res = read_documents(path, text_field=text_field, on_error=str(on_error))
        docs.extend(res.documents)
        n_bad += res.n_bad
        if res.n_bad:
            typer.echo(
                f"note: {path}: skipped {res.n_bad} bad record(s) into {res.quarantine_path}",
                err=True,
            )
    return docs, n_bad


def check_output(path: Path | None, option: str) -> Path | None:
    """``path`` when it has a document-file extension (checked before any work is done)."""
    if path is None:
        return None
    if not path.name.lower().endswith(OUTPUT_SUFFIXES):
        raise InvalidParameterError(
            f"{option}: expected a path ending in {', '.join(OUTPUT_SUFFIXES)}, got {path.name!r}"
        )
    return path


def check_distinct(*paths: Path | None) -> None:
    """Refuse to write two outputs, or an output over an input, at one path."""
    given = [p.expanduser().resolve() for p in paths if p is not None]
    if len(set(given)) != len(given):
        raise InvalidParameterError(
            f"expected distinct input and output files, got {[str(p) for p in given]}"
        )


def write_docs(docs: Sequence[Document], path: Path) -> int:
    """Write documents (JSONL or Parquet, by extension, atomically); return how many."""
    from modelcollapse.data.writers import write_jsonl, write_parquet

    check_output(path, "output")
    if path.name.lower().endswith(".parquet"):
        return write_parquet(docs, path)
    return write_jsonl(docs, path)


def write_rows(rows: Sequence[dict[str, Any]], path: Path) -> int:
    """Write plain records (not documents) as JSON lines or Parquet, atomically."""
    from modelcollapse.data.writers import atomic_path

    check_output(path, "--out")
    with atomic_path(path) as tmp:
        if path.name.lower().endswith(".parquet"):
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(list(rows)), tmp)
        else:
            opener: Any = open
            if path.name.lower().endswith(".gz"):
                import gzip

                opener = gzip.open
            with opener(tmp, "wt", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(jsonable(row), ensure_ascii=False) + "\n")
    return len(rows)


def echo_json(obj: Any) -> None:
    typer.echo(json.dumps(jsonable(obj), indent=2, ensure_ascii=False))


def open_registry(url: str) -> Registry:
    """Open the registry at ``url``; a connection failure is one line (drivers' messages span
    several) and, like every registry message, shows the URL without its password."""
    from modelcollapse.guard.registry import Registry

    try:
        return Registry(url)
    except InvalidParameterError as exc:
        raise InvalidParameterError(" ".join(str(exc).split())) from None


def fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.4g}"
