"""Database connections for the guard: SQLite or PostgreSQL, safe for concurrent writers.

:class:`Database` wraps a SQLAlchemy engine with what the registry relies on:

- **URLs.** ``sqlite:///path`` (or a plain file path), ``sqlite://`` (in memory, shared by the
  process), ``postgresql://user:password@host:port/db`` (``postgres://`` too), driven by
  psycopg 3. The password is only ever shown through :func:`redact`: in logs, errors and
  ``repr``. Driver messages are scrubbed of it too.
- **SQLite concurrency.** WAL journal (readers never block the writer), a busy timeout, foreign
  keys on, and write transactions that take the write lock up front (``BEGIN IMMEDIATE``): a
  deferred transaction that reads and then writes can fail with ``SQLITE_BUSY`` whatever the
  timeout, because another writer committed in between.
- **Retries.** :meth:`Database.retrying` reruns a whole transaction on lock timeouts (SQLite),
  deadlocks and serialisation failures (PostgreSQL). Only idempotent transactions may use it.

Needs the ``guard`` extra: ``pip install 'modelcollapse[guard]'``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from modelcollapse.errors import InvalidParameterError, require_extra

sa = require_extra("sqlalchemy", "guard")

__all__ = ["Database", "redact"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_SECRET_KEY = re.compile(r"pass|secret|token", re.IGNORECASE)
_MARK = "REDACTEDbyMODELCOLLAPSE"  # placeholder that URL encoding leaves alone
_TRANSIENT_SQLSTATES = ("40P01", "40001", "55P03")  # deadlock, serialisation, lock not available


def redact(url: str | Path | Any) -> str:
    """The connection string with every password replaced by ``***``.

    Covers ``user:password@`` and query parameters whose name contains ``pass``, ``secret`` or
    ``token`` (``?password=...``). Strings that do not parse as URLs are scrubbed by pattern.
    """
    text = None if hasattr(url, "render_as_string") else str(url)
    try:
        parsed = sa.engine.make_url(url if text is None else text)
    except Exception:  # any parse failure: fall back to patterns on the raw text
        raw = text if text is not None else repr(url)
        raw = re.sub(r"(://[^/?#@]*?:)[^@/?#]*@", r"\1***@", raw)
        return re.sub(r"((?:pass|secret|token)[^=&;\s]*=)[^&;\s]*", r"\1***", raw, flags=re.I)
    query = {k: (_MARK if _SECRET_KEY.search(k) else v) for k, v in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True).replace(_MARK, "***")


def parse_url(url: str | Path) -> Any:
    """A SQLAlchemy URL for SQLite or PostgreSQL (psycopg 3), or InvalidParameterError."""
    if isinstance(url, Path) or (isinstance(url, str) and url and "://" not in url):
        return sa.engine.URL.create("sqlite", database=str(Path(url).expanduser()))
    if not isinstance(url, str):
        raise InvalidParameterError(f"url: expected a string or path, got {type(url).__name__}")
    try:
        parsed = sa.engine.make_url(url)
    except Exception:
        raise InvalidParameterError(
            f"url: expected a database URL such as sqlite:///registry.db or "
            f"postgresql://user:password@host/db, got {redact(url)!r}"
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend != "sqlite":
        raise InvalidParameterError(
            f"url: expected a sqlite or postgresql URL, got {backend!r} in {redact(parsed)!r}"
        )
    return parsed


def _secrets(url: Any) -> list[str]:
    """Password-like values in a URL, to scrub from driver error messages."""
    out = [url.password] if url.password else []
    for key, value in url.query.items():
        if _SECRET_KEY.search(key):
            out.extend([value] if isinstance(value, str) else list(value))
    return [s for s in out if s]


def transient(exc: BaseException) -> bool:
    """Whether a failed transaction may simply be run again (lock and deadlock errors)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _TRANSIENT_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database table is locked" in text


class Database:
    """A SQLAlchemy engine for SQLite or PostgreSQL with the settings described above."""

    def __init__(self, url: str | Path, *, busy_timeout_s: float = 60.0, retries: int = 6):
        self._url = parse_url(url)
        self.url = redact(self._url)
        self.dialect: str = self._url.get_backend_name()
        self.retries = retries
        self._secrets = _secrets(self._url)
        self.engine = self._create_engine(float(busy_timeout_s))
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def _create_engine(self, busy_timeout_s: float) -> Any:
        # hide_parameters: SQLAlchemy errors would otherwise quote whole documents.
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if self.dialect == "sqlite":
            database = self._url.database
            if database and database != ":memory:":
                folder = Path(database).expanduser().parent
                if not folder.is_dir():
                    raise InvalidParameterError(
                        f"url: expected an existing folder for the SQLite file, got {folder}"
                    )
            else:
                kwargs["poolclass"] = sa.pool.StaticPool  # one shared in-memory database
            kwargs["connect_args"] = {"timeout": busy_timeout_s, "check_same_thread": False}
        else:
            require_extra("psycopg", "guard")
            kwargs["pool_pre_ping"] = True
        engine = sa.create_engine(self._url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_events(engine, int(busy_timeout_s * 1000))
        return engine

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Any]:
        """A connection inside one transaction, committed when the block succeeds.

        Connection failures become InvalidParameterError naming the redacted URL.
        """
        if os.getpid() != self._pid:
            # Inherited through fork: never reuse the parent's connections (SQLAlchemy's recipe).
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(guard_write=write)
                with conn.begin():
                    yield conn
        except sa.exc.OperationalError as exc:
            if transient(exc):
                raise
            if exc.connection_invalidated or "connect" in str(exc.orig).lower():
                reason = " ".join(str(exc.orig).split())  # drivers write several lines
                for secret in self._secrets:
                    reason = reason.replace(secret, "***")
                raise InvalidParameterError(
                    f"url: could not use the database {self.url} ({reason})"
                ) from None
            raise

    def retrying(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` (one whole, idempotent transaction), retrying on transient errors."""
        for attempt in range(self.retries):
            try:
                return fn()
            except sa.exc.OperationalError as exc:
                if not transient(exc) or attempt == self.retries - 1:
                    raise
                log.warning("database %s: transient error, retrying (%s)", self.url, exc.orig)
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def insert(self, table: Any) -> Any:
        """The dialect's INSERT (which has ``on_conflict_do_nothing``) for ``table``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_events(engine: Any, busy_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun by _on_begin, not by pysqlite's implicit deferred BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("guard_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
