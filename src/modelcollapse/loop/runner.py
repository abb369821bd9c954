"""Run a recursive-training experiment and write its run store.

:func:`run_experiment` picks the engine:

- the vectorised Gaussian engine (:mod:`modelcollapse.loop.vectorized`) when the model is
  ``gaussian``, the data are numeric, the policy is ``replace``, ``accumulate`` or ``fresh``,
  every requested metric has a batched closed form and samples are not saved: all replicates
  advance together, one array operation per generation;
- otherwise the general engine (:mod:`modelcollapse.loop.replicate`), one replicate at a time,
  in-process (``workers=1``) or in a process pool.

Either way ``generations: G`` produces generations ``0..G`` (generation 0 is fitted on real
data), every random number is keyed by ``(replicate, generation, role)``, and the results are
bit-identical whatever ``workers`` is and whether or not the run was killed and resumed.

Command line (for scripts and subprocess tests; the user-facing CLI is ``modelcollapse
simulate``)::

    python -m modelcollapse.loop.runner CONFIG.yaml OUT_DIR [--resume] [--workers N] [--progress]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from modelcollapse.errors import InvalidParameterError, ModelCollapseError
from modelcollapse.generators.torch_utils import TORCH_THREADS_ENV
from modelcollapse.loop import vectorized
from modelcollapse.loop.config import ExperimentConfig
from modelcollapse.loop.policies import build as build_policy
from modelcollapse.loop.replicate import (
    ReplicateResult,
    build_template,
    metric_names,
    run_replicate,
)
from modelcollapse.loop.store import (
    DEFAULT_CHECKPOINT_EVERY,
    RunStore,
    check_checkpoint_every,
    metrics_table,
)
from modelcollapse.loop.summary import summarise
from modelcollapse.progress import progress_bar

Engine = Literal["general", "vectorized"]


@dataclass
class RunResult:
    """What :func:`run_experiment` wrote.

    Attributes:
        out_dir: the run directory.
        metrics: the ``metrics.parquet`` table (generation, replicate, metric, value).
        summary: the content of ``summary.json``.
        engine: ``"vectorized"`` or ``"general"``.
        wall_time_s: seconds spent in this call (a resumed run counts only the resumed part).
        resumed: whether an earlier, interrupted run was continued.
    """

    out_dir: Path
    metrics: pa.Table
    summary: dict[str, Any]
    engine: Engine
    wall_time_s: float
    resumed: bool


def _worker_init() -> None:
    # One BLAS/OpenMP thread per replicate: the models are small, so BLAS threads mostly
    # busy-wait; parallelism comes from running replicates in processes instead. Measured on
    # 2 cores: examples/gmm.yaml 17.6 s -> 4.4 s in one process; 27 s -> 9 s with 2 workers
    # before this, when each worker's threads also oversubscribed the cores.
    # threadpoolctl only limits libraries already loaded; OpenMP runtimes loaded later (sklearn's,
    # imported lazily by the gmm model) read OMP_NUM_THREADS when they load.
    os.environ["OMP_NUM_THREADS"] = "1"
    # Neural generators ask torch for every core by default; in a pool each replicate gets one.
    os.environ[TORCH_THREADS_ENV] = "1"
    threadpool_limits(limits=1)


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    return int(workers)


def _general(
    cfg: ExperimentConfig,
    store: RunStore,
    *,
    resume: bool,
    workers: int,
    progress: bool,
    checkpoint_every: float,
) -> tuple[pa.Table, dict[str, float]]:
    n_gen = cfg.generations + 1
    results: list[ReplicateResult | None] = [None] * cfg.replicates
    desc = f"{cfg.model.kind} / {cfg.policy.kind}: replicates × generations"
    with progress_bar(progress, cfg.replicates * n_gen, desc) as advance:
        if workers == 1 or cfg.replicates == 1:
            with threadpool_limits(limits=1):  # see _worker_init
                for r in range(cfg.replicates):
                    res = run_replicate(
                        cfg,
                        r,
                        store.root,
                        resume=resume,
                        on_generation=lambda g: advance(1),
                        checkpoint_every=checkpoint_every,
                    )
                    advance(res.resumed_from)  # generations restored from checkpoints
                    results[r] = res
        else:
            # spawn, not fork: safe with the progress bar's thread and on every platform.
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(
                max_workers=min(workers, cfg.replicates), mp_context=ctx, initializer=_worker_init
            )
            try:
                futures = [
                    pool.submit(
                        run_replicate,
                        cfg,
                        r,
                        store.root,
                        resume=resume,
                        checkpoint_every=checkpoint_every,
                    )
                    for r in range(cfg.replicates)
                ]
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in done:
                        res = fut.result()  # re-raises a worker's error here
                        results[res.replicate] = res
                        advance(n_gen)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)

    names = sorted({k for res in results if res for m in res.metrics for k in m})
    index = {k: i for i, k in enumerate(names)}
    gen, rep, code, val = [], [], [], []
    for res in results:
        assert res is not None and len(res.metrics) == n_gen
        for g, row in enumerate(res.metrics):
            for k, v in row.items():
                gen.append(g)
                rep.append(res.replicate)
                code.append(index[k])
                val.append(v)
    table = metrics_table(
        np.array(gen), np.array(rep), np.array(code), names, np.array(val, dtype=np.float64)
    )
    last = [res.counts[-1] for res in results if res is not None]
    keys = sorted({k for c in last for k in c})
    policy_counts = {k: float(np.mean([c.get(k, 0) for c in last])) for k in keys}
    return table, policy_counts


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    workers: int = 1,
    progress: bool = True,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
) -> RunResult:
    """Run ``cfg`` (or continue it with ``resume``) and write the run store in ``out_dir``.

    Writes ``config.yaml`` first, checkpoints while running (the general engine at least every
    ``checkpoint_every`` seconds, 0 for every generation; the vectorised one every generation), and
    ``metrics.parquet`` and ``summary.json`` at the end (all atomically; see
    :mod:`modelcollapse.loop.store`). ``generations: G`` means generations ``0..G``.

    ``workers`` processes run the general engine's replicates in parallel (1: in-process, no
    pool); the vectorised engine is one process whatever ``workers`` is. Results are identical
    for every ``workers``. ``progress`` shows a rich progress bar over replicates × generations.

    Raises InvalidParameterError for a config that cannot run (unknown policy or metric, a model
    that does not fit the data kind) before anything is written, and when ``resume`` finds a
    stored config that differs from ``cfg``.
    """
    from modelcollapse.data.sources import load_real

    start = time.perf_counter()
    workers = _check_workers(workers)
    checkpoint_every = check_checkpoint_every(checkpoint_every)
    out_dir = Path(out_dir)
    # Validate everything that can be checked cheaply before the run directory is touched.
    real0 = load_real(cfg.data, seed=cfg.seed, replicate=0)
    build_template(cfg, real0)
    build_policy(cfg.policy.kind, cfg.policy.params)
    names = metric_names(cfg, real0.data_kind)
    use_vector = vectorized.supports(cfg, real0.data_kind, names)

    store = RunStore(out_dir)
    resumed = store.prepare(cfg, resume=resume)
    if use_vector:
        engine: Engine = "vectorized"
        table, policy_counts = vectorized.run_vectorized(
            cfg, store, real0, names, resume=resumed, progress=progress
        )
    else:
        engine = "general"
        table, policy_counts = _general(
            cfg,
            store,
            resume=resumed,
            workers=workers,
            progress=progress,
            checkpoint_every=checkpoint_every,
        )
    store.write_metrics(table)
    wall = time.perf_counter() - start
    summary = summarise(
        table,
        cfg,
        engine=engine,
        wall_time_s=wall,
        resumed=resumed,
        data_kind=real0.data_kind,
        policy_counts=policy_counts,
    )
    store.write_summary(summary)
    return RunResult(out_dir, table, summary, engine, wall, resumed)


def main(argv: list[str] | None = None) -> int:
    """``python -m modelcollapse.loop.runner CONFIG OUT [--resume] [--workers N] [--progress]
    [--checkpoint-every SECONDS]``."""
    from modelcollapse.loop.config import load_config

    parser = argparse.ArgumentParser(prog="python -m modelcollapse.loop.runner")
    parser.add_argument("config", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--checkpoint-every", type=float, default=DEFAULT_CHECKPOINT_EVERY)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config)
        run_experiment(
            cfg,
            args.out,
            resume=args.resume,
            workers=args.workers,
            progress=args.progress,
            checkpoint_every=args.checkpoint_every,
        )
    except ModelCollapseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    sys.exit(main())
