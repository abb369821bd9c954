"""The executor interface: run one function over many items, locally or on a cluster.

An executor is separate from the work it runs (the datatrove ``executor/`` split): a sweep or a
sharded measurement hands it a picklable module-level function and a list of items, and gets
``(index, result)`` pairs back as tasks finish, in any order. Results never depend on which
executor ran them or on how many workers it had, because every random number comes from
:func:`modelcollapse.rng.stream` keyed by the experiment seed, never from worker identity.

Executors:

- ``local``: :class:`modelcollapse.execution.local.LocalExecutor`, a process pool on this machine
  (``workers=1`` runs in-process, without a pool);
- ``ray``: :class:`modelcollapse.execution.ray_cluster.RayExecutor`, a Ray cluster reached with
  ``ray.init(address=...)`` (optional extra ``ray``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, Self, TypeVar, runtime_checkable

from modelcollapse.errors import (
    DataError,
    InvalidParameterError,
    MissingExtraError,
    ModelCollapseError,
    unknown_name,
)

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn(item)`` for every item, possibly in parallel.

    Attributes:
        name: ``"local"`` or ``"ray"``.
        workers: how many tasks run at the same time.
    """

    name: str
    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Run ``fn(item)`` for every item; yield ``(index, result)`` as each finishes (any order).

        ``fn`` is a picklable module-level function. An exception in a task is re-raised here,
        after the other tasks are cancelled, as ModelCollapseError naming the item index.
        """
        ...

    def close(self) -> None:
        """Release workers and connections. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None:
        """Calls :meth:`close`."""
        ...


def check_workers(workers: object, *, allow_none: bool = True) -> int | None:
    """Validate a worker count: an integer >= 1 (or ``None`` for the executor's default)."""
    if workers is None and allow_none:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidParameterError(f"workers: expected an integer >= 1, got {workers!r}")
    return workers


def get_executor(
    name: str = "local", *, workers: int | None = None, address: str | None = None
) -> Executor:
    """Build the executor called ``name``.

    ``"local"`` gives ``LocalExecutor(workers)`` (``workers=1``: in-process, no pool; default:
    every available core). ``"ray"`` gives ``RayExecutor(address, workers)``, imported lazily;
    without ray installed it raises MissingExtraError naming ``pip install 'modelcollapse[ray]'``.
    ``address`` is only meaningful for ray. Unknown names raise InvalidParameterError with a
    did-you-mean suggestion.
    """
    workers = check_workers(workers)
    if name == "local":
        from modelcollapse.execution.local import LocalExecutor

        if address is not None:
            raise InvalidParameterError(
                f"address: expected no address for the local executor, got {address!r} "
                "(use --executor ray to reach a cluster)"
            )
        return LocalExecutor(workers)
    if name == "ray":
        try:
            import ray  # noqa: F401  (probe only; ray_cluster imports it for real)
        except ImportError as exc:
            raise MissingExtraError(
                "the ray executor needs 'ray'; install it with pip install 'modelcollapse[ray]'"
            ) from exc
        from modelcollapse.execution.ray_cluster import RayExecutor

        return RayExecutor(address, workers)
    raise unknown_name("executor", name, EXECUTORS)


# The errors a task raises about its input or settings: re-raised on the driver as they are.
USER_ERRORS: tuple[type[ModelCollapseError], ...] = (
    DataError,
    InvalidParameterError,
    MissingExtraError,
)


def task_cause(exc: BaseException) -> ModelCollapseError | None:
    """The user error (:data:`USER_ERRORS`) a failed task raised, found along the chain an
    executor wraps it in: ``__cause__`` links (the local executor) and the ``cause`` attribute
    of Ray's task errors. None when the task failed otherwise."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, USER_ERRORS):
            return e
        cause = getattr(e, "cause", None)
        stack += [e.__cause__, cause if isinstance(cause, BaseException) else None]
    return None


def raise_task_cause(exc: BaseException) -> None:
    """Raise the user error behind a failed task as the caller's own (a DataError still names
    ``file:line``), chained to ``exc``; return when there is none."""
    cause = task_cause(exc)
    if isinstance(cause, DataError):
        raise DataError(cause.reason, path=cause.path, line=cause.line) from exc
    if cause is not None:
        raise type(cause)(str(cause)) from exc


@contextlib.contextmanager
def executor_in_use(
    executor: Executor | str, *, workers: int | None = None, address: str | None = None
) -> Iterator[Executor]:
    """``executor`` itself (left open for its owner), or the executor it names
    (:func:`get_executor`, closed when the block ends). A failed task's user error is raised as
    the caller's own (:func:`raise_task_cause`)."""
    own = isinstance(executor, str)
    ex: Executor = get_executor(executor, workers=workers, address=address) if own else executor  # type: ignore[arg-type]
    try:
        yield ex
    except ModelCollapseError as exc:
        raise_task_cause(exc)
        raise
    finally:
        if own:
            ex.close()
