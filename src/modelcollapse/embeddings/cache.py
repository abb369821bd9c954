"""On-disk embedding cache: content-addressed vectors in one SQLite file per cache directory.

Key: ``sha256("modelcollapse-embedding-v1" NUL name NUL fingerprint NUL utf-8 text)``, so a
vector is found again only for the exact same text under the exact same model weights. Value: the
vector as little-endian float32 bytes, its dimension, and a 16-byte BLAKE2b digest of
(key, dim, bytes).

Why SQLite (from the standard library) rather than sharded ``.npy`` files plus an index:

- crash safety for free: every batch is one transaction, so a killed run keeps the batches it
  finished and never leaves a half-written record (WAL journal, ``synchronous=NORMAL``);
- several processes can write at once: writers queue on SQLite's lock (``BEGIN IMMEDIATE`` with a
  60 s busy timeout) instead of needing our own lock files and index merging, and ``INSERT OR
  IGNORE`` makes concurrent writes of the same text harmless (the first vector stays);
- no pickle: vectors are plain BLOBs, read back with ``np.frombuffer``.

Corruption is detected, never served. SQLite does not checksum pages, so every row carries its
own digest: a row whose digest, length or dimension does not match is deleted and reported as a
miss (the caller recomputes it). A file SQLite cannot read (truncated, overwritten, not a
database: ``SQLITE_CORRUPT``/``SQLITE_NOTADB``) is deleted with a warning and rebuilt empty,
under an exclusive lock so that concurrent processes rebuild it once. The cache is append-only in
normal use; only corrupt rows and files are ever removed. WAL needs a local file system (not NFS).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from modelcollapse.errors import DataError

DB_NAME = "embeddings.sqlite"
SCHEMA_VERSION = "1"
_KEY_PREFIX = b"modelcollapse-embedding-v1\0"
_DIGEST_SIZE = 16
# Stay under SQLITE_MAX_VARIABLE_NUMBER of old SQLite builds (999).
_QUERY_CHUNK = 900
_CORRUPTION_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)

T = TypeVar("T")


def cache_key(name: str, fingerprint: str, text: str) -> bytes:
    """32-byte sha256 key of ``text`` under the model identity (name, weights fingerprint)."""
    h = hashlib.sha256(_KEY_PREFIX)
    h.update(f"{name}\0{fingerprint}\0".encode())
    h.update(text.encode("utf-8"))
    return h.digest()


def _row_digest(key: bytes, dim: int, blob: bytes) -> bytes:
    h = hashlib.blake2b(key, digest_size=_DIGEST_SIZE)
    h.update(dim.to_bytes(4, "little"))
    h.update(blob)
    return h.digest()


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _CORRUPTION_CODES:
        return True
    # A damaged header's schema-format field gives a plain SQLITE_ERROR with this message.
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg or "unsupported file format" in msg


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (POSIX; a no-op where flock is absent)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class EmbeddingCache:
    """Content-addressed embedding vectors in ``directory / "embeddings.sqlite"``.

    Use as a context manager. ``get`` returns only verified vectors; ``put`` appends. The
    counters ``corrupt_rows`` and ``rebuilt`` say what was discarded during this session.
    """

    def __init__(self, directory: Path | str, *, timeout: float = 60.0):
        self.directory = Path(directory).expanduser()
        self.path = self.directory / DB_NAME
        self.timeout = float(timeout)
        self.corrupt_rows = 0
        self.rebuilt = 0
        self._con: sqlite3.Connection | None = None

    # -- connection -----------------------------------------------------------------------
    def __enter__(self) -> EmbeddingCache:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        if self._con is not None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"expected a writable embedding cache directory, got {exc}",
                path=str(self.directory),
            ) from None
        self._guard(self._connect_once)

    def _connect_once(self) -> None:
        if self._con is None:
            self._connect()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _connect(self) -> None:
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        # A damaged row may hold TEXT that is not UTF-8: never decode, compare bytes instead.
        con.text_factory = bytes
        try:
            # Switching to WAL takes a write lock and may answer SQLITE_BUSY without waiting.
            self._retry_busy(lambda: con.execute("PRAGMA journal_mode=WAL").fetchone())
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            con.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER NOT NULL,"
                " vec BLOB NOT NULL, digest BLOB NOT NULL)"
            )
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            con.execute("COMMIT")
        except BaseException:
            con.close()
            raise
        if row is None or row[0] != SCHEMA_VERSION.encode():
            con.close()
            raise DataError(
                f"expected embedding cache schema {SCHEMA_VERSION}, got {row and row[0]!r}; "
                "delete the file to rebuild it",
                path=str(self.path),
            )
        self._con = con

    def _retry_busy(self, op: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return op()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _guard(self, op: Callable[[], T]) -> T:
        """Run ``op``; on a corrupt file, rebuild the cache once and run ``op`` again."""
        try:
            return op()
        except UnicodeDecodeError as exc:
            # sqlite3 decodes a damaged schema or error message as UTF-8: damage, not misuse.
            self._rebuild(f"undecodable bytes ({exc.reason})")
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                raise DataError(f"embedding cache failed: {exc}", path=str(self.path)) from None
            self._rebuild(str(exc))
        try:
            return op()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise DataError(
                f"embedding cache failed after rebuilding it: {exc}", path=str(self.path)
            ) from None

    def _healthy(self) -> bool:
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            try:
                rows = con.execute("PRAGMA quick_check").fetchall()
            finally:
                con.close()
        except sqlite3.DatabaseError:
            return False
        return rows == [("ok",)]

    def _file_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _rebuild(self, reason: str) -> None:
        self.close()
        seen = self._file_id()
        with _exclusive(self.directory / (DB_NAME + ".lock")):
            # Another process may have rebuilt the file while we waited for the lock: then it is
            # a new file and we keep it if it is healthy. The file we saw fail is rebuilt even
            # when quick_check passes, since quick_check misses some damage (index vs table).
            if self._file_id() == seen or not self._healthy():
                for suffix in ("", "-wal", "-shm", "-journal"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self.path}{suffix}")
                self.rebuilt += 1
                warnings.warn(
                    f"{self.path}: embedding cache was unreadable ({reason}); rebuilt it empty",
                    RuntimeWarning,
                    stacklevel=4,
                )
        # The retried operation reconnects (creating a fresh file when it was deleted).

    def _connection(self) -> sqlite3.Connection:
        if self._con is None:
            self.open()
        assert self._con is not None
        return self._con

    # -- data -----------------------------------------------------------------------------
    def get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Verified float32 vectors for the ``keys`` that are cached; absent keys are misses."""
        return self._guard(lambda: self._get(keys))

    def _get(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        con = self._connection()
        found: dict[bytes, np.ndarray] = {}
        bad: list[bytes] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _QUERY_CHUNK):
            chunk = unique[start : start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = con.execute(
                "SELECT key, dim, CAST(vec AS BLOB), CAST(digest AS BLOB) FROM vectors"
                f" WHERE key IN ({marks})",
                chunk,
            ).fetchall()
            for key, dim, blob, digest in rows:
                key, blob, digest = bytes(key), bytes(blob), bytes(digest)
                ok = (
                    isinstance(dim, int)
                    and dim > 0
                    and len(blob) == 4 * dim
                    and digest == _row_digest(key, dim, blob)
                )
                if ok:
                    found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
                else:
                    bad.append(key)
        if bad:
            self.corrupt_rows += len(bad)
            self._write(con, "DELETE FROM vectors WHERE key = ?", [(k,) for k in bad])
            warnings.warn(
                f"{self.path}: {len(bad)} corrupt embedding row(s) discarded; they are recomputed",
                RuntimeWarning,
                stacklevel=3,
            )
        return found

    def put(self, items: Iterable[tuple[bytes, np.ndarray]]) -> int:
        """Append (key, vector) pairs in one transaction; keys already present keep their vector.

        Returns the number of pairs offered.
        """
        rows = []
        for key, vec in items:
            arr = np.ascontiguousarray(vec, dtype="<f4").reshape(-1)
            blob = arr.tobytes()
            rows.append((bytes(key), arr.size, blob, _row_digest(bytes(key), arr.size, blob)))
        if rows:
            self._guard(
                lambda: self._write(
                    self._connection(),
                    "INSERT OR IGNORE INTO vectors (key, dim, vec, digest) VALUES (?, ?, ?, ?)",
                    rows,
                )
            )
        return len(rows)

    def _write(self, con: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits (busy timeout) instead of
        # failing halfway when another process commits first.
        self._retry_busy(lambda: con.execute("BEGIN IMMEDIATE"))
        try:
            con.executemany(sql, rows)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def __len__(self) -> int:
        return int(
            self._guard(
                lambda: self._connection().execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
            )
        )
