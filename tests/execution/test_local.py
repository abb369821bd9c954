"""LocalExecutor and get_executor: results, ordering, errors, thread caps."""

from __future__ import annotations

import os
import time

import pytest

from modelcollapse.errors import InvalidParameterError, ModelCollapseError
from modelcollapse.execution import Executor, LocalExecutor, get_executor


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("expected not 3, got 3")
    return x


def slow_then_fail(x: int) -> int:
    # Item 0 fails at once; the others would take long: they must be cancelled, not awaited.
    if x == 0:
        raise RuntimeError("boom")
    time.sleep(30)
    return x


def thread_caps(_: int) -> tuple[str | None, str | None, int]:
    from threadpoolctl import threadpool_info

    limits = [lib["num_threads"] for lib in threadpool_info()]
    return (
        os.environ.get("OMP_NUM_THREADS"),
        os.environ.get("MODELCOLLAPSE_TORCH_THREADS"),
        max(limits, default=1),
    )


def test_in_process_yields_in_order() -> None:
    with LocalExecutor(1) as ex:
        assert isinstance(ex, Executor)
        assert ex.name == "local" and ex.workers == 1
        assert list(ex.map(square, range(5))) == [(i, i * i) for i in range(5)]


def test_pool_yields_every_index_once() -> None:
    with LocalExecutor(2) as ex:
        out = list(ex.map(square, list(range(10))))
        # The pool is reused by a second call.
        again = dict(ex.map(square, [7, 8]))
    assert sorted(i for i, _ in out) == list(range(10))
    assert dict(out) == {i: i * i for i in range(10)}
    assert again == {0: 49, 1: 64}


def test_empty_items() -> None:
    with LocalExecutor(2) as ex:
        assert list(ex.map(square, [])) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_error_names_the_item_index(workers: int) -> None:
    with (
        LocalExecutor(workers) as ex,
        pytest.raises(ModelCollapseError, match=r"task 3 failed: ValueError: expected not 3"),
    ):
        list(ex.map(fail_on_three, range(6)))


def test_error_cancels_the_other_tasks() -> None:
    start = time.perf_counter()
    with LocalExecutor(2) as ex, pytest.raises(ModelCollapseError, match="task 0 failed"):
        list(ex.map(slow_then_fail, range(6)))
    # Without cancellation and termination this would wait >= 30 s for the sleeping tasks.
    assert time.perf_counter() - start < 20


def test_pool_workers_cap_threads() -> None:
    with LocalExecutor(2) as ex:
        caps = dict(ex.map(thread_caps, [0, 1]))
    for omp, torch_threads, blas in caps.values():
        assert omp == "1" and torch_threads == "1" and blas == 1


def test_get_executor_local_and_errors() -> None:
    ex = get_executor("local", workers=2)
    assert isinstance(ex, LocalExecutor) and ex.workers == 2
    assert get_executor().workers >= 1
    with pytest.raises(InvalidParameterError, match="did you mean 'local'"):
        get_executor("locl")
    with pytest.raises(InvalidParameterError, match="expected an integer >= 1, got 0"):
        get_executor("local", workers=0)
    with pytest.raises(InvalidParameterError, match="address"):
        get_executor("local", address="127.0.0.1:6379")


def test_get_executor_ray_without_ray_names_the_extra() -> None:
    import importlib.util

    if importlib.util.find_spec("ray") is not None:
        pytest.skip("ray is installed; the cluster tests cover RayExecutor")
    from modelcollapse.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match=r"modelcollapse\[ray\]"):
        get_executor("ray", workers=2)
