"""RayExecutor pieces that need no cluster: task wrapper, errors, unreachable addresses.

The executor on a real cluster is tested in test_ray_cluster.py.
"""

from __future__ import annotations

import os
import pickle
import socket
import time

import numpy as np
import pytest

pytest.importorskip("ray", reason="ray is not installed (pip install 'modelcollapse[ray]')")

from modelcollapse.errors import DataError, ModelCollapseError
from modelcollapse.execution import get_executor
from modelcollapse.execution.ray_cluster import (
    check_reachable,
    run_task,
    task_error,
)


def array_of(n: int) -> np.ndarray:
    return np.arange(float(n))


def test_run_task_returns_a_plain_pickle_with_thread_caps(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    payload = run_task(array_of, 5)
    assert isinstance(payload, bytes)
    out = pickle.loads(payload)
    assert out.flags.writeable and np.array_equal(out, np.arange(5.0))
    assert os.environ["OMP_NUM_THREADS"] == "1"


class _Wrapped(Exception):
    """Stands in for ray.exceptions.RayTaskError, which carries the task's error as .cause."""

    def __init__(self, cause: BaseException):
        super().__init__("ray wrapper text")
        self.cause = cause


def test_task_error_names_the_index_and_the_task_error():
    err = task_error(4, _Wrapped(DataError("invalid JSON", path="s.jsonl", line=3)))
    assert isinstance(err, ModelCollapseError)
    assert str(err) == "task 4 failed: DataError: s.jsonl:3: invalid JSON"
    assert str(task_error(0, ValueError("x"))) == "task 0 failed: ValueError: x"


def test_an_address_without_a_cluster_fails_fast():
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(
        ModelCollapseError, match=rf"expected a running Ray cluster at 127.0.0.1:{port}"
    ):
        get_executor("ray", address=f"127.0.0.1:{port}")
    assert time.monotonic() - start < 10  # ray.init alone retries for minutes
    check_reachable("auto")  # left to Ray
    check_reachable("ray://head:10001")
