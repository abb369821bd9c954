"""PRDC: our blocked computation against the ``prdc`` package (Naeem et al. 2020).

The peer, ``prdc.compute_prdc`` 0.2, builds the full real-real, fake-fake and real-fake distance
matrices (scikit-learn ``pairwise_distances``) and ``argpartition``s them; ours computes
distance blocks of ``chunk_size`` rows, keeps only the k-NN radii and counts in one more blocked
pass (memory O(chunk·n)). The script prints both results (they must be equal), the time of each
(best of ``--repeats``), the speed ratio and the peak memory each allocates through numpy
(``tracemalloc``, in a separate untimed call).

Run: .venv/bin/python benchmarks/prdc.py [--n 10000] [--d 64] [--k 5]
Needs: pip install prdc==0.2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from modelcollapse.metrics import prdc

# This script is named like the peer package: keep its own folder off the import path, or
# ``import prdc`` would import this file.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def peer(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the sizes
        out = compute_prdc(real, fake, k)
    return {key: float(v) for key, v in out.items()}


def timed(
    fns: dict[str, Callable[[], Any]], repeats: int, walls: dict[str, list[float]]
) -> dict[str, tuple[Any, float, float]]:
    """Result, best wall time and best CPU time (all threads of this process) of each function;
    every wall time is appended to ``walls[name]``.

    Runs are interleaved (ours, peer, ours, peer, ...) so that load changes on a shared machine
    hit both sides alike. CPU time is reported too because wall time depends on the load, and
    the peer's 8 joblib threads take a larger share of a busy CPU than our 2 BLAS threads.
    """
    best: dict[str, tuple[Any, float, float]] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            walls.setdefault(name, []).append(wall)
            _, w, c = best.get(name, (None, float("inf"), float("inf")))
            best[name] = (out, min(w, wall), min(c, cpu))
    return best


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000, help="real and fake points each")
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    real = rng.standard_normal((args.n, args.d))
    fake = 1.1 * rng.standard_normal((args.n, args.d)) + 0.05

    walls: dict[str, list[float]] = {}
    runs = timed(
        {
            "ours": lambda: prdc(real, fake, args.k).as_dict(),
            "peer": lambda: peer(real, fake, args.k),
        },
        args.repeats,
        walls,
    )
    ours, t_ours, c_ours = runs["ours"]
    theirs, t_peer, c_peer = runs["peer"]
    m_ours = peak_mib(lambda: prdc(real, fake, args.k))
    m_peer = peak_mib(lambda: peer(real, fake, args.k))

    print(f"{args.n} real vs {args.n} fake points, d = {args.d}, k = {args.k}")
    for key in ("precision", "recall", "density", "coverage"):
        print(f"  {key:9s} ours {ours[key]:.10f}  prdc {theirs[key]:.10f}")
    diff = max(abs(ours[key] - theirs[key]) for key in ours)
    print(f"max |difference|: {diff:.2e}")
    print(f"wall: ours {t_ours:.2f} s, prdc {t_peer:.2f} s, speed ratio {t_peer / t_ours:.1f}x")
    ratios = ", ".join(f"{p / o:.1f}x" for o, p in zip(walls["ours"], walls["peer"], strict=True))
    print(f"wall ratio of each repeat (peer / ours, same round): {ratios}")
    print(f"CPU:  ours {c_ours:.2f} s, prdc {c_peer:.2f} s, ratio {c_peer / c_ours:.1f}x")
    print(
        f"peak numpy memory: ours {m_ours:.0f} MiB, prdc {m_peer:.0f} MiB "
        f"({m_peer / m_ours:.1f}x less; the inputs themselves are {2 * real.nbytes / 2**20:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
