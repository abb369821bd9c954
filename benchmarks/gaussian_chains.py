"""Gaussian collapse chains: our vectorised engine against the per-chain loop of research code.

The peer is the way the published experiments are written: a Python loop over chains, each one
refitting ``scipy.stats.norm.fit`` (the MLE) on its own samples, generation after generation.
Both compute the same quantity, ln(σ²_n/σ²_0) at the last generation; the script prints both
means (they must agree within their standard errors) and the speed ratio.

Run: .venv/bin/python benchmarks/gaussian_chains.py [--chains 10000] [--peer-chains 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy import stats

from modelcollapse.loop.config import parse_config
from modelcollapse.loop.runner import run_experiment


def peer(chains: int, generations: int, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(chains)
    for c in range(chains):
        x = rng.normal(0.0, 1.0, m)
        mu, sd = stats.norm.fit(x)
        var0 = sd**2
        for _ in range(generations):
            x = rng.normal(mu, sd, m)
            mu, sd = stats.norm.fit(x)
        out[c] = np.log(sd**2 / var0)
    return out


def ours(chains: int, generations: int, m: int, seed: int) -> np.ndarray:
    cfg = parse_config(
        {
            "name": "bench-gaussian",
            "seed": seed,
            "generations": generations,
            "replicates": chains,
            "samples_per_generation": m,
            "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": m}},
            "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
            "policy": {"kind": "replace"},
            "metrics": ["variance_ratio"],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        run_experiment(cfg, Path(tmp) / "run", progress=False)
        t = pq.read_table(Path(tmp) / "run" / "metrics.parquet")
    gen = t.column("generation").to_numpy()
    return np.log(t.column("value").to_numpy()[gen == generations])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chains", type=int, default=10_000)
    ap.add_argument("--peer-chains", type=int, default=200)
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--m", type=int, default=100)
    args = ap.parse_args()

    t0 = time.perf_counter()
    a = ours(args.chains, args.generations, args.m, seed=0)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = peer(args.peer_chains, args.generations, args.m, seed=0)
    t_peer = time.perf_counter() - t0
    per_ours = t_ours / args.chains
    per_peer = t_peer / args.peer_chains
    print(
        f"ours: {args.chains} chains in {t_ours:.2f} s ({per_ours * 1e6:.1f} µs/chain, with metrics and run store)"
    )
    print(f"peer: {args.peer_chains} chains in {t_peer:.2f} s ({per_peer * 1e6:.1f} µs/chain)")
    print(f"speed ratio (peer time per chain / ours): {per_peer / per_ours:.1f}x")
    se = np.sqrt(a.var() / a.size + b.var() / b.size)
    print(
        f"mean ln(var ratio) at generation {args.generations}: ours {a.mean():.4f}, peer {b.mean():.4f} (se of diff {se:.4f})"
    )


if __name__ == "__main__":
    main()
