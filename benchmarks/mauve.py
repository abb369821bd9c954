"""MAUVE: ours (scikit-learn k-means) against mauve-text 0.4.0 (faiss k-means) on features.

Both get the same features and settings (``num_buckets='auto'`` = n/10, PCA to 90% explained
variance, 5 k-means restarts, up to 500 iterations, c = 5). The features are embedding-like:
topic centres plus noise, with the model sample missing some topics, at d = 384 (the width of
all-MiniLM-L6-v2) and d = 64. k-means differs between the two (and between seeds), so the script
prints the mean and spread of each over ``--seeds`` seeds and the speed ratio of the mean times.

Run: .venv/bin/python benchmarks/mauve.py [--n 5000] [--seeds 3]
Needs: pip install mauve-text==0.4.0 faiss-cpu
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from modelcollapse.metrics import mauve

# This script is named like the peer package: keep its own folder off the import path, or
# ``import mauve`` would import this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def features(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """200 topic centres N(0, I) plus N(0, 0.5² I) noise; the model sample misses 40 topics."""
    centres = rng.standard_normal((200, d))
    p = centres[rng.integers(0, 200, n)] + 0.5 * rng.standard_normal((n, d))
    q = centres[rng.integers(0, 160, n)] + 0.5 * rng.standard_normal((n, d))
    return p, q


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5_000, help="points per side")
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 64])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mauve as _  # noqa: F401  (its __init__ shadows the module with the function)

        compute_mauve = sys.modules["mauve.compute_mauve"].compute_mauve

    rng = np.random.default_rng(0)
    for d in args.dims:
        p, q = features(args.n, d, rng)
        mauve(p[:500], q[:500])  # warm up imports and thread pools on both sides
        compute_mauve(p_features=p[:500], q_features=q[:500])
        ours, theirs, t_ours, t_peer = [], [], [], []
        for s in range(args.seeds):
            t0 = time.perf_counter()
            ours.append(mauve(p, q, rng=np.random.default_rng(s)))
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            theirs.append(compute_mauve(p_features=p, q_features=q, seed=25 + s).mauve)
            t_peer.append(time.perf_counter() - t0)
        print(f"{args.n} vs {args.n} features, d = {d}:")
        print(f"  MAUVE ours {np.mean(ours):.4f} ± {np.std(ours):.4f}, "
              f"mauve-text {np.mean(theirs):.4f} ± {np.std(theirs):.4f}, "
              f"|mean difference| {abs(np.mean(ours) - np.mean(theirs)):.4f}")  # fmt: skip
        print(f"  time ours {np.mean(t_ours):.2f} s, mauve-text {np.mean(t_peer):.2f} s, "
              f"speed ratio {np.mean(t_peer) / np.mean(t_ours):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
