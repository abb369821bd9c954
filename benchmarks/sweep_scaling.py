"""Sweep scaling: 16 Gaussian runs on the local executor, 1 worker against 2.

Each run is a 1-D Gaussian chain on the general engine (one metric, ``extreme_quantile_ratio``,
has no batched closed form, so the run goes replicate by replicate, as most non-Gaussian models
do), sized at about 1.5 s on one idle core (251 generations) so that the process pool's start-up
(each spawned worker imports numpy, scipy and pyarrow, about 0.5 s) does not dominate. The sweep
is 2 policies x 2 estimators x 4 seeds. Checkpoints use the default ``checkpoint_every`` (1 s).

Timed: the whole ``run_sweep`` call, from expansion to ``results.parquet``, including starting
the pool for 2 workers. Each repeat writes new directories and nothing is deleted until the end
(see ``time_sweep``). The two results tables are checked to be byte-identical. CPU seconds (this
process and its pool workers) are printed too: CPU/wall shows how much parallelism the machine
actually gave, which other jobs can take away.

Command: ``.venv/bin/python benchmarks/sweep_scaling.py [--repeats 1] [--replicates 16]
[--generations 250] [--checkpoint-every 1.0]``. Target (issue 6): 2 workers take at most 0.6x
the time of 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from modelcollapse.execution import LocalExecutor
from modelcollapse.sweep import parse_sweep, run_sweep


def sweep_spec(replicates: int, generations: int):
    config = {
        "name": "sweep-scaling",
        "seed": 0,
        "generations": generations,
        "replicates": replicates,
        "samples_per_generation": 200,
        "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 200}},
        "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
        "metrics": ["variance", "w2", "extreme_quantile_ratio"],
    }
    grid = {
        "policy.kind": ["replace", "accumulate"],
        "model.params.estimator": ["mle", "unbiased"],
        "seed": [0, 1, 2, 3],
    }
    return parse_sweep({"name": "sweep-scaling", "config": config, "grid": grid})


def _cpu_seconds() -> float:
    # This process plus its finished children (pool workers count once they are joined, which
    # closing the executor does).
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_sweep(
    spec, workers: int, out: Path, checkpoint_every: float
) -> tuple[float, float, bytes]:
    """Wall seconds and CPU seconds for the whole sweep, and its results.parquet bytes.

    ``out`` must be new. Nothing is deleted between timed sweeps: on ext4, creating files soon
    after deleting thousands (a previous repeat's 20,000 checkpoints) makes every file creation
    scan past the recently freed inodes, which more than tripled the kernel time of a sweep and
    serialised the workers on it. The directories go when the benchmark ends.
    """
    cpu0, start = _cpu_seconds(), time.perf_counter()
    with LocalExecutor(workers) as ex:
        run_sweep(spec, out, executor=ex, progress=False, checkpoint_every=checkpoint_every)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
    return wall, cpu, (out / "results.parquet").read_bytes()


def spin(n: int) -> int:
    """Pure-Python CPU work for the control (no imports, no I/O)."""
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    return acc


def control_ratio(n: int = 3_000_000, tasks: int = 4) -> float:
    """2 workers over 1 on pure CPU work in warmed pools: about 0.5 on two idle cores.

    Read next to the sweep's ratio, it tells whether the machine had a second core to give.
    """
    times = []
    for workers in (1, 2):
        with LocalExecutor(workers) as ex:
            list(ex.map(spin, [1] * workers))  # start the pool before timing
            start = time.perf_counter()
            list(ex.map(spin, [n] * tasks))
            times.append(time.perf_counter() - start)
    return times[1] / times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--replicates", type=int, default=16)
    parser.add_argument("--generations", type=int, default=250)
    parser.add_argument("--checkpoint-every", type=float, default=1.0)
    args = parser.parse_args()

    spec = sweep_spec(args.replicates, args.generations)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"16 runs x {args.replicates} replicates x {args.generations + 1} generations, "
        f"{os.cpu_count()} cores, load average {load:.1f} at start"
    )
    with tempfile.TemporaryDirectory(prefix="sweep-scaling-") as tmp:
        for rep in range(args.repeats):
            control = control_ratio()
            every = args.checkpoint_every
            t1, c1, bytes1 = time_sweep(spec, 1, Path(tmp) / f"r{rep}-w1", every)
            t2, c2, bytes2 = time_sweep(spec, 2, Path(tmp) / f"r{rep}-w2", every)
            same = bytes1 == bytes2
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            # CPU/wall is the parallelism we actually got: near 1 for 1 worker, near 2 for 2
            # workers on an idle machine; less when other jobs hold the cores.
            print(
                f"repeat {rep + 1}: 1 worker {t1:.2f} s ({t1 / 16:.2f} s/run, CPU/wall "
                f"{c1 / t1:.2f}), 2 workers {t2:.2f} s (CPU/wall {c2 / t2:.2f}), "
                f"ratio {t2 / t1:.2f} (target <= 0.60), load {load:.1f}, identical results: {same}; "
                f"control (pure CPU, 2 over 1 workers) {control:.2f}"
            )
            if not same:
                raise SystemExit("results differ between 1 and 2 workers")


if __name__ == "__main__":  # spawn-started workers re-import this file: guard the work
    main()
