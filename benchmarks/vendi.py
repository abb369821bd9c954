"""Vendi score: our d x d dual form against the n x n eigendecomposition of K/n.

The peer is vendi-score 0.0.3's ``score_K`` on the cosine-similarity matrix ``K = X̂ X̂ᵀ``
(``scipy.linalg.eigvalsh`` of the n x n matrix ``K/n``; the kernel matrix is built outside the
timing, so only the decomposition is timed against our whole call). Ours decomposes the d x d
matrix ``X̂ᵀ X̂ / n``, which has the same non-zero eigenvalues. The script prints both scores for
q = 1 and q = 2 (they must agree to 1e-6) and the speed ratio.

Run: .venv/bin/python benchmarks/vendi.py [--n 10000] [--d 384]
Needs: pip install vendi-score==0.0.3
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from modelcollapse.metrics import vendi_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--repeats", type=int, default=5, help="best-of for our (fast) side")
    args = ap.parse_args()
    from vendi_score import vendi

    rng = np.random.default_rng(0)
    # Embedding-like: a common direction plus noise, so the spectrum is spread out.
    x = rng.standard_normal((args.n, args.d)) + 0.5

    t_ours = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ours = vendi_score(x, q=1)
        t_ours = min(t_ours, time.perf_counter() - t0)
    ours2 = vendi_score(x, q=2)

    xh = x / np.linalg.norm(x, axis=1, keepdims=True)
    k = xh @ xh.T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # scipy.sparse.csr in vendi-score
        t0 = time.perf_counter()
        theirs = vendi.score_K(k, q=1)
        t_peer = time.perf_counter() - t0
        theirs2 = vendi.score_K(k, q=2)

    print(f"{args.n} x {args.d} points, cosine kernel")
    print(
        f"q=1: ours {ours:.10f}, n x n eigvalsh {theirs:.10f}, rel diff {abs(ours / theirs - 1):.1e}"
    )
    print(
        f"q=2: ours {ours2:.10f}, n x n eigvalsh {theirs2:.10f}, rel diff {abs(ours2 / theirs2 - 1):.1e}"
    )
    print(
        f"ours {t_ours:.4f} s, n x n eigendecomposition {t_peer:.2f} s, speed ratio {t_peer / t_ours:.0f}x"
    )


if __name__ == "__main__":
    main()
