"""Resuming a killed sharded ``guard filter``: the same bytes and stats as an uninterrupted run,
finished shards not redone, a different job refused, a changed shard redone, the key nowhere."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from modelcollapse.cli.app import app, main
from modelcollapse.data.bundled import kjv
from modelcollapse.data.document import Document, provenance
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.filter_plan import FilterPlan, RegistrySpec, WatermarkSpec
from modelcollapse.guard.filter_resume import JOB_FILE, done_record_path, read_done
from modelcollapse.guard.pipeline import PipelineStats, StepStats
from modelcollapse.guard.registry import Registry
from modelcollapse.guard.sharded import filter_shards

KEY = "sharded-resume-test-key-not-a-secret-0123456789abcdef"
OUTPUTS = ["p0.jsonl", "p1.jsonl", "p2.parquet", "p3.jsonl", "p4.jsonl", "p5.jsonl"]


def write_shards(folder: Path, verses: list[str], size: int) -> None:
    """Six shards in shard order: JSONL, JSONL, Parquet, JSONL (with provenance), CSV and TXT
    (without: they get the job's created_at)."""
    folder.mkdir(parents=True)
    parts = [
        [
            Document(
                f"d{i}-{j}",
                verses[i * size + j],
                {
                    "provenance": provenance(
                        verses[i * size + j], source="unknown", created_at="2020-01-01"
                    )
                },
            )
            for j in range(size)
        ]
        for i in range(6)
    ]
    for i in (0, 1, 3):
        write_jsonl(parts[i], folder / f"p{i}.jsonl")
    write_parquet(parts[2], folder / "p2.parquet")
    with (folder / "p4.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([d.id, d.text] for d in parts[4])
    (folder / "p5.txt").write_text("".join(d.text + "\n" for d in parts[5]), encoding="utf-8")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("sharded_resume")
    verses = [d.text for d in kjv()[:200]]
    key = root / "wm.key"
    key.write_text(KEY + "\n")
    registry = root / "reg.db"
    with Registry(f"sqlite:///{registry}") as reg:
        reg.register(verses[::5], generator="ngram")  # one verse in five is dropped
    write_shards(root / "shards", verses, 12)
    return {"root": root, "shards": root / "shards", "key": key, "registry": registry}


def make_plan(corpus: dict, *, z: float = 4.0, threshold: float | None = None) -> FilterPlan:
    return FilterPlan(
        registry=RegistrySpec(f"sqlite:///{corpus['registry']}", threshold=threshold),
        watermark=WatermarkSpec(key_file=corpus["key"], z_threshold=z),
    )


def read_dir(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def without_paths(obj):
    """``obj`` without the output folders' paths (they differ between the two runs)."""
    if isinstance(obj, dict):
        return {
            k: without_paths(v)
            for k, v in obj.items()
            if k not in ("output_path", "exclusions_path", "n_skipped")
        }
    if isinstance(obj, list):
        return [without_paths(v) for v in obj]
    return obj


def stored_created_at(exclusions: Path) -> str:
    return json.loads((exclusions / JOB_FILE).read_text())["created_at"]


# -- library ----------------------------------------------------------------------------------
def test_resume_after_lost_shards_equals_an_uninterrupted_run(corpus, tmp_path):
    plan = make_plan(corpus)
    out, ex = tmp_path / "o", tmp_path / "e"
    first = filter_shards(corpus["shards"], plan, out, ex, workers=1)  # created_at: now
    assert first.skipped == [] and sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)
    # What a kill leaves: shards without a done record, outputs missing, temporaries, garbage.
    done_record_path(ex, "p1.jsonl").unlink()  # p1: outputs there, record missing
    (out / "p3.jsonl").unlink()  # p3: record there, output missing
    (ex / "p4.jsonl").unlink()  # p4: the kill came between its two outputs
    done_record_path(ex, "p4.jsonl").unlink()
    done_record_path(ex, "p5.jsonl").write_text("{not json")
    (out / ".p1.jsonl.x7k2.tmp").write_text("half a shard")
    (ex / "..p4.jsonl.done.json.a1b2.tmp").write_text("{")
    (corpus["shards"] / ".p5.txt.quarantine.jsonl.zz.tmp").write_text("{")
    finished = {"p0.jsonl", "p2.parquet"}
    before_out, before_ex = mtimes(out), mtimes(ex)
    time.sleep(0.01)  # a rewrite would get another mtime

    res = filter_shards(corpus["shards"], plan, out, ex, workers=1, resume=True)
    assert res.skipped == [0, 2] and res.n_skipped == 2
    for name in finished:  # finished shards were not rewritten
        assert mtimes(out)[name] == before_out[name]
        assert mtimes(ex)[name] == before_ex[name]
        assert mtimes(ex)[f".{name}.done.json"] == before_ex[f".{name}.done.json"]
    assert mtimes(ex)[JOB_FILE] == before_ex[JOB_FILE]
    assert not [p for d in (out, ex, corpus["shards"]) for p in d.iterdir() if p.suffix == ".tmp"]

    clean = filter_shards(
        corpus["shards"], plan, tmp_path / "oc", tmp_path / "ec", workers=1,
        created_at=stored_created_at(ex),
    )  # fmt: skip
    assert read_dir(out) == read_dir(tmp_path / "oc")
    assert read_dir(ex) == read_dir(tmp_path / "ec")  # job and done records included
    assert without_paths(res.to_dict()) == without_paths(clean.to_dict())
    assert res.stats.output_path == out and res.shards[0].stats.exclusions_path == ex / "p0.jsonl"
    reasons = res.stats.steps[0].reasons
    assert (
        reasons == Counter(registry_exact=reasons["registry_exact"]) and reasons["registry_exact"]
    )
    for blob in read_dir(ex).values():  # job and done records: the key's fingerprint only
        assert KEY.encode() not in blob and KEY.encode().hex().encode() not in blob
    job = json.loads((ex / JOB_FILE).read_text())
    assert job["checks"]["watermark"]["key_sha256"] and "key" not in job["checks"]["watermark"]

    # A finished job: everything skipped, nothing rewritten, no executor needed.
    before = mtimes(out) | {f"e/{k}": v for k, v in mtimes(ex).items()}
    again = filter_shards(corpus["shards"], plan, out, ex, executor="ray", resume=True)
    assert again.n_skipped == 6 and without_paths(again.to_dict()) == without_paths(res.to_dict())
    assert mtimes(out) | {f"e/{k}": v for k, v in mtimes(ex).items()} == before


def test_a_different_job_is_refused_in_one_line(corpus, tmp_path):
    plan = make_plan(corpus)
    out, ex = tmp_path / "o", tmp_path / "e"
    shards = sorted(corpus["shards"].glob("p*"))
    filter_shards(shards, plan, out, ex, workers=1)
    other_key = tmp_path / "other.key"
    other_key.write_text("another-key-0123456789abcdef0123456789\n")
    other = FilterPlan(
        registry=plan.registry, watermark=WatermarkSpec(key_file=other_key)
    )  # fmt: skip
    cases = [
        (dict(plan=other), "'checks.watermark.key_sha256' differs"),
        (dict(plan=make_plan(corpus, z=3.0)), "'checks.watermark.z_threshold' differs"),
        (dict(plan=make_plan(corpus, threshold=0.5)), "'settings.registry.threshold' differs"),
        (dict(inputs=shards[:-1]), "'shards' differs"),
        (dict(inputs=[shards[1], shards[0], *shards[2:]]), "'shards.0' differs"),
        (dict(on_error="skip"), "'on_error' differs: stored 'fail', now 'skip'"),
        (dict(text_field="body"), "'text_field' differs"),
        (dict(created_at="1999-01-01T00:00:00+00:00"), "'created_at' differs"),
    ]
    for change, message in cases:
        inputs, plan_ = change.pop("inputs", shards), change.pop("plan", plan)
        with pytest.raises(InvalidParameterError) as info:
            filter_shards(inputs, plan_, out, ex, workers=1, resume=True, **change)
        assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
        assert "records a different guard filter job" in str(info.value)
    with pytest.raises(InvalidParameterError, match="at most one of overwrite"):
        filter_shards(shards, plan, out, ex, overwrite=True, resume=True)
    with pytest.raises(InvalidParameterError, match=r"expected .* to hold an interrupted"):
        filter_shards(shards, plan, tmp_path / "o2", tmp_path / "e2", resume=True)
    assert not (tmp_path / "o2").exists() and not (tmp_path / "e2").exists()
    # A job record but no outputs (killed before the first shard finished): a plain rerun is
    # refused, --resume or --overwrite go on.
    for name in OUTPUTS:
        (out / name).unlink()
        (ex / name).unlink()
    with pytest.raises(InvalidParameterError, match="expected no earlier guard filter job"):
        filter_shards(shards, plan, out, ex, workers=1)
    assert filter_shards(shards, plan, out, ex, workers=1, resume=True).n_skipped == 0
    assert filter_shards(shards, plan, out, ex, workers=1, overwrite=True).n_skipped == 0


def test_a_changed_shard_is_recomputed(corpus, tmp_path):
    shards = tmp_path / "in"
    shutil.copytree(corpus["shards"], shards, ignore=shutil.ignore_patterns("*.tmp"))
    plan = make_plan(corpus)
    out, ex = tmp_path / "o", tmp_path / "e"
    stamp = "2024-05-01T00:00:00+00:00"
    filter_shards(shards, plan, out, ex, workers=1, created_at=stamp)
    with (shards / "p1.jsonl").open("a", encoding="utf-8") as fh:  # new content
        fh.write(json.dumps({"id": "new", "text": "a record added after the run"}) + "\n")
    os.utime(shards / "p5.txt")  # same bytes, newer mtime: not known to be the same shard
    res = filter_shards(shards, plan, out, ex, workers=1, resume=True)
    assert res.skipped == [0, 2, 3, 4]
    clean = filter_shards(shards, plan, tmp_path / "oc", tmp_path / "ec", created_at=stamp)
    assert res.stats.n_input == clean.stats.n_input == 6 * 12 + 1
    assert read_dir(out) == read_dir(tmp_path / "oc") and read_dir(ex) == read_dir(tmp_path / "ec")
    assert without_paths(res.to_dict()) == without_paths(clean.to_dict())


def test_quarantined_records_survive_a_resume(corpus, tmp_path):
    shards = tmp_path / "in"
    shards.mkdir()
    (shards / "a.jsonl").write_text('{"text": "a fine record"}\n{"text": 3}\n')
    (shards / "b.jsonl").write_text('{"text": "another fine record"}\nnot json\n')
    plan = make_plan(corpus)
    out, ex = tmp_path / "o", tmp_path / "e"
    first = filter_shards(shards, plan, out, ex, workers=1, on_error="skip")
    (shards / "b.jsonl.quarantine.jsonl").unlink()  # its bad records are lost: redo the shard
    res = filter_shards(shards, plan, out, ex, workers=1, on_error="skip", resume=True)
    assert res.skipped == [0] and res.n_bad == first.n_bad == 2
    assert [s.quarantine_path for s in res.shards] == [s.quarantine_path for s in first.shards]
    assert (shards / "b.jsonl.quarantine.jsonl").is_file()


# -- stats round trip and malformed records ---------------------------------------------------
counts = st.integers(min_value=0, max_value=10**12)
step_stats = st.builds(
    lambda name, a, b, c, r: StepStats(name, a, b, c, Counter(r)),
    st.text(min_size=1, max_size=8), counts, counts, counts,
    st.dictionaries(st.text(max_size=8), st.integers(min_value=0, max_value=10**6), max_size=4),
)  # fmt: skip


@settings(max_examples=50)
@given(steps=st.lists(step_stats, max_size=3), n=st.tuples(counts, counts, counts))
def test_pipeline_stats_round_trip_through_json(steps, n):
    stats = PipelineStats(*n, steps, output_path=Path("o/x.jsonl"))
    back = PipelineStats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert back.to_dict() == stats.to_dict() and back.documents is None
    assert [s.reasons for s in back.steps] == [s.reasons for s in steps]


@pytest.mark.parametrize(
    "bad",
    [
        None, [], {"steps": {}}, {"steps": [], "n_input": -1, "n_output": 0, "n_excluded": 0},
        {"steps": [], "n_input": True, "n_output": 0, "n_excluded": 0},
        {"steps": [{"name": "s", "n_in": 1, "n_kept": 1, "n_excluded": 0, "reasons": {"r": "x"}}],
         "n_input": 1, "n_output": 1, "n_excluded": 0},
        {"steps": [{"n_in": 1}], "n_input": 1, "n_output": 1, "n_excluded": 0},
        {"steps": [], "n_input": 0, "n_output": 0, "n_excluded": 0, "output_path": 3},
    ],
)  # fmt: skip
def test_malformed_stats_are_refused(bad):
    with pytest.raises(InvalidParameterError, match="expected"):
        PipelineStats.from_dict(bad)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    blob=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda d: json.dumps(d).encode(), st.dictionaries(st.text(max_size=10),
                  st.one_of(st.none(), st.integers(), st.text(max_size=10)), max_size=6)),
    )
)  # fmt: skip
def test_a_malformed_done_record_means_recompute(blob, tmp_path):
    shard, o, e, record = (tmp_path / n for n in ("s.jsonl", "o.jsonl", "e.jsonl", ".r.json"))
    for p in (shard, o, e):
        p.write_text("")
    record.write_bytes(blob)
    assert read_done(record, job="j", shard=shard, output_path=o, exclusions_path=e) is None


# -- CLI --------------------------------------------------------------------------------------
def cli_args(corpus: dict, shards: Path, out: Path, ex: Path) -> list[str]:
    return [
        "guard", "filter", str(shards), "--out", str(out), "--exclusions", str(ex),
        "--registry", f"sqlite:///{corpus['registry']}",
        "--watermark-key-file", str(corpus["key"]),
    ]  # fmt: skip


def test_cli_resume_flags(corpus, tmp_path, capsys):
    out, ex = tmp_path / "o", tmp_path / "e"
    args = cli_args(corpus, corpus["shards"], out, ex)
    assert CliRunner().invoke(app, [*args, "--workers", "1"]).exit_code == 0
    resumed = CliRunner().invoke(app, [*args, "--workers", "1", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "skipped 6 finished shard(s)" in resumed.stdout
    for extra, message in (
        (["--resume", "--overwrite"], "at most one of overwrite"),
        (["--resume", "--exclusions", str(tmp_path / "e2"), "--out", str(tmp_path / "o2")],
         "to hold an interrupted guard filter job"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main([*args, "--workers", "1", *extra])
        assert info.value.code == 2
        # Only the error line: a logging handler another test (Ray's) left on a closed stream
        # may add its own complaint to stderr in the same worker process.
        err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
        assert len(err) == 1 and message in err[0], err
    single = [*cli_args(corpus, corpus["shards"] / "p0.jsonl", tmp_path / "k.jsonl", ex)]
    with pytest.raises(SystemExit):
        main([*single, "--resume"])
    assert "--resume: expected shards" in capsys.readouterr().err


def done_count(ex: Path) -> int:
    try:
        return sum(n.endswith(".done.json") and n.startswith(".s") for n in os.listdir(ex))
    except FileNotFoundError:
        return 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_mid_job_then_resume_matches_uninterrupted(corpus, tmp_path):
    # About 3 s: two CLI processes, the killed one with a spawned pool of two workers.
    shards = tmp_path / "in"
    shards.mkdir()
    verses = [d.text for d in kjv()[:1200]]
    n_shards = 60
    for i in range(n_shards):  # many small shards: a kill lands between finished shards
        part = verses[20 * i : 20 * i + 20]
        (shards / f"s{i:02d}.txt").write_text("".join(v + "\n" for v in part), encoding="utf-8")
    out, ex = tmp_path / "killed_o", tmp_path / "killed_e"
    cmd = [sys.executable, "-m", "modelcollapse.cli.app", *cli_args(corpus, shards, out, ex)]
    proc = subprocess.Popen(
        [*cmd, "--executor", "local", "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill reaches the pool workers too
    )
    deadline = time.monotonic() + 120
    try:
        while done_count(ex) < 3:
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"the job ended (rc={proc.returncode}) before the kill: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the job finished no shard within 120 s")
            time.sleep(0.002)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    n_done = done_count(ex)
    assert 3 <= n_done < n_shards
    finished = [
        p.name[1 : -len(".done.json")] for p in ex.iterdir() if p.name.endswith(".done.json")
    ]
    files = [ex / f".{n}.done.json" for n in finished] + [out / n for n in finished]
    files += [ex / n for n in finished]
    before = {p: p.stat().st_mtime_ns for p in files}

    resumed = subprocess.run(
        [*cmd, "--resume", "--workers", "1"], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"skipped {n_done} finished shard(s)" in resumed.stdout
    for path, mtime in before.items():  # finished shards were not redone
        assert path.stat().st_mtime_ns == mtime, path

    clean = filter_shards(
        shards, make_plan(corpus), tmp_path / "oc", tmp_path / "ec", workers=1,
        created_at=stored_created_at(ex),
    )  # fmt: skip
    assert read_dir(out) == read_dir(tmp_path / "oc")
    assert read_dir(ex) == read_dir(tmp_path / "ec")
    assert f"input {clean.stats.n_input} = kept {clean.stats.n_output}" in resumed.stdout
    assert not [p for p in (*out.iterdir(), *ex.iterdir()) if p.suffix == ".tmp"]
