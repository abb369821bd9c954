"""Registry of generated outputs: retrieval-based detection of your own models' text.

Krishna et al. (2023, "Paraphrasing evades detectors of AI-generated text, but retrieval is an
effective defense", NeurIPS) propose that whoever generates text keeps a database of everything
generated, and flags a candidate text when a close enough earlier generation is retrieved. This
registry stores each generated document under the SHA-256 of its normalised text
(:mod:`modelcollapse.guard.normalize`) with a MinHash signature, and LSH band keys in their own
table (:mod:`modelcollapse.guard.minhash`), so lookups find

- **exact** matches: the same normalised text (case, punctuation, spacing edits ignored);
- **near** duplicates: LSH candidates (any band equal) whose estimated Jaccard similarity of
  shingle sets, the fraction of equal signature entries, is at least ``threshold``.

Tables (SQLAlchemy Core, prefixed so they cannot clash with a database's own tables):

- ``registry_documents(hash PK, text, generator, generation, created_at, signature BLOB)``;
  ``signature`` is the uint32 signature, little-endian;
- ``registry_bands(band_idx, band_hash, doc_hash)``: primary key ``(band_idx, band_hash,
  doc_hash)``, which is the lookup index; ``band_hash`` is a signed 64-bit integer;
- ``registry_meta(key PK, value)``: the signature definition (normalisation version, shingles,
  permutations, bands and rows). A registry is always reopened with the definition it was
  built with; asking for a different one raises :class:`InvalidParameterError`.

Guarantees:

- ``register`` is idempotent: ``INSERT ... ON CONFLICT DO NOTHING`` on the hash (SQLite and
  PostgreSQL), and band rows are written only by the transaction that inserted their document.
- Each batch is one transaction, so a process killed mid-batch leaves every document either
  fully present (its row and all its ``bands`` rows) or absent; :meth:`Registry.check` verifies.
- Concurrent writers lose and duplicate nothing. SQLite runs in WAL mode with a busy timeout and
  takes the write lock up front (``BEGIN IMMEDIATE``); PostgreSQL uses READ COMMITTED, and each
  batch inserts in hash order so overlapping batches cannot deadlock. Transient lock errors are
  retried (a batch is idempotent).
- Connection strings are only ever shown through :func:`redact` (no password), in logs,
  errors and ``repr``.

URLs: ``sqlite:///path/to/registry.db`` (or a plain file path), ``sqlite://`` (in memory, one
process), ``postgresql://user:password@host:port/db`` (driven by psycopg 3). Needs the ``guard``
extra: ``pip install 'modelcollapse[guard]'``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from modelcollapse.data.document import Document
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.database import Database, redact, sa  # sa: the guard extra
from modelcollapse.guard.minhash import MinHasher, band_hashes, estimated_jaccard, optimal_bands
from modelcollapse.guard.normalize import NORMALIZATION_VERSION, normalize

__all__ = ["Match", "RegisterCounts", "Registry", "RegistryCheck", "redact"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_DEFAULTS: dict[str, Any] = {
    "num_perm": 128,
    "shingle": "char",
    "k": 5,
    "threshold": 0.8,
    "seed": 1,
}
_CHUNK = 500  # keys per IN (...) query: far below SQLite's and PostgreSQL's parameter limits

_md = sa.MetaData()
documents = sa.Table(
    "registry_documents",
    _md,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("generator", sa.Text),
    sa.Column("generation", sa.Integer),
    sa.Column("created_at", sa.String(64)),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)
bands = sa.Table(
    "registry_bands",
    _md,
    sa.Column("band_idx", sa.SmallInteger, primary_key=True),
    sa.Column("band_hash", sa.BigInteger, primary_key=True),
    sa.Column(
        "doc_hash",
        sa.String(64),
        sa.ForeignKey("registry_documents.hash", ondelete="CASCADE"),
        primary_key=True,
    ),
)
meta = sa.Table(
    "registry_meta",
    _md,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


# -- results ---------------------------------------------------------------------------------
class RegisterCounts(NamedTuple):
    """What :meth:`Registry.register` did: documents stored now, and already present."""

    new: int
    existing: int


@dataclass(frozen=True)
class Match:
    """A registered document that matches query document ``index`` (its position in the input).

    ``kind`` is ``"exact"`` (same normalised text; ``jaccard`` 1.0) or ``"near"`` (estimated
    Jaccard similarity of the shingle sets at least the threshold).
    """

    index: int
    query_id: str | None
    doc_hash: str
    kind: Literal["exact", "near"]
    jaccard: float
    generator: str | None
    generation: int | None
    created_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class RegistryCheck:
    """Consistency report: every document has exactly ``bands`` band rows, no band is orphaned."""

    n_documents: int
    n_band_rows: int
    bands: int
    incomplete: list[str]
    orphan_band_rows: int

    @property
    def ok(self) -> bool:
        return not self.incomplete and self.orphan_band_rows == 0


@dataclass
class _Prepared:
    hashes: list[str]
    normalized: list[str]
    signatures: np.ndarray


# -- the registry ----------------------------------------------------------------------------
class Registry:
    """A database of generated documents, keyed by normalised hash, with MinHash LSH bands.

    ``num_perm``, ``shingle``, ``k``, ``threshold`` and ``seed`` define the signatures of a new
    registry (defaults 128, ``"char"``, 5, 0.8, 1); an existing registry keeps its own, and a
    given value that differs from the stored one is an error. ``batch_size`` documents are
    written per transaction. Use one Registry per process (open it after forking).
    """

    def __init__(
        self,
        url: str | Path,
        *,
        num_perm: int | None = None,
        shingle: str | None = None,
        k: int | None = None,
        threshold: float | None = None,
        seed: int | None = None,
        batch_size: int = 1000,
        busy_timeout_s: float = 60.0,
    ):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidParameterError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self._db = Database(url, busy_timeout_s=busy_timeout_s)
        self.url = self._db.url  # redacted: no password
        requested = {
            "num_perm": num_perm,
            "shingle": shingle,
            "k": k,
            "threshold": threshold,
            "seed": seed,
        }
        self.config = self._open({k_: v for k_, v in requested.items() if v is not None})
        self._hasher = MinHasher(
            shingle=self.config["shingle"],
            k=self.config["k"],
            permutations=(
                np.array(self.config["a"], dtype=np.uint64),
                np.array(self.config["b"], dtype=np.uint64),
            ),
            normalize=False,
        )
        self.bands: int = self.config["bands"]
        self.rows: int = self.config["rows"]
        self.threshold: float = self.config["threshold"]
        log.info("opened registry %s (%d bands x %d rows)", self.url, self.bands, self.rows)

    # -- setup ---------------------------------------------------------------------------------
    def _open(self, requested: dict[str, Any]) -> dict[str, Any]:
        """Create the tables when missing, store or check the signature definition."""

        def txn() -> dict[str, Any]:
            with self._db.transaction(write=True) as conn:
                if conn.dialect.name == "postgresql":
                    # Serialises concurrent first opens: CREATE TABLE IF NOT EXISTS can race.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7236567391)"))
                _md.create_all(conn)
                stored = {r.key: json.loads(r.value) for r in conn.execute(sa.select(meta))}
                if stored:
                    return stored
                cfg = _new_config(requested)
                conn.execute(
                    meta.insert(), [{"key": k, "value": json.dumps(v)} for k, v in cfg.items()]
                )
                return cfg

        cfg = self._db.retrying(txn)
        if cfg.get("schema_version") != SCHEMA_VERSION:
            raise DataError(
                f"expected registry schema version {SCHEMA_VERSION}, got "
                f"{cfg.get('schema_version')!r} in {self.url}"
            )
        if cfg.get("normalization") != NORMALIZATION_VERSION:
            raise DataError(
                f"expected a registry built with normalisation version {NORMALIZATION_VERSION}, "
                f"got version {cfg.get('normalization')!r} in {self.url}"
            )
        for key, value in requested.items():
            if cfg[key] != value:
                raise InvalidParameterError(
                    f"{key}: this registry was built with {cfg[key]!r}, got {value!r}; omit "
                    f"{key} to use the stored value, or use a new registry"
                )
        return cfg

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Registry({self.url!r}, num_perm={c['num_perm']}, shingle={c['shingle']!r}, "
            f"k={c['k']}, threshold={c['threshold']})"
        )

    def close(self) -> None:
        """Release the database connections."""
        self._db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- documents -----------------------------------------------------------------------------
    def _prepare(self, texts: Sequence[str]) -> _Prepared:
        normalized = [normalize(t) for t in texts]
        hashes = [_sha256(n) for n in normalized]
        return _Prepared(hashes, normalized, self._hasher.signatures(normalized))

    def register(
        self,
        docs: Iterable[Document | str],
        *,
        generator: str | None = None,
        generation: int | None = None,
    ) -> RegisterCounts:
        """Store documents not registered yet; returns ``(new, existing)`` counts.

        ``generator``, ``generation`` and ``created_at`` come from each Document's
        ``metadata["provenance"]``; the keyword arguments fill in what a document lacks (plain
        strings take them as given). Registering a text twice, in one call or many, stores it
        once. Each batch of ``batch_size`` documents is one transaction.
        """
        new = existing = 0
        batch: list[tuple[str, dict[str, Any]]] = []
        for i, doc in enumerate(docs):
            batch.append(_describe(doc, i, generator, generation))
            if len(batch) == self.batch_size:
                n = self._register_batch(batch)
                new, existing = new + n, existing + len(batch) - n
                batch = []
        if batch:
            n = self._register_batch(batch)
            new, existing = new + n, existing + len(batch) - n
        log.info("registry %s: %d new, %d already registered", self.url, new, existing)
        return RegisterCounts(new, existing)

    def _register_batch(self, batch: list[tuple[str, dict[str, Any]]]) -> int:
        prepared = self._prepare([text for text, _ in batch])
        keys = band_hashes(prepared.signatures, self.bands, self.rows)
        rows: dict[str, dict[str, Any]] = {}
        band_rows: dict[str, list[dict[str, Any]]] = {}
        for j, (h, (_, info)) in enumerate(zip(prepared.hashes, batch, strict=True)):
            if h in rows:
                continue  # the same normalised text twice in one batch: store it once
            rows[h] = {
                "hash": h,
                "text": batch[j][0],  # as generated; the key is its normalised form
                "signature": prepared.signatures[j].astype("<u4").tobytes(),
                **info,
            }
            band_rows[h] = [
                {"band_idx": b, "band_hash": int(v), "doc_hash": h} for b, v in enumerate(keys[j])
            ]
        ordered = [rows[h] for h in sorted(rows)]  # one lock order for every writer: no deadlock

        def txn() -> int:
            with self._db.transaction(write=True) as conn:
                inserted = self._insert_documents(conn, ordered)
                if inserted:
                    self._insert_bands(conn, [r for h in sorted(inserted) for r in band_rows[h]])
                return len(inserted)

        return self._db.retrying(txn)

    def _insert_documents(self, conn: Any, rows: list[dict[str, Any]]) -> set[str]:
        """INSERT ... ON CONFLICT DO NOTHING; the hashes this transaction inserted."""
        stmt = self._db.insert(documents).on_conflict_do_nothing(index_elements=["hash"])
        return set(conn.execute(stmt.returning(documents.c.hash), rows).scalars())

    def _insert_bands(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        conn.execute(bands.insert(), rows)

    # -- lookup ----------------------------------------------------------------------------------
    def lookup(
        self,
        docs: Iterable[Document | str],
        *,
        threshold: float | None = None,
        near: bool = True,
    ) -> list[Match]:
        """Exact and near-duplicate matches of each document, sorted by input position.

        Per document: the exact match first (if any), then near duplicates by decreasing
        estimated Jaccard. ``threshold`` defaults to the registry's; candidates come from the
        LSH bands tuned for the registry's threshold, so recall falls for a lower one.
        ``near=False`` only looks for exact matches.
        """
        thr = self.threshold if threshold is None else float(threshold)
        if not 0.0 <= thr <= 1.0:
            raise InvalidParameterError(f"threshold: expected a value in [0, 1], got {threshold!r}")
        items = [_query(doc, i) for i, doc in enumerate(docs)]
        if not items:
            return []
        prepared = self._prepare([text for _, text in items])
        with self._db.transaction(write=False) as conn:
            exact = self._fetch(conn, set(prepared.hashes), signature=False)
            candidates: list[set[str]] = [set() for _ in items]
            if near:
                keys = band_hashes(prepared.signatures, self.bands, self.rows)
                owners = self._band_owners(conn, keys)
                for i, row in enumerate(keys):
                    for b, v in enumerate(row):
                        candidates[i].update(owners.get((b, int(v)), ()))
                    candidates[i].discard(prepared.hashes[i])
            found = self._fetch(conn, set().union(*candidates), signature=True) if near else {}
        matches: list[Match] = []
        for i, (qid, _) in enumerate(items):
            h = prepared.hashes[i]
            if h in exact:
                matches.append(_match(i, qid, exact[h], "exact", 1.0))
            near_i = [found[c] for c in candidates[i] if c in found]
            if not near_i:
                continue
            sigs = np.stack([np.frombuffer(r.signature, dtype="<u4") for r in near_i])
            est = estimated_jaccard(sigs, np.broadcast_to(prepared.signatures[i], sigs.shape))
            ranked = sorted(
                zip(est.tolist(), near_i, strict=True), key=lambda t: (-t[0], t[1].hash)
            )
            matches.extend(_match(i, qid, r, "near", j) for j, r in ranked if j >= thr)
        return matches

    def _fetch(self, conn: Any, hashes: set[str], *, signature: bool) -> dict[str, Any]:
        cols = [documents.c.hash, documents.c.generator, documents.c.generation]
        cols.append(documents.c.created_at)
        if signature:
            cols.append(documents.c.signature)
        out: dict[str, Any] = {}
        keys = sorted(hashes)
        for lo in range(0, len(keys), _CHUNK):
            stmt = sa.select(*cols).where(documents.c.hash.in_(keys[lo : lo + _CHUNK]))
            out.update((r.hash, r) for r in conn.execute(stmt))
        return out

    def _band_owners(self, conn: Any, keys: np.ndarray) -> dict[tuple[int, int], list[str]]:
        pairs = sorted({(b, int(v)) for row in keys for b, v in enumerate(row)})
        owners: dict[tuple[int, int], list[str]] = defaultdict(list)
        key_cols = sa.tuple_(bands.c.band_idx, bands.c.band_hash)
        for lo in range(0, len(pairs), _CHUNK):
            stmt = sa.select(bands.c.band_idx, bands.c.band_hash, bands.c.doc_hash).where(
                key_cols.in_(pairs[lo : lo + _CHUNK])
            )
            for b, v, h in conn.execute(stmt):
                owners[(b, v)].append(h)
        return owners

    # -- inspection ------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._db.transaction(write=False) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar())

    def get(self, doc_hash: str) -> dict[str, Any] | None:
        """The stored record of one document (normalised text, generator, generation, ...)."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(sa.select(documents).where(documents.c.hash == doc_hash)).first()
        if row is None:
            return None
        record = dict(row._mapping)
        record["signature"] = np.frombuffer(record["signature"], dtype="<u4").copy()
        return record

    def check(self) -> RegistryCheck:
        """Verify that every document has all its band rows and no band row is orphaned."""
        with self._db.transaction(write=False) as conn:
            n_docs = conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar()
            n_bands = conn.execute(sa.select(sa.func.count()).select_from(bands)).scalar()
            per_doc = (
                sa.select(documents.c.hash)
                .select_from(documents.outerjoin(bands, bands.c.doc_hash == documents.c.hash))
                .group_by(documents.c.hash)
                .having(sa.func.count(bands.c.doc_hash) != self.bands)
            )
            incomplete = sorted(conn.execute(per_doc).scalars())
            orphans = conn.execute(
                sa.select(sa.func.count())
                .select_from(bands)
                .where(~bands.c.doc_hash.in_(sa.select(documents.c.hash)))
            ).scalar()
        return RegistryCheck(int(n_docs), int(n_bands), self.bands, incomplete, int(orphans))


# -- helpers -----------------------------------------------------------------------------------
def _new_config(requested: dict[str, Any]) -> dict[str, Any]:
    cfg = {**_DEFAULTS, **requested}
    hasher = MinHasher(
        num_perm=cfg["num_perm"], shingle=cfg["shingle"], k=cfg["k"], seed=cfg["seed"]
    )
    threshold = cfg["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidParameterError(f"threshold: expected a number in (0, 1), got {threshold!r}")
    n_bands, n_rows = optimal_bands(float(threshold), hasher.num_perm)
    return {
        "schema_version": SCHEMA_VERSION,
        "normalization": NORMALIZATION_VERSION,
        "num_perm": hasher.num_perm,
        "shingle": hasher.shingle,
        "k": hasher.k,
        "threshold": float(threshold),
        "seed": cfg["seed"],
        "bands": n_bands,
        "rows": n_rows,
        "a": hasher.a.tolist(),
        "b": hasher.b.tolist(),
    }


def _sha256(normalized: str) -> str:
    import hashlib

    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()


def _describe(
    doc: Document | str, index: int, generator: str | None, generation: int | None
) -> tuple[str, dict[str, Any]]:
    """The text to register and its row fields (generator, generation, created_at)."""
    prov: dict[str, Any] = {}
    if isinstance(doc, Document):
        text = doc.text
        value = doc.metadata.get("provenance")
        prov = value if isinstance(value, dict) else {}
    elif isinstance(doc, str):
        text = doc
    else:
        raise InvalidParameterError(
            f"document {index}: expected a Document or str, got {type(doc).__name__}"
        )
    if not isinstance(text, str):
        raise InvalidParameterError(
            f"document {index}: expected str text, got {type(text).__name__}"
        )
    gen = prov.get("generator") or generator
    generation_ = prov.get("generation")
    generation_ = generation if generation_ is None else generation_
    if generation_ is not None and (
        isinstance(generation_, bool) or not isinstance(generation_, int | np.integer)
    ):
        raise InvalidParameterError(
            f"document {index}: expected an integer generation, got {generation_!r}"
        )
    created = prov.get("created_at") or datetime.now(UTC).isoformat(timespec="seconds")
    return text, {
        "generator": None if gen is None else str(gen),
        "generation": None if generation_ is None else int(generation_),
        "created_at": str(created),
    }


def _query(doc: Document | str, index: int) -> tuple[str | None, str]:
    if isinstance(doc, Document) and isinstance(doc.text, str):
        return doc.id, doc.text
    if isinstance(doc, str):
        return None, doc
    raise InvalidParameterError(
        f"document {index}: expected a Document or str, got {type(doc).__name__}"
    )


def _match(
    index: int, qid: str | None, row: Any, kind: Literal["exact", "near"], j: float
) -> Match:
    return Match(
        index, qid, row.hash, kind, float(j), row.generator, row.generation, row.created_at
    )
