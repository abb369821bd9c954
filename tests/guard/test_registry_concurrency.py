"""Registry under concurrency and crashes, on SQLite and PostgreSQL.

- Four processes open a brand-new registry at the same moment and register overlapping batches:
  nothing is lost, nothing is stored twice, and the (new, existing) counts add up.
- A process SIGKILLed in the middle of a batch (document rows and half of the band rows written,
  transaction open) leaves the database consistent: the batch is absent, the rest intact, and
  registering it again works.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from modelcollapse.guard.normalize import normalized_hash
from modelcollapse.guard.registry import Registry

N_WORKERS = 4


def _corpus(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = np.array(
        [
            "the",
            "of",
            "and",
            "to",
            "in",
            "a",
            "is",
            "that",
            "for",
            "it",
            "as",
            "was",
            "with",
            "be",
            "by",
            "on",
            "not",
            "he",
        ]
    )
    return [f"doc {i}: " + " ".join(rng.choice(words, size=12)) for i in range(n)]


def _worker(url: str, texts: list[str], barrier, results) -> None:
    barrier.wait(timeout=120)  # everyone creates the schema and writes at the same moment
    with Registry(url, batch_size=15) as reg:
        results.put(tuple(reg.register(texts)))


def _collect(procs, results) -> list[tuple[int, int]]:
    """Each worker's counts; fails fast when a worker dies instead of reporting."""
    counts: list[tuple[int, int]] = []
    deadline = time.monotonic() + 180
    while len(counts) < len(procs):
        try:
            counts.append(results.get(timeout=0.2))
        except queue.Empty:
            failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if failed:
                pytest.fail(f"a worker failed with exit code {failed[0]}")
            if time.monotonic() > deadline:
                pytest.fail("workers did not finish in 180 s")
    return counts


@pytest.mark.slow
def test_four_processes_lose_and_duplicate_nothing(db_url):
    corpus = _corpus(400)
    rng = np.random.default_rng(1)
    jobs = []
    for w in range(N_WORKERS):
        # Overlapping windows, shuffled, with some in-batch repeats and case variants.
        chunk = corpus[w * 80 : w * 80 + 160]
        chunk = chunk + [t.upper() for t in chunk[:10]]
        jobs.append([chunk[i] for i in rng.permutation(len(chunk))])
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(N_WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(db_url, job, barrier, results)) for job in jobs]
    for p in procs:
        p.start()
    counts = _collect(procs, results)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    distinct = {normalized_hash(t) for job in jobs for t in job}
    assert sum(c[0] for c in counts) == len(distinct)  # each text stored by exactly one writer
    assert sum(c[0] + c[1] for c in counts) == sum(len(j) for j in jobs)
    with Registry(db_url) as reg:
        assert len(reg) == len(distinct)
        report = reg.check()
        assert report.ok and report.n_band_rows == len(distinct) * reg.bands
        found = {m.doc_hash for m in reg.lookup(sorted({t for j in jobs for t in j}), near=False)}
        assert found == distinct


def _backend(reg: Registry) -> object:
    """The server process behind the pooled connection (PostgreSQL), else None."""
    if reg._db.dialect != "postgresql":
        return None
    with reg._db.transaction(write=False) as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _forked_register(reg: Registry, texts: list[str], results) -> None:
    backend = _backend(reg)
    results.put((tuple(reg.register(texts)), backend))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_registry_inherited_through_fork_opens_its_own_connections(db_url):
    texts = _corpus(30)
    with Registry(db_url) as reg:
        assert reg.register(texts[:10]) == (10, 0)  # the parent's pool holds a connection now
        parent_backend = _backend(reg)
        ctx = mp.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_forked_register, args=(reg, texts, results))
        child.start()
        child.join(timeout=120)
        assert child.exitcode == 0
        counts, child_backend = results.get(timeout=5)
        assert counts == (20, 10)
        # A shared socket would interleave two processes' protocol messages on one session.
        assert parent_backend is None or child_backend != parent_backend
        assert _backend(reg) == parent_backend  # the parent kept its own session
        assert len(reg) == 30 and reg.check().ok


_KILLED_CHILD = textwrap.dedent(
    """
    import pathlib, sys, time
    from modelcollapse.guard.registry import Registry

    url, marker, n_first = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
    texts = sys.stdin.read().split("\\n")
    reg = Registry(url, batch_size=len(texts))
    reg.register(texts[:n_first])                     # committed
    original = Registry._insert_bands

    def stall(self, conn, rows):                      # inside the next batch's transaction:
        original(self, conn, rows[: len(rows) // 2])  # documents and half their bands written
        marker.write_text("in transaction")
        time.sleep(300)

    Registry._insert_bands = stall
    reg.register(texts[n_first:])
    """
)


def test_sigkill_mid_batch_leaves_the_database_consistent(db_url, tmp_path):
    texts = _corpus(1200)
    n_first = 200
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, db_url, str(marker), str(n_first)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        child.stdin.write("\n".join(texts))
        child.stdin.close()
        deadline = time.monotonic() + 180
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child exited early: {child.stderr.read()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("child never reached the middle of its batch")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()

    with Registry(db_url) as reg:
        report = reg.check()
        assert report.ok, report
        assert len(reg) == n_first and report.n_band_rows == n_first * reg.bands
        assert len(reg.lookup(texts[n_first:], near=False)) == 0
        assert reg.register(texts) == (len(texts) - n_first, n_first)
        report = reg.check()
        assert report.ok and report.n_documents == len(texts)
