"""Inputs larger than the memory available: measure streams them (issue 3, "Commands").

A subprocess caps its address space (RLIMIT_AS) at what it uses after importing, plus 64 MiB,
and measures a 20 MB generated text file (about 150,000 documents). Streaming must succeed;
reading the same file whole (``read_data``, as a loader without streaming would) must fail
under the same cap, which shows the cap binds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux"),
]

SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from modelcollapse.data.readers import read_data
    from modelcollapse.measure.files import measure_files

    page = resource.getpagesize()
    used = int(open("/proc/self/statm").read().split()[0]) * page
    cap = used + 64 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    if sys.argv[3] == "stream":
        r = measure_files(sys.argv[1], sys.argv[2], rng=0, metrics=["vocab_size", "entropy",
                          "rare_recall"], max_records=1000, n_boot=20)
        print(r.verdict, r.n_candidate_total, r.metrics["vocab_size"].full_candidate)
    else:
        try:
            docs, _ = read_data(sys.argv[2], "text")
            print("loaded", len(docs))
        except MemoryError:
            print("MemoryError")
    """
)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory, verses):
    path = tmp_path_factory.mktemp("big") / "big.txt"
    block = ("\n".join(verses) + "\n").encode("utf-8")
    with open(path, "wb") as fh:
        written = 0
        while written < 20 * 10**6:
            fh.write(block)
            written += len(block)
    ref = path.with_name("ref.txt")
    # Every 10th verse: a sample of the whole KJV, like the candidate, so healthy is the right
    # answer (the first 3,000 verses, Genesis and Exodus, are a shifted reference whose rare
    # words the whole Bible recalls less often).
    ref.write_text("\n".join(verses[::10]) + "\n", encoding="utf-8")
    return ref, path, 5 * len(verses)


def run(ref, path, mode):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ref), str(path), mode],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_streaming_stays_within_the_cap(big_file):
    ref, path, n_docs = big_file
    out = run(ref, path, "stream")
    assert out.returncode == 0, out.stderr[-2000:]
    verdict, n, vocab = out.stdout.split()
    assert verdict == "healthy" and int(n) == n_docs
    assert float(vocab) > 10_000  # the whole KJV vocabulary, streamed


def test_reading_the_file_whole_does_not_fit(big_file):
    ref, path, _ = big_file
    out = run(ref, path, "whole")
    assert "MemoryError" in out.stdout or out.returncode != 0
