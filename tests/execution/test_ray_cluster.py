"""A real local Ray cluster: a head node and one extra worker node on 127.0.0.1, started with
``ray start`` in subprocesses; a sweep, a sharded measure and a sharded guard filter on it must
match the local executor exactly (1 and 2 workers). The cluster is stopped in the fixture's
teardown, even on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'modelcollapse[ray]')")

from modelcollapse.cli.app import main  # noqa: E402
from modelcollapse.data.bundled import kjv  # noqa: E402
from modelcollapse.errors import ModelCollapseError  # noqa: E402
from modelcollapse.execution import LocalExecutor, get_executor  # noqa: E402
from modelcollapse.execution.ray_cluster import RayExecutor  # noqa: E402
from modelcollapse.measure.sharded import measure_shards  # noqa: E402
from modelcollapse.sweep import parse_sweep, run_sweep  # noqa: E402

pytestmark = pytest.mark.slow  # starting a cluster takes about 10 s

STARTED = "Ray runtime started"
OBJECT_STORE_BYTES = 100 * 1024**2  # Ray's minimum is about 75 MiB; keep the test modest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(args: list[str], log: Path) -> subprocess.Popen:
    """``ray start --block ...`` in its own session, so that the node's processes form one
    process group that teardown can stop without touching any other Ray on the machine."""
    ray_cli = Path(sys.executable).with_name("ray")
    exe = str(ray_cli) if ray_cli.exists() else shutil.which("ray")
    if exe is None:
        pytest.skip("the `ray` command is not installed")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "start", "--block", "--disable-usage-stats", *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(os.environ),
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 90
    while STARTED not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_node(proc)
            pytest.fail(f"ray start failed:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)
    return proc


def stop_node(proc: subprocess.Popen) -> None:
    """Stop one node: SIGINT to ``ray start --block`` (it then shuts its node's processes
    down, about 2 s), and SIGKILL to whatever of its process group is left after 30 s.

    Not ``ray stop``: that kills every Ray process of the machine by name, other users'
    clusters included. (SIGTERM is ignored by the blocking ``ray start`` and the GCS server.)
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ray_env() -> Iterator[None]:
    """One explicit Ray environment for the nodes and for this process.

    The authentication mode is set whatever ~/.ray/auth_token holds (Ray >= 2.52 turns token
    mode on when that file exists, and a local ``ray.init()`` writes it). "token" would need
    Ray's process-wide config refreshed in this process, which imported ray already; the test
    cluster lives only for this module, on this machine.
    """
    env = pytest.MonkeyPatch()
    env.setenv("RAY_AUTH_MODE", "disabled")
    env.setenv("RAY_USAGE_STATS_ENABLED", "0")
    env.delenv("RAY_ADDRESS", raising=False)
    try:
        yield
    finally:
        env.undo()


@pytest.fixture(scope="module")
def cluster(ray_env, tmp_path_factory) -> Iterator[str]:
    """A head node (1 CPU) plus one worker node (1 CPU) on 127.0.0.1; yields the address."""
    logs = tmp_path_factory.mktemp("ray_logs")
    # Ray's temp dir holds Unix sockets, whose paths are limited to about 107 bytes: keep it
    # short rather than under pytest's deep tmp_path.
    temp = tempfile.mkdtemp(prefix="mcray")
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = [
        "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--temp-dir", temp,
        "--object-store-memory", str(OBJECT_STORE_BYTES),
        "--dashboard-agent-listen-port", str(free_port()),
    ]  # fmt: skip
    nodes: list[subprocess.Popen] = []
    try:
        head = ["--head", "--port", str(port), "--include-dashboard=false"]
        head += ["--dashboard-port", str(free_port())]  # the minimal dashboard still starts
        nodes.append(start_node([*head, *common], logs / "head.log"))
        common[-1] = str(free_port())
        nodes.append(start_node(["--address", address, *common], logs / "worker.log"))
        ray.init(address=address, logging_level="warning")
        try:
            deadline = time.monotonic() + 60
            while ray.cluster_resources().get("CPU", 0) < 2:
                assert time.monotonic() < deadline, f"expected 2 CPUs: {ray.cluster_resources()}"
                time.sleep(0.5)
        finally:
            ray.shutdown()
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for proc in reversed(nodes):
            stop_node(proc)
        shutil.rmtree(temp, ignore_errors=True)


def node_and_caps(_: int) -> tuple[str, str | None, str | None]:
    import ray as ray_in_task

    time.sleep(0.5)  # long enough for the two in flight to need both nodes' CPU
    return (
        ray_in_task.get_runtime_context().get_node_id(),
        os.environ.get("OMP_NUM_THREADS"),
        os.environ.get("MODELCOLLAPSE_TORCH_THREADS"),
    )


def slow_square(x: int) -> int:
    time.sleep(0.3)
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("expected not 3, got 3")
    return x


def test_executor_on_the_cluster(cluster):
    with get_executor("ray", address=cluster) as ex:
        assert isinstance(ex, RayExecutor) and ex.name == "ray"
        assert ex.workers == 2  # every CPU of the cluster
        assert sorted(ex.map(slow_square, range(8))) == [(i, i * i) for i in range(8)]
        seen = [result for _, result in ex.map(node_and_caps, range(8))]
        assert len({node for node, _, _ in seen}) == 2  # both nodes ran tasks
        assert {(omp, torch) for _, omp, torch in seen} == {("1", "1")}
        with pytest.raises(ModelCollapseError, match=r"task 3 failed: ValueError: expected not 3"):
            list(ex.map(fail_on_three, range(6)))
        assert sorted(ex.map(slow_square, [5])) == [(0, 25)]  # still usable after a failure
    assert not ray.is_initialized()  # close() disconnects the driver it connected


def test_private_local_ray(ray_env):
    # address=None: a Ray of this process only, shut down by close().
    with RayExecutor(None, 1, init_kwargs={"object_store_memory": OBJECT_STORE_BYTES}) as ex:
        assert ex.workers == 1 and ray.cluster_resources()["CPU"] == 1
        assert list(ex.map(slow_square, [2, 3])) == [(0, 4), (1, 9)]  # one at a time: in order
    assert not ray.is_initialized()
    ex.close()  # idempotent
    with pytest.raises(ModelCollapseError, match="already closed"):
        list(ex.map(slow_square, [1]))


def write_shards(folder: Path, docs: list[str], sizes: list[int]) -> Path:
    folder.mkdir(parents=True)
    start = 0
    for i, size in enumerate(sizes):
        lines = [json.dumps({"text": d}) for d in docs[start : start + size]]
        if i == 1:
            lines.insert(2, "{not json")  # one bad record, quarantined with --on-error skip
        (folder / f"part-{i:02d}.jsonl").write_text("".join(x + "\n" for x in lines))
        start += size
    return folder


def test_sharded_measure_matches_the_local_executor(cluster, tmp_path):
    verses = [d.text for d in kjv()]
    ref = write_shards(tmp_path / "ref", verses[:1200], [300, 300, 300, 300])
    cand = write_shards(tmp_path / "cand", verses[5000:5900], [100, 500, 0, 300])
    kw = dict(
        metrics=["vocab_size", "entropy", "distinct_2", "js", "rare_recall"], rng=11, n_boot=20,
        max_records=400, chunk_size=128, on_error="skip",
    )  # fmt: skip
    local_one = measure_shards(ref, cand, executor="local", workers=1, **kw).to_dict()
    with LocalExecutor(2) as ex:
        local_two = measure_shards(ref, cand, executor=ex, **kw).to_dict()
    on_ray = measure_shards(ref, cand, executor="ray", address=cluster, workers=2, **kw).to_dict()
    assert local_two == local_one
    assert on_ray == local_one
    assert local_one["n_candidate_total"] == 900 and local_one["n_bad_candidate"] == 1
    assert local_one["metrics"]["vocab_size"]["full_candidate"] is not None


def test_measure_cli_on_the_cluster(cluster, tmp_path, capsys):
    verses = [d.text for d in kjv()]
    ref = write_shards(tmp_path / "ref", verses[:300], [150, 150])
    cand = write_shards(tmp_path / "cand", verses[900:1100], [100, 100])
    args = ["measure", "-r", str(ref), "-c", str(cand / "*.jsonl"), "--metrics", "vocab_size,js",
            "--n-boot", "10", "--on-error", "skip", "--json"]  # fmt: skip
    outputs = []
    for extra in (["--workers", "1"], ["--executor", "ray", "--address", cluster]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, *extra])
        assert exit_info.value.code in (0, None)
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0]["n_candidate_total"] == 200


def test_sharded_guard_filter_matches_the_local_executor(cluster, tmp_path):
    from modelcollapse.guard.filter_plan import FilterPlan, WatermarkSpec
    from modelcollapse.guard.sharded import filter_shards

    verses = [d.text for d in kjv()]
    shards = write_shards(tmp_path / "shards", verses[3000:3090], [30, 30, 30])
    key = tmp_path / "wm.key"
    key.write_text("ray-cluster-guard-filter-test-key-0123456789\n")
    plan = FilterPlan(watermark=WatermarkSpec(key_file=key))
    kw = dict(on_error="skip", created_at="2024-01-01T00:00:00+00:00")
    local = filter_shards(shards, plan, tmp_path / "o1", tmp_path / "e1", workers=1, **kw)
    on_ray = filter_shards(
        shards, plan, tmp_path / "o2", tmp_path / "e2", executor="ray", address=cluster,
        workers=2, **kw,
    )  # fmt: skip
    for a, b in (("o1", "o2"), ("e1", "e2")):
        files = sorted(p.name for p in (tmp_path / a).iterdir() if not p.name.startswith("."))
        assert files == ["part-00.jsonl", "part-01.jsonl", "part-02.jsonl"]
        for name in files:
            assert (tmp_path / a / name).read_bytes() == (tmp_path / b / name).read_bytes()
    assert on_ray.stats.to_dict()["steps"] == local.stats.to_dict()["steps"]
    assert on_ray.stats.n_input == 90 and on_ray.n_bad == 1


SWEEP = {
    "name": "ray-check",
    "config": {
        "name": "gaussian",
        "seed": 0,
        "generations": 4,
        "replicates": 8,
        "samples_per_generation": 30,
        "data": {"source": "gaussian", "params": {"mean": 0.0, "std": 1.0, "n": 30}},
        "model": {"kind": "gaussian", "params": {"estimator": "mle"}},
        "policy": {"kind": "replace"},
        "metrics": ["mean", "variance"],
    },
    "grid": {"policy.kind": ["replace", "accumulate"], "seed": [0, 1]},
}


def test_sweep_matches_the_local_executor(cluster, tmp_path):
    spec = parse_sweep(SWEEP)
    tables = {}
    for label, make in (
        ("local1", lambda: LocalExecutor(1)),
        ("local2", lambda: LocalExecutor(2)),
        ("ray", lambda: RayExecutor(cluster, 2)),
    ):
        with make() as ex:
            result = run_sweep(spec, tmp_path / label, executor=ex, progress=False)
        assert len(result.computed) == 4 and not result.skipped
        tables[label] = result.results
    assert tables["local2"].equals(tables["local1"])
    assert tables["ray"].equals(tables["local1"])
    assert tables["ray"].num_rows == 4 * 5 * 8 * 2  # runs x generations x replicates x metrics
