"""The SQLite embedding cache: hits and misses, corruption detection, concurrent writers."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.embeddings import EmbeddingCache, cache_key, embed_texts
from tests.embeddings.fakes import CountingEncoder, vector_for

ROOT = Path(__file__).resolve().parents[2]


def key(text: str) -> bytes:
    return cache_key("fake", "f" * 64, text)


def fill(directory: Path, n: int, dim: int = 16) -> dict[bytes, np.ndarray]:
    vectors = {key(f"text {i}"): vector_for(f"text {i}", dim) for i in range(n)}
    with EmbeddingCache(directory) as cache:
        cache.put(vectors.items())
    return vectors


def test_cache_key_depends_on_text_name_and_fingerprint():
    base = cache_key("m", "fp", "text")
    assert len(base) == 32
    assert base == cache_key("m", "fp", "text")
    assert len({base, cache_key("m", "fp", "text "), cache_key("m2", "fp", "text")}) == 3
    assert base != cache_key("m", "fp2", "text")
    # The separator keeps (name, text) boundaries unambiguous.
    assert cache_key("a", "fp", "bc") != cache_key("ab", "fp", "c")


def test_put_then_get_hits_and_misses(tmp_path):
    vectors = fill(tmp_path, 50)
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == 50
        asked = [*list(vectors)[:10], key("never stored")]
        found = cache.get(asked)
    assert set(found) == set(asked[:10])
    for k in asked[:10]:
        assert found[k].dtype == np.float32
        np.testing.assert_array_equal(found[k], vectors[k])


def test_get_handles_more_keys_than_one_sql_query(tmp_path):
    vectors = fill(tmp_path, 2500, dim=4)
    with EmbeddingCache(tmp_path) as cache:
        found = cache.get(list(vectors))
    assert len(found) == 2500


def test_first_vector_stored_for_a_key_is_kept(tmp_path):
    k = key("same text")
    with EmbeddingCache(tmp_path) as cache:
        cache.put([(k, np.ones(4))])
        cache.put([(k, np.zeros(4))])
        assert len(cache) == 1
        np.testing.assert_array_equal(cache.get([k])[k], np.ones(4, dtype=np.float32))


def _tamper(path: Path, k: bytes, sql: str, make) -> None:
    con = sqlite3.connect(path)
    dim, vec, digest = con.execute(
        "SELECT dim, vec, digest FROM vectors WHERE key = ?", (k,)
    ).fetchone()
    con.execute(sql, (make(dim, bytes(vec), bytes(digest)), k))
    con.commit()
    con.close()


@pytest.mark.parametrize(
    ("sql", "make"),
    [
        # one value inside the vector changed
        ("UPDATE vectors SET vec = ? WHERE key = ?", lambda d, v, g: b"\0\0\0\0" + v[4:]),
        # a single bit flipped
        (
            "UPDATE vectors SET vec = ? WHERE key = ?",
            lambda d, v, g: v[:9] + bytes([v[9] ^ 1]) + v[10:],
        ),
        # truncated vector
        ("UPDATE vectors SET vec = ? WHERE key = ?", lambda d, v, g: v[:20]),
        # the column now holds TEXT that is not UTF-8
        (
            "UPDATE vectors SET vec = CAST(? AS TEXT) WHERE key = ?",
            lambda d, v, g: b"\xff\xfe" * 32,
        ),
        # dimension field disagrees with the bytes
        ("UPDATE vectors SET dim = ? WHERE key = ?", lambda d, v, g: d // 2),
        ("UPDATE vectors SET dim = ? WHERE key = ?", lambda d, v, g: "sixteen"),
        # digest damaged
        ("UPDATE vectors SET digest = ? WHERE key = ?", lambda d, v, g: bytes(16)),
    ],
    ids=["value", "bit", "truncated", "text", "dim", "dim-text", "digest"],
)
def test_corrupt_row_is_a_miss_and_is_deleted(tmp_path, sql, make):
    vectors = fill(tmp_path, 5)
    victim = key("text 2")
    _tamper(tmp_path / "embeddings.sqlite", victim, sql, make)
    with EmbeddingCache(tmp_path) as cache:
        with pytest.warns(RuntimeWarning, match="1 corrupt embedding row"):
            found = cache.get(list(vectors))
        assert victim not in found and len(found) == 4
        assert cache.corrupt_rows == 1
        assert len(cache) == 4
        cache.put([(victim, vectors[victim])])
        np.testing.assert_array_equal(cache.get([victim])[victim], vectors[victim])


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty-header"])
def test_unreadable_file_is_detected_and_rebuilt(tmp_path, damage):
    vectors = fill(tmp_path, 300)
    db = tmp_path / "embeddings.sqlite"
    data = db.read_bytes()
    if damage == "truncate":
        db.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        db.write_bytes(b"this is not a database" * 200)
    else:
        db.write_bytes(b"\x00" * 100 + data[100:])
    with pytest.warns(RuntimeWarning, match="rebuilt it empty"), EmbeddingCache(tmp_path) as cache:
        found = cache.get(list(vectors))
        assert found == {}
        assert cache.rebuilt == 1
        cache.put(list(vectors.items())[:3])
        assert len(cache) == 3


@settings(max_examples=30, deadline=None)
@given(
    offset=st.floats(0.0, 0.99),
    junk=st.binary(min_size=1, max_size=600),
)
def test_damaged_bytes_never_yield_a_wrong_vector(offset, junk):
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        vectors = fill(directory, 120)
        db = directory / "embeddings.sqlite"
        data = bytearray(db.read_bytes())
        start = int(offset * len(data))
        data[start : start + len(junk)] = junk
        db.write_bytes(bytes(data[: max(len(data), 1)]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with EmbeddingCache(directory) as cache:
                found = cache.get(list(vectors))
    for k, vec in found.items():
        np.testing.assert_array_equal(vec, vectors[k])


def test_unwritable_cache_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    from modelcollapse.errors import DataError

    with pytest.raises(DataError, match="expected a writable embedding cache directory"):
        EmbeddingCache(blocker / "sub").open()


_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from modelcollapse.embeddings import embed_texts
from tests.embeddings.fakes import CountingEncoder

me, other, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
directory = Path({directory!r})
(directory / f"ready-{{me}}").touch()
while not (directory / f"ready-{{other}}").exists():  # start both writers together
    time.sleep(0.001)


class Slow(CountingEncoder):
    def encode(self, texts):
        time.sleep(0.001)  # spread the 300 transactions so the two writers interleave
        return super().encode(texts)


texts = [f"text {{i}}" for i in range(start, stop)]
embed_texts(texts, model=Slow(), cache_dir=directory, batch_size=5)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    script = _WRITER.format(root=str(ROOT), directory=str(tmp_path))
    procs = [
        subprocess.Popen([sys.executable, "-c", script, "a", "b", "0", "1500"]),
        subprocess.Popen([sys.executable, "-c", script, "b", "a", "500", "2000"]),
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    texts = [f"text {i}" for i in range(2000)]
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == 2000
    # The writers really ran at once: in insertion (rowid) order, rows only process a writes
    # (texts 0-499) and rows only b writes (1500-1999) alternate more than once.
    owner = {key(f"text {i}"): "a" for i in range(500)}
    owner.update({key(f"text {i}"): "b" for i in range(1500, 2000)})
    con = sqlite3.connect(tmp_path / "embeddings.sqlite")
    order = [
        owner[bytes(k)]
        for (k,) in con.execute("SELECT key FROM vectors ORDER BY rowid")
        if bytes(k) in owner
    ]
    con.close()
    switches = sum(x != y for x, y in itertools.pairwise(order))
    assert switches >= 2
    enc = CountingEncoder()
    out = embed_texts(texts, model=enc, cache_dir=tmp_path)
    assert enc.calls == 0
    np.testing.assert_array_equal(out, np.stack([vector_for(t) for t in texts]))
