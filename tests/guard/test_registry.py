"""Registry on SQLite and PostgreSQL: idempotent registration, exact and near-duplicate lookup
with estimated Jaccard, a stored signature definition, consistency checks, redacted URLs."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.data.document import Document, provenance
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.minhash import MinHasher
from modelcollapse.guard.normalize import normalized_hash
from modelcollapse.guard.registry import Registry, redact

VERSES = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And God said, Let there be light: and there was light.",
    "And God saw the light, that it was good: and God divided the light from the darkness.",
    "And God called the light Day, and the darkness he called Night.",
]


def _doc(i: int, text: str, generator: str = "ngram", generation: int = 3) -> Document:
    prov = provenance(text, source="synthetic", generator=generator, generation=generation)
    return Document(f"q{i}", text, {"provenance": prov})


def test_register_is_idempotent(db_url):
    with Registry(db_url, batch_size=2) as reg:
        assert reg.register(VERSES) == (5, 0)
        assert reg.register(VERSES) == (0, 5)
        # Surface variants normalise to the same key; duplicates inside one call count once.
        variants = [VERSES[0].upper(), "  " + VERSES[1].replace(",", " ,"), "new text", "New text!"]
        assert reg.register(variants) == (1, 3)
        assert len(reg) == 6
        assert reg.check().ok


def test_provenance_fields_are_stored(db_url):
    with Registry(db_url) as reg:
        reg.register([_doc(0, VERSES[0], "hf", 7), VERSES[1]], generator="fallback", generation=1)
        first = reg.get(normalized_hash(VERSES[0]))
        second = reg.get(normalized_hash(VERSES[1]))
        assert (first["generator"], first["generation"], first["text"]) == ("hf", 7, VERSES[0])
        assert (second["generator"], second["generation"]) == ("fallback", 1)
        assert first["signature"].dtype == np.uint32 and first["signature"].size == 128
        assert reg.get("0" * 64) is None


def test_lookup_finds_exact_and_near_duplicates(db_url):
    with Registry(db_url) as reg:
        reg.register([_doc(i, v) for i, v in enumerate(VERSES)])
        queries = [
            Document("exact", VERSES[0].upper().replace(".", " !")),
            Document("near", VERSES[1].replace("darkness", "darknes")),  # a typo
            Document("far", "A completely unrelated sentence about cooking pasta."),
        ]
        matches = reg.lookup(queries)
        by_query = {m.query_id: m for m in matches}
        assert set(by_query) == {"exact", "near"}
        assert by_query["exact"].kind == "exact" and by_query["exact"].jaccard == 1.0
        assert by_query["exact"].doc_hash == normalized_hash(VERSES[0])
        assert by_query["exact"].generator == "ngram" and by_query["exact"].generation == 3
        near = by_query["near"]
        assert near.kind == "near" and near.index == 1
        assert near.doc_hash == normalized_hash(VERSES[1])
        # The estimate is within binomial noise of the exact Jaccard of the shingle sets.
        hasher = MinHasher(shingle="char", k=5)
        a = set(hasher.shingle_hashes(VERSES[1]).tolist())
        b = set(hasher.shingle_hashes(queries[1].text).tolist())
        exact_j = len(a & b) / len(a | b)
        assert abs(near.jaccard - exact_j) < 4 * np.sqrt(exact_j * (1 - exact_j) / 128)
        assert reg.lookup(queries, near=False) == [by_query["exact"]]
        assert reg.lookup([]) == []
        # A threshold above the estimate drops the near match, never the exact one.
        assert {m.kind for m in reg.lookup(queries, threshold=1.0)} == {"exact"}


def test_near_matches_are_ranked_and_exclude_the_exact_one(db_url):
    base = "the quick brown fox jumps over the lazy dog near the quiet river bank today"
    variants = [base, base + " again", base.replace("lazy", "sleepy")]
    with Registry(db_url, threshold=0.5) as reg:
        reg.register(variants)
        matches = reg.lookup([base])
        assert [m.kind for m in matches] == ["exact", "near", "near"]
        assert matches[0].doc_hash == normalized_hash(base)
        assert matches[1].jaccard >= matches[2].jaccard >= 0.5
        assert normalized_hash(base) not in {m.doc_hash for m in matches[1:]}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(max_size=30), max_size=12))
def test_every_registered_text_finds_itself(tmp_path_factory, texts):
    url = f"sqlite:///{tmp_path_factory.mktemp('h') / 'r.db'}"
    with Registry(url, batch_size=5) as reg:
        counts = reg.register(texts)
        distinct = {normalized_hash(t) for t in texts}
        assert counts == (len(distinct), len(texts) - len(distinct))
        exact = [m for m in reg.lookup(texts) if m.kind == "exact"]
        assert [m.index for m in exact] == list(range(len(texts)))
        assert all(m.doc_hash == normalized_hash(t) for m, t in zip(exact, texts, strict=True))
        assert reg.check().ok


def test_definition_is_stored_and_enforced(db_url):
    with Registry(db_url, num_perm=64, shingle="word", k=2, threshold=0.7, seed=9) as reg:
        reg.register(VERSES)
        stored = reg.get(normalized_hash(VERSES[0]))["signature"]
        assert (reg.bands, reg.rows) == (8, 8)
    with Registry(db_url) as again:  # no parameters: the stored definition
        assert again.config["num_perm"] == 64 and again.config["shingle"] == "word"
        assert again.lookup([VERSES[0]])[0].kind == "exact"
        expected = MinHasher(num_perm=64, shingle="word", k=2, seed=9).signature(VERSES[0])
        np.testing.assert_array_equal(stored, expected)
    with Registry(db_url, num_perm=64, k=2) as same:
        assert len(same) == 5
    with pytest.raises(InvalidParameterError, match="num_perm: this registry was built with 64"):
        Registry(db_url, num_perm=128)
    with pytest.raises(InvalidParameterError, match="shingle"):
        Registry(db_url, shingle="char")


def test_check_detects_a_missing_band_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Registry(url) as reg:
        reg.register(VERSES[:2])
        assert reg.check().ok
        with reg._db.engine.begin() as conn:
            conn.exec_driver_sql(
                "DELETE FROM registry_bands WHERE band_idx = 0 AND doc_hash = ?",
                (normalized_hash(VERSES[0]),),
            )
        report = reg.check()
        assert not report.ok and report.incomplete == [normalized_hash(VERSES[0])]
        assert report.n_documents == 2 and report.n_band_rows == 2 * reg.bands - 1


def test_bad_input_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with Registry(url) as reg:
        with pytest.raises(InvalidParameterError, match="document 1: expected a Document or str"):
            reg.register(["ok", 3])  # type: ignore[list-item]
        bad = Document("x", "t", {"provenance": {"generation": "seven"}})
        with pytest.raises(InvalidParameterError, match="integer generation"):
            reg.register([bad])
        with pytest.raises(InvalidParameterError, match="threshold"):
            reg.lookup(["t"], threshold=1.5)
        assert len(reg) == 0  # nothing half-registered
    with pytest.raises(InvalidParameterError, match="sqlite or postgresql"):
        Registry("mysql://u:pw@h/db")
    with pytest.raises(InvalidParameterError, match="existing folder"):
        Registry(f"sqlite:///{tmp_path / 'missing' / 'r.db'}")
    with pytest.raises(InvalidParameterError, match="batch_size"):
        Registry(url, batch_size=0)
    with pytest.raises(InvalidParameterError, match="threshold"):
        Registry(f"sqlite:///{tmp_path / 'new.db'}", threshold=1.0)


def test_plain_paths_and_memory_databases_work(tmp_path):
    with Registry(tmp_path / "r.db") as reg:
        reg.register(VERSES[:1])
    assert (tmp_path / "r.db").exists()
    with Registry("sqlite://") as mem:
        assert mem.register(VERSES) == (5, 0) and len(mem) == 5


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://user:s3cret@db.example:5432/reg",
            "postgresql://user:***@db.example:5432/reg",
        ),
        ("postgresql://user:p%40ss@h/db", "postgresql://user:***@h/db"),
        (
            "postgresql://h/db?password=s3cret&sslmode=require",
            "postgresql://h/db?password=***&sslmode=require",
        ),
        ("postgresql://user@h/db", "postgresql://user@h/db"),
        ("sqlite:////tmp/r.db", "sqlite:////tmp/r.db"),
        ("postgresql://user:s3cret@h:notaport/db", "postgresql://user:***@h:notaport/db"),
        ("weird s3cret string", "weird s3cret string"),  # not a URL: nothing to find
        ("x://u:s3cret@h/?token=s3cret", "x://u:***@h/?token=***"),
    ],
)
def test_redact(url, expected):
    assert redact(url) == expected
    if "://" in url:
        assert "s3cret" not in redact(url) and "p%40ss" not in redact(url)


def test_passwords_never_reach_logs_repr_or_errors(caplog):
    url = "postgresql://user:s3cret-pw@127.0.0.1:1/nowhere?connect_timeout=2"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidParameterError) as info:
        Registry(url)
    assert "s3cret-pw" not in str(info.value) and "user:***@" in str(info.value)
    assert "s3cret-pw" not in caplog.text
    with pytest.raises(InvalidParameterError) as info:
        Registry("postgresql://user:s3cret-pw@h:port/db")
    assert "s3cret-pw" not in str(info.value)


def test_postgres_repr_and_logs_hide_the_real_password(postgres_schema_url, caplog):
    caplog.set_level(logging.DEBUG)
    secret = sa.engine.make_url(postgres_schema_url).password
    with Registry(postgres_schema_url) as reg:
        reg.register(VERSES)
        text = repr(reg) + reg.url + caplog.text
    assert secret and secret not in text and "***" in repr(reg)
