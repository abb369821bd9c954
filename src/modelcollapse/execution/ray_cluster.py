"""The Ray executor: the same tasks as the local executor, on a Ray cluster.

``RayExecutor(address, workers)`` connects the calling process to a cluster with
``ray.init(address=...)`` (for example ``"127.0.0.1:6379"``, the address ``ray start --head``
prints, or ``"auto"`` on a node of the cluster), or, with ``address=None``, starts a private
single-machine Ray owned by this process (``ray.init(address="local")``), shut down by
:meth:`RayExecutor.close`. Each task is a Ray remote function asking for one CPU,
so Ray places at most one task per core of the cluster; ``workers`` further caps how many tasks
are in flight at once (default: every CPU of the cluster), which also bounds what the driver
holds.

Results do not depend on the executor: the task function and its item are exactly those the
local executor gets, every random number comes from seeds carried in the item (never from the
worker's identity), and results travel back as ordinary pickles, so the driver receives
independent, writable objects just as from a process pool (Ray would otherwise hand back numpy
arrays as read-only views of its object store).

Workers cap BLAS, OpenMP and torch at one thread each (the job's ``runtime_env`` sets the
environment variables before a worker imports numpy, and each task also calls
:func:`modelcollapse.execution.local.worker_init`), so ``N`` one-CPU tasks on ``N`` cores do not
oversubscribe them. Every node must have ``modelcollapse`` (same version, with the extras the
tasks need) importable by the Python that Ray runs, and every input path must be readable at the
same path on every node; see the README, "Running on a Ray cluster".

Ray: Moritz et al. 2018, "Ray: A Distributed Framework for Emerging AI Applications", OSDI.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Self, TypeVar

from modelcollapse.errors import ModelCollapseError, require_extra
from modelcollapse.execution.base import check_workers

T = TypeVar("T")
R = TypeVar("R")

# One thread per task for every numeric runtime a task may load (see local.worker_init).
THREAD_CAPS: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MODELCOLLAPSE_TORCH_THREADS": "1",
}


def run_task(fn: Callable[[T], R], item: T) -> bytes:
    """What a Ray worker runs: cap threads, call ``fn(item)``, return the result pickled.

    Pickling here (instead of letting Ray serialise the result) makes the driver's copy an
    ordinary, writable object that does not pin Ray's object store.
    """
    from modelcollapse.execution.local import worker_init

    worker_init()
    return pickle.dumps(fn(item), protocol=pickle.HIGHEST_PROTOCOL)


def task_error(index: int, exc: BaseException) -> ModelCollapseError:
    """The error a failed task raises on the driver (the local executor's message format)."""
    # A RayTaskError carries the task's own exception as ``cause``; show that, not Ray's wrapper.
    cause = getattr(exc, "cause", None)
    cause = cause if isinstance(cause, BaseException) else exc
    return ModelCollapseError(f"task {index} failed: {type(cause).__name__}: {cause}")


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a ``host:port`` address.

    ``ray.init`` retries a dead address for minutes; a TCP connect answers in milliseconds.
    Other forms (``"auto"``, ``"ray://..."``) are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address or not host:
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ModelCollapseError(
            f"expected a running Ray cluster at {address} (start one with `ray start --head "
            f"--port {port}`), got no answer: {exc}"
        ) from None


class RayExecutor:
    """Run tasks as one-CPU Ray remote functions.

    Args:
        address: a running cluster's address for ``ray.init(address=...)``, or None to start
            a private Ray on this machine (``workers`` CPUs, default every core).
        workers: tasks in flight at once; None means every CPU of the cluster.
        init_kwargs: extra keyword arguments for ``ray.init`` (e.g. ``object_store_memory``).

    When this process is already connected to Ray (``ray.is_initialized()``), that connection
    is used and ``address`` is ignored; :meth:`close` only shuts down a Ray this executor
    started or connected to itself.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        *,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.ray = require_extra("ray", "ray")
        self.address = address
        workers = check_workers(workers)
        self._owns = False
        self._closed = False
        if not self.ray.is_initialized():
            self._connect(address, workers, dict(init_kwargs or {}))
            self._owns = True
        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            self.close()
            raise ModelCollapseError(
                f"expected a Ray cluster with at least 1 CPU at {address or 'this machine'}, "
                f"got {cpus}"
            )
        self.workers: int = workers or cpus
        self._remote = self.ray.remote(num_cpus=1, max_retries=0)(run_task)

    def _connect(self, address: str | None, workers: int | None, kwargs: dict[str, Any]) -> None:
        # Usage statistics would try to reach the network from the head node; never ask.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        runtime_env = kwargs.pop("runtime_env", None) or {}
        env_vars = {**THREAD_CAPS, **runtime_env.get("env_vars", {})}
        kwargs = {
            "logging_level": logging.WARNING,
            "runtime_env": {**runtime_env, "env_vars": env_vars},
            **kwargs,
        }
        if address is not None:
            check_reachable(address)
        else:
            from modelcollapse.execution.local import default_workers

            kwargs.setdefault("num_cpus", workers or default_workers())
            kwargs.setdefault("include_dashboard", False)
        try:
            # "local" always starts a new Ray: plain None would join a cluster that RAY_ADDRESS
            # or an earlier `ray start` on this machine points to.
            self.ray.init(address="local" if address is None else address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address if address is not None else "a local Ray on this machine"
            raise ModelCollapseError(
                f"expected a running Ray cluster at {where} (start one with `ray start --head`), "
                f"got: {type(exc).__name__}: {exc}"
            ) from exc

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Run ``fn(item)`` for every item; yield ``(index, result)`` as each finishes.

        At most ``workers`` tasks are in flight; results come in completion order. A failing
        task cancels the tasks in flight and raises ModelCollapseError naming the item index.
        """
        if self._closed:
            raise ModelCollapseError("expected an open RayExecutor, got one already closed")
        ray = self.ray
        items = list(items)
        inflight: dict[Any, int] = {}
        next_index = 0

        def refill() -> None:
            nonlocal next_index
            while next_index < len(items) and len(inflight) < self.workers:
                inflight[self._remote.remote(fn, items[next_index])] = next_index
                next_index += 1

        try:
            refill()
            while inflight:
                ready, _ = ray.wait(list(inflight), num_returns=1)
                ref = ready[0]
                i = inflight.pop(ref)
                try:
                    payload = ray.get(ref)
                except Exception as exc:
                    raise task_error(i, exc) from exc
                del ref  # let Ray free the object now that its bytes are here
                refill()  # keep the workers busy while the caller handles this result
                yield i, pickle.loads(payload)
        finally:
            # Reached on an error, on Ctrl-C and when the caller stops early: tasks still in
            # flight must not keep running behind the caller's back.
            for ref in inflight:
                with contextlib.suppress(Exception):  # finished already, or the cluster is gone
                    ray.cancel(ref)

    def close(self) -> None:
        """Disconnect from (or stop) the Ray this executor started. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, workers={self.workers})"
