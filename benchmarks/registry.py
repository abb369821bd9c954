"""Registry throughput and recall: our numpy MinHash + database LSH against datasketch.

Three measurements on King James Bible verses (character 5-gram shingles of the normalised
text, 128 permutations, threshold 0.8, the same bands and rows on both sides):

1. **Signatures.** Ours: :meth:`MinHasher.signatures` over the whole batch (shingle hashing and
   permutations as array operations). Peer: ``datasketch.MinHash.bulk`` over the same shingles
   as UTF-8 bytes (its default SHA-1 shingle hash, affine32 permutations), the usual way to use
   it. The shingle hashes differ, so the signatures differ; both estimate the same Jaccard
   similarity, and the script prints the mean |difference| of the two estimates against the
   exact Jaccard on edited pairs.
2. **Register.** Ours: :meth:`Registry.register` into a SQLite file (durable, idempotent,
   normalisation, hashing, signatures, one transaction per 1,000 documents). Peer:
   ``datasketch.MinHashLSH.insert`` in memory (nothing persisted), signatures included.
3. **Lookup.** Each registered verse with one character deleted (near duplicates) plus unseen
   verses. Ours: :meth:`Registry.lookup` (candidates from the band table, estimated Jaccard
   from stored signatures). Peer: ``MinHashLSH.query``. Recall = fraction of edited verses whose
   source is found.

Run: .venv/bin/python benchmarks/registry.py [--docs 10000]
Needs: pip install 'modelcollapse[guard]'
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from modelcollapse.data.bundled import kjv_split
from modelcollapse.guard.minhash import MinHasher, estimated_jaccard
from modelcollapse.guard.normalize import normalize
from modelcollapse.guard.registry import Registry


def shingles(text: str, k: int = 5) -> list[bytes]:
    t = normalize(text)
    if len(t) < k:
        return [t.encode()] if t else []
    return [t[i : i + k].encode() for i in range(len(t) - k + 1)]


def edit(text: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(0, len(text)))
    return text[:i] + text[i + 1 :]


def main() -> None:
    from datasketch import MinHash, MinHashLSH

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=2_000)
    args = ap.parse_args()

    train, held = kjv_split()
    # Distinct normalised texts, so "found its source" is unambiguous.
    seen: dict[str, str] = {}
    for d in train:
        seen.setdefault(normalize(d.text), d.text)
    texts = list(seen.values())[: args.docs]
    rng = np.random.default_rng(0)
    pick = rng.choice(len(texts), size=args.queries // 2, replace=False)
    edited = [edit(texts[i], rng) for i in pick]
    unseen = [d.text for d in held[: args.queries - len(edited)]]
    queries = edited + unseen

    # 1. signatures
    hasher = MinHasher(num_perm=128, shingle="char", k=5)
    t0 = time.perf_counter()
    ours = hasher.signatures(texts)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = MinHash.bulk([shingles(t) for t in texts], num_perm=128)
    t_peer = time.perf_counter() - t0
    print(f"{len(texts)} verses, {sum(len(t) for t in texts):,} characters")
    print(
        f"signatures: ours {t_ours:.3f} s, datasketch MinHash.bulk {t_peer:.3f} s, "
        f"speed ratio {t_peer / t_ours:.1f}x"
    )
    q_ours = hasher.signatures(edited)
    q_peer = MinHash.bulk([shingles(t) for t in edited], num_perm=128)
    exact, err_ours, err_peer = [], [], []
    for j, i in enumerate(pick):
        a, b = set(shingles(texts[i])), set(shingles(edited[j]))
        exact.append(len(a & b) / len(a | b))
        err_ours.append(abs(estimated_jaccard(ours[i], q_ours[j]) - exact[-1]))
        err_peer.append(abs(peer[i].jaccard(q_peer[j]) - exact[-1]))
    print(
        f"edited pairs: mean exact Jaccard {np.mean(exact):.3f}; mean |estimate - exact| "
        f"ours {np.mean(err_ours):.4f}, datasketch {np.mean(err_peer):.4f}"
    )

    # 2. register, 3. lookup
    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(f"sqlite:///{Path(tmp) / 'registry.db'}", threshold=0.8)
        t0 = time.perf_counter()
        reg.register(texts)
        t_reg = time.perf_counter() - t0
        t0 = time.perf_counter()
        matches = reg.lookup(queries)
        t_look = time.perf_counter() - t0
        reg.close()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    t0 = time.perf_counter()
    sigs = MinHash.bulk([shingles(t) for t in texts], num_perm=128)
    with lsh.insertion_session() as session:
        for i, m in enumerate(sigs):
            session.insert(i, m)
    t_lsh_reg = time.perf_counter() - t0
    t0 = time.perf_counter()
    qs = MinHash.bulk([shingles(t) for t in queries], num_perm=128)
    found_peer = [lsh.query(m) for m in qs]
    t_lsh_look = time.perf_counter() - t0

    source = {j: int(i) for j, i in enumerate(pick)}
    from modelcollapse.guard.normalize import normalized_hash

    hashes = [normalized_hash(t) for t in texts]
    hits_ours = {
        m.index for m in matches if m.index in source and m.doc_hash == hashes[source[m.index]]
    }
    hits_peer = {j for j in source if source[j] in found_peer[j]}
    false_ours = len({m.index for m in matches if m.index >= len(edited)})
    false_peer = sum(1 for j in range(len(edited), len(queries)) if found_peer[j])
    print(f"LSH: {reg.bands} bands x {reg.rows} rows (datasketch: {lsh.b} x {lsh.r})")
    print(
        f"register {len(texts)}: ours (SQLite, durable) {t_reg:.2f} s "
        f"({len(texts) / t_reg:,.0f} docs/s), datasketch MinHashLSH (memory) {t_lsh_reg:.2f} s "
        f"({len(texts) / t_lsh_reg:,.0f} docs/s), ratio {t_lsh_reg / t_reg:.2f}x"
    )
    print(
        f"lookup {len(queries)}: ours {t_look:.2f} s ({len(queries) / t_look:,.0f} docs/s), "
        f"datasketch {t_lsh_look:.2f} s ({len(queries) / t_lsh_look:,.0f} docs/s), "
        f"ratio {t_lsh_look / t_look:.2f}x"
    )
    print(
        f"recall on {len(edited)} one-character edits: ours {len(hits_ours) / len(edited):.3f}, "
        f"datasketch {len(hits_peer) / len(edited):.3f}; unseen verses with a match: ours "
        f"{false_ours}, datasketch {false_peer} (of {len(unseen)})"
    )


if __name__ == "__main__":
    main()
