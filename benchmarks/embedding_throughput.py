"""Sentence-embedding throughput on KJV verses: embed_texts against sentence-transformers itself.

The peer is what a user would write without us: ``SentenceTransformer(folder).encode(texts,
batch_size=64)`` on the same packaged all-MiniLM-L6-v2 folder, same texts, same process. Ours is
``embed_texts`` cold (empty cache: the model runs, plus hashing and SQLite writes) and warm (the
same texts again: cache hits only, the model never runs). The script prints verses/s for each,
the ratios to the peer, and the largest difference between the two sets of vectors.

Run: .venv/bin/python benchmarks/embedding_throughput.py [--verses 1000] [--batch-size 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from modelcollapse.data.bundled import kjv
from modelcollapse.embeddings import embed_texts, load_encoder, packaged_model_path


def verses(n: int) -> list[str]:
    """``n`` verses spread evenly over the whole Bible (not just Genesis)."""
    docs = kjv()
    step = max(1, len(docs) // n)
    return [d.text for d in docs[::step][:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verses", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = verses(args.verses)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from sentence_transformers import SentenceTransformer

    t = time.perf_counter()
    peer_model = SentenceTransformer(str(packaged_model_path()), local_files_only=True)
    load_s = time.perf_counter() - t
    load_encoder().dim  # load ours too, outside the timings  # noqa: B018
    peer_model.encode(texts[:64], batch_size=args.batch_size)  # warm-up both
    embed_texts(texts[:64], cache_dir=Path(tempfile.mkdtemp()))

    print(
        f"{len(texts)} KJV verses ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
        f"batch {args.batch_size}, torch threads {torch.get_num_threads()}"
    )
    print(f"model load: {load_s:.1f} s; best of {args.repeats} alternating runs")
    peer_s = cold_s = warm_s = float("inf")
    for _ in range(args.repeats):
        # Alternate peer and ours so that load from other processes hits both alike.
        t = time.perf_counter()
        peer = peer_model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True)
        peer_s = min(peer_s, time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            cold = embed_texts(texts, cache_dir=Path(tmp), batch_size=args.batch_size)
            cold_s = min(cold_s, time.perf_counter() - t)
            t = time.perf_counter()
            warm = embed_texts(texts, cache_dir=Path(tmp), batch_size=args.batch_size)
            warm_s = min(warm_s, time.perf_counter() - t)
        assert np.array_equal(cold, warm)

    n = len(texts)
    print(f"sentence-transformers encode : {n / peer_s:9.0f} verses/s ({peer_s:.2f} s)")
    print(f"embed_texts, cold cache      : {n / cold_s:9.0f} verses/s ({cold_s:.2f} s)")
    print(f"embed_texts, warm cache      : {n / warm_s:9.0f} verses/s ({warm_s:.3f} s)")
    print(f"cold / peer speed: {peer_s / cold_s:.2f}x   warm / peer speed: {peer_s / warm_s:.0f}x")
    print(f"max |ours - peer| = {np.abs(cold - peer).max():.2e}")


if __name__ == "__main__":
    main()
