"""Sharded measure on Ray: 1 worker against 2, and peak memory against corpus size.

Corpus: the candidate is ``--docs`` King James verses drawn with replacement by a seeded rng
(a corpus with duplicates, as a model's samples have), written as ``--shards`` JSONL shards;
the reference is the 31,102 real verses as 2 Parquet shards. Both runs measure the same shards
on the same private Ray (``ray.init(address="local", num_cpus=2)``); only the number of tasks
in flight differs (``RayExecutor(workers=1)`` against ``workers=2``). Workers are warmed up
first (a long-lived cluster has its workers started and ``modelcollapse`` imported).

"of which serial" is the driver's bootstrap and verdict on the merged ``--max-records`` samples,
which does not shrink with more workers.

A control runs between the measurements: pure-Python spins, 2 workers over 1 worker on the same
Ray. On two idle cores it is about 0.5; when other programs use the cores it rises, and the
measure ratio with it: read the two together.

Memory: the peak resident set size of the driver (this process) and of every Ray worker
process during each measurement, from the kernel's high-water mark (``PeakRSS``). With
``--double`` the whole thing is repeated on a corpus twice as large, made of twice as many shards of the same size:
the peaks should not move, since a task holds one chunk, its reservoir and its states, and the
driver holds the merged states and one reservoir per side.

Run: .venv/bin/python benchmarks/ray_measure.py [--docs 200000] [--shards 16] [--double]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from modelcollapse.data.bundled import kjv
from modelcollapse.execution.ray_cluster import RayExecutor
from modelcollapse.measure import sharded
from modelcollapse.measure.sharded import measure_shards

METRICS = ["vocab_size", "entropy", "distinct_2", "rep_n", "zipf_exponent", "js", "rare_recall"]


def write_corpus(folder: Path, verses: list[str], docs: int, shards: int, seed: int) -> Path:
    """``docs`` verses drawn with replacement, cut into ``shards`` JSONL files (one at a time,
    so this process never holds the corpus)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sizes = np.full(shards, docs // shards)
    sizes[: docs % shards] += 1
    for i, size in enumerate(sizes):
        picks = rng.integers(0, len(verses), size=int(size))
        lines = "".join(json.dumps({"text": verses[j]}) + "\n" for j in picks.tolist())
        (folder / f"part-{i:05d}.jsonl").write_text(lines, encoding="utf-8")
    return folder


def write_reference(folder: Path, verses: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    half = len(verses) // 2
    for i, part in enumerate((verses[:half], verses[half:])):
        pq.write_table(pa.table({"text": part}), folder / f"kjv-{i}.parquet")
    return folder


def _ray_workers() -> list[psutil.Process]:
    """The Ray worker processes under this driver (they retitle themselves ray::IDLE,
    ray::run_task, ...; the agents are Ray's own services)."""
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            title = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if title.startswith("ray::") and "Agent" not in title:
            out.append(proc)
    return out


def _peak_rss(pid: int) -> int:
    """The kernel's high-water mark of a process's resident set (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no VmHWM for {pid}")


class PeakRSS:
    """Peak resident set size of this process and of the Ray workers during a ``with`` block.

    On Linux the kernel keeps the peak (VmHWM), reset on entry by writing 5 to
    ``/proc/PID/clear_refs``: exact, and free while the measurement runs. Elsewhere, or without
    the right to reset, a thread samples the resident sets every 100 ms (which costs the driver
    some CPU: about 1.5 ms a sample with Ray's dozen processes).
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.driver = 0
        self.workers: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        """Record the current resident sets."""
        self.driver = max(self.driver, psutil.Process().memory_info().rss)
        for proc in _ray_workers():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            self.workers[proc.pid] = max(self.workers.get(proc.pid, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        try:
            for pid in [os.getpid(), *(p.pid for p in _ray_workers())]:
                with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
                    fh.write("5")
        except OSError:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            return
        self.driver = _peak_rss(os.getpid())
        for proc in _ray_workers():
            with contextlib.suppress(OSError):
                self.workers[proc.pid] = _peak_rss(proc.pid)


def warm_up(seconds: float) -> int:
    """Import what a shard task imports, then hold the worker so the other one is used too."""
    import modelcollapse.measure.sharded  # noqa: F401

    time.sleep(seconds)
    return os.getpid()


def _timed_measure(*args: object, **kwargs: object) -> object:
    # The driver's serial part (bootstrap and verdict on the merged samples), timed apart.
    start = time.perf_counter()
    try:
        return _MEASURE(*args, **kwargs)
    finally:
        DRIVER_SECONDS.append(time.perf_counter() - start)


_MEASURE = sharded.measure_data
DRIVER_SECONDS: list[float] = []
sharded.measure_data = _timed_measure


def spin(n: int) -> int:
    """Pure-Python CPU work: the control of how much parallelism the machine has right now."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def control_ratio(n: int = 3_000_000, tasks: int = 4) -> float:
    """Wall time of ``tasks`` spins with 2 workers over 1 worker (0.5 on 2 idle cores)."""
    seconds = {}
    for workers in (1, 2):
        with RayExecutor(None, workers) as ex:
            start = time.perf_counter()
            list(ex.map(spin, [n] * tasks))
            seconds[workers] = time.perf_counter() - start
    return seconds[2] / seconds[1]


def cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of this process (the driver), of the Ray workers, and of Ray's own
    services (GCS, raylet, agents): where the two cores went."""
    me = psutil.Process()
    workers = {proc.pid for proc in _ray_workers()}
    out = {"driver": sum(me.cpu_times()[:2]), "workers": 0.0, "ray": 0.0}
    for proc in me.children(recursive=True):
        try:
            used = sum(proc.cpu_times()[:2])
        except psutil.Error:
            continue
        out["workers" if proc.pid in workers else "ray"] += used
    return out


def run(ref: Path, cand: Path, workers: int, args: argparse.Namespace) -> dict:
    """One timed measurement with ``workers`` tasks in flight, and its memory peaks."""
    mib = 1024**2
    with RayExecutor(None, workers) as ex, PeakRSS() as peak:  # joins main()'s Ray
        cpu0 = cpu_seconds()
        start = time.perf_counter()
        result = measure_shards(
            ref, cand, metrics=METRICS, rng=0, executor=ex, n_boot=args.n_boot,
            max_records=args.max_records,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        cpu1 = cpu_seconds()
    return {
        "workers": workers,
        "seconds": seconds,
        "cpu": {k: cpu1[k] - cpu0[k] for k in cpu0},
        "driver_seconds": DRIVER_SECONDS[-1],
        "driver_peak_mib": peak.driver / mib,
        "worker_peak_mib": max(peak.workers.values(), default=0) / mib,
        "result": result.to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--n-boot", type=int, default=50)
    parser.add_argument("--max-records", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per worker count")
    parser.add_argument("--double", action="store_true", help="also run on twice the corpus")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private Ray of this process
    import ray

    verses = [d.text for d in kjv()]
    rows: list[tuple[int, int, dict]] = []
    with tempfile.TemporaryDirectory(prefix="mc-ray-bench-") as tmp:
        root = Path(tmp)
        ref = write_reference(root / "ref", verses)
        cand = write_corpus(root / "cand", verses, args.docs, args.shards, seed=1)
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, logging_level="warning",
            object_store_memory=200 * 1024**2,
            runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "MODELCOLLAPSE_TORCH_THREADS": "1"}},
        )  # fmt: skip
        try:
            with RayExecutor(None, 2) as ex:  # warm-up: start both workers, import the package
                assert len(set(dict(ex.map(warm_up, [3.0, 3.0])).values())) == 2
            idle = PeakRSS()
            idle.sample()
            times: dict[int, list[float]] = {1: [], 2: []}
            controls = [control_ratio()]
            for _ in range(args.repeat):  # alternate, so a busy spell hits both counts
                for workers in (1, 2):
                    row = run(ref, cand, workers, args)
                    times[workers].append(row["seconds"])
                    rows.append((args.docs, args.shards, row))
                controls.append(control_ratio())
            results = {json.dumps(row["result"], sort_keys=True) for _, _, row in rows}
            assert len(results) == 1, "results differ between runs"
            if args.double:
                big = write_corpus(root / "cand2", verses, 2 * args.docs, 2 * args.shards, seed=1)
                rows.append((2 * args.docs, 2 * args.shards, run(ref, big, 2, args)))
        finally:
            ray.shutdown()
    mib = 1024**2
    print(
        f"before measuring: driver {idle.driver / mib:.0f} MiB, idle worker "
        f"{max(idle.workers.values(), default=0) / mib:.0f} MiB (resident)"
    )
    print(f"{'documents':>10} {'shards':>6} {'workers':>7} {'time s':>8} {'of which serial':>15} "
          f"{'driver peak MiB':>15} {'worker peak MiB':>15}   CPU s: driver / workers / Ray")  # fmt: skip
    for docs, shards, row in rows:
        cpu = row["cpu"]
        print(
            f"{docs:>10,} {shards:>6} {row['workers']:>7} {row['seconds']:>8.1f} "
            f"{row['driver_seconds']:>15.1f} {row['driver_peak_mib']:>15.0f} "
            f"{row['worker_peak_mib']:>15.0f}   "
            f"{cpu['driver']:.1f} / {cpu['workers']:.1f} / {cpu['ray']:.1f}"
        )
    paired = [t2 / t1 for t1, t2 in zip(times[1], times[2], strict=True)]
    print("paired ratios (2 workers / 1, same repeat): " + ", ".join(f"{r:.2f}" for r in paired))
    best = {w: min(t) for w, t in times.items()}
    print(
        f"best of {args.repeat}: 1 worker {best[1]:.1f} s, 2 workers {best[2]:.1f} s, "
        f"ratio {best[2] / best[1]:.2f}; results identical for 1 and 2 workers "
        f"(verdict {rows[0][2]['result']['verdict']})"
    )
    print(
        "control (pure-Python spins, 2 workers / 1; 0.50 on two idle cores): "
        + ", ".join(f"{c:.2f}" for c in controls)
        + f"; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
