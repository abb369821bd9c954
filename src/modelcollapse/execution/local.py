"""The local executor: a process pool on this machine, or plain in-process calls.

``workers=1`` runs every task in the calling process, in order, with no pool (nothing to pickle,
tracebacks stay simple). ``workers > 1`` starts a ``spawn`` process pool whose workers cap
BLAS/OpenMP/torch at one thread each, as :mod:`modelcollapse.loop.runner` does for replicates,
so that N workers on N cores do not oversubscribe them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Self, TypeVar

from modelcollapse.errors import ModelCollapseError
from modelcollapse.execution.base import check_workers

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def worker_init() -> None:
    """Process-pool initializer: one BLAS/OpenMP/torch thread per worker.

    The same caps as ``loop.runner._worker_init``: a task is one small run, so parallelism
    comes from processes. ``OMP_NUM_THREADS`` covers OpenMP runtimes loaded later (threadpoolctl
    only limits libraries already loaded); ``MODELCOLLAPSE_TORCH_THREADS`` is read by the neural
    generators.
    """
    from threadpoolctl import threadpool_limits

    from modelcollapse.generators.torch_utils import TORCH_THREADS_ENV

    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ[TORCH_THREADS_ENV] = "1"
    threadpool_limits(limits=1)


def _task_error(index: int, exc: BaseException) -> ModelCollapseError:
    # Keep the task's own message (often already "expected X, got Y") and say which item failed.
    return ModelCollapseError(f"task {index} failed: {type(exc).__name__}: {exc}")


class LocalExecutor:
    """Run tasks in-process (``workers=1``) or in a local ``spawn`` process pool.

    Args:
        workers: parallel tasks; ``None`` means every available core.

    The pool starts lazily on the first :meth:`map` with more than one item and is reused by
    later calls until :meth:`close`.
    """

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers: int = check_workers(workers) or default_workers()
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: safe with progress-bar threads and the same on every platform.
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=worker_init
            )
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Run ``fn(item)`` for every item; yield ``(index, result)`` as each finishes.

        In-process (``workers=1``) results come in item order. In a pool they come in completion
        order. A failing task cancels the tasks not yet started and raises ModelCollapseError
        naming the item index, chained to the original exception.
        """
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                try:
                    result = fn(item)
                except Exception as exc:
                    raise _task_error(i, exc) from exc
                yield i, result
            return
        pool = self._get_pool()
        index: dict[Future[R], int] = {pool.submit(fn, item): i for i, item in enumerate(items)}
        pending = set(index)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                # Deterministic order among tasks that finished together.
                for fut in sorted(done, key=index.__getitem__):
                    i = index[fut]
                    exc = fut.exception()
                    if exc is not None:
                        self._abort()
                        raise _task_error(i, exc) from exc
                    yield i, fut.result()
        finally:
            # Reached on an error, on Ctrl-C and when the consumer stops early (generator close):
            # tasks still queued must not keep running behind the caller's back.
            for fut in pending:
                fut.cancel()

    def _abort(self) -> None:
        # A failed map must not leave the other tasks running: cancel the queued ones and stop
        # the workers still busy (their writes are atomic, so a killed task leaves no half file).
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(timeout=10)

    def close(self) -> None:
        """Shut the pool down (cancelling queued tasks). Idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers})"
