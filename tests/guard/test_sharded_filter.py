"""Sharded ``guard filter``: one task per shard, the same bytes and stats for 1 or 2 local
workers and Ray, the totals of the single-file filter, the key never in a task, bad input."""

from __future__ import annotations

import csv
import itertools
import json
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from modelcollapse.cli.app import app, main
from modelcollapse.data.bundled import kjv
from modelcollapse.data.document import Document, provenance
from modelcollapse.data.quarantine import Quarantine
from modelcollapse.data.readers import read_documents
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.execution import LocalExecutor
from modelcollapse.generators.ngram import NGram
from modelcollapse.guard.classifier import NGramClassifier
from modelcollapse.guard.filter_plan import DetectorSpec, FilterPlan, RegistrySpec, WatermarkSpec
from modelcollapse.guard.pipeline import PipelineStats, StepStats, run_pipeline
from modelcollapse.guard.registry import Registry
from modelcollapse.guard.sharded import (
    ShardFilterTask,
    filter_shards,
    iter_shard_documents,
    output_name,
)

KEY = "sharded-filter-test-key-not-a-secret-0123456789abcdef"
STAMP = "2024-05-01T00:00:00+00:00"
SHARDS = ["part-0.jsonl", "part-1.parquet", "part-2.csv", "part-3.txt"]
OUTPUTS = ["part-0.jsonl", "part-1.parquet", "part-2.jsonl", "part-3.jsonl"]
SIZES = [12, 10, 8, 6]


def shuffled(text: str, rng: np.random.Generator) -> str:
    words = "".join(c for c in text if c.isalnum() or c.isspace()).split()
    rng.shuffle(words)
    return " ".join(words)


def write_csv(docs: list[Document], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "text"])
        w.writerows([d.id, d.text] for d in docs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """Four shards (JSONL, Parquet, CSV, TXT) of KJV passages, watermarked n-gram text and
    registered 'generated' text; the same documents as one JSONL file; key, registry and a
    classifier."""
    root = tmp_path_factory.mktemp("sharded_filter")
    key = root / "wm.key"
    key.write_text(KEY + "\n")
    verses = [d.text for d in kjv()[:3000]]
    model = NGram(n=2, watermark={"key_file": str(key), "gamma": 0.25, "delta": 4.0})
    samples = model.fit(verses).sample(48, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    human = [" ".join(verses[2000 + 4 * i : 2004 + 4 * i]) for i in range(24)]
    marked = [" ".join(samples[8 * i : 8 * i + 8]) for i in range(6)]
    generated = [shuffled(verses[2500 + i], rng) for i in range(5)]
    registry = root / "reg.db"
    with Registry(f"sqlite:///{registry}") as reg:
        reg.register(generated, generator="ngram")
    texts = (
        [("h", t) for t in human]
        + [("w", t) for t in marked]
        + [("g", t) for t in generated]
        + [("g", generated[0].upper())]  # normalisation makes this an exact match too
    )
    order = rng.permutation(len(texts))
    docs: list[Document] = []
    for n, i in enumerate(order.tolist()):
        kind, text = texts[i]
        meta = {"provenance": provenance(text, source="unknown", created_at="2020-01-01")}
        docs.append(Document(f"{kind}{n}", text, meta))
    shard_dir = root / "shards"
    shard_dir.mkdir()
    bounds = np.cumsum([0, *SIZES])
    parts = [docs[a:b] for a, b in itertools.pairwise(bounds)]
    write_jsonl(parts[0], shard_dir / SHARDS[0])
    write_parquet(parts[1], shard_dir / SHARDS[1])
    write_csv(parts[2], shard_dir / SHARDS[2])  # no provenance: stamped on reading
    (shard_dir / SHARDS[3]).write_text("".join(d.text + "\n" for d in parts[3]))
    # The same documents in one file, as the shards read them (CSV: no provenance; TXT: ids
    # "<stem>:<line>").
    flat = parts[0] + parts[1] + [Document(d.id, d.text) for d in parts[2]]
    flat += [Document(f"part-3:{i + 1}", d.text) for i, d in enumerate(parts[3])]
    write_jsonl(flat, root / "all.jsonl")
    clf = NGramClassifier(n_features=4096).fit(verses[:200], list(samples))
    clf_dir = clf.save(root / "clf")
    return {
        "root": root,
        "shards": shard_dir,
        "key": key,
        "registry": f"sqlite:///{registry}",
        "classifier": clf_dir,
        "all": root / "all.jsonl",
        "n": len(docs),
        "kinds": Counter(kind for kind, _ in texts),
        "kind_of": {d.id: d.id[0] for d in flat[: -len(parts[3])]}
        | {f"part-3:{i + 1}": d.id[0] for i, d in enumerate(parts[3])},
    }


def full_plan(corpus: dict) -> FilterPlan:
    return FilterPlan(
        registry=RegistrySpec(corpus["registry"]),
        watermark=WatermarkSpec(key_file=corpus["key"]),
        detector=DetectorSpec("classifier", 0.9, classifier=corpus["classifier"]),
    )


def read_dir(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def kept_ids(folder: Path) -> list[str]:
    return [d.id for name in OUTPUTS for d in read_documents_or_empty(folder / name)]


def read_documents_or_empty(path: Path) -> list[Document]:
    try:
        return read_documents(path).documents
    except DataError as exc:
        assert "no records" in str(exc)
        return []


def counts(stats: PipelineStats) -> dict:
    d = stats.to_dict()
    return {k: v for k, v in d.items() if k not in ("output_path", "exclusions_path")}


# -- identical results ------------------------------------------------------------------------
def test_one_and_two_local_workers_write_the_same_bytes_as_the_single_file_filter(corpus, tmp_path):
    plan = full_plan(corpus)
    one = filter_shards(
        corpus["shards"], plan, tmp_path / "o1", tmp_path / "e1", workers=1, created_at=STAMP
    )
    with LocalExecutor(2) as ex:
        two = filter_shards(
            corpus["shards"], plan, tmp_path / "o2", tmp_path / "e2", executor=ex,
            created_at=STAMP,
        )  # fmt: skip
    assert sorted(read_dir(tmp_path / "o1")) == sorted(OUTPUTS)
    assert read_dir(tmp_path / "o1") == read_dir(tmp_path / "o2")
    assert read_dir(tmp_path / "e1") == read_dir(tmp_path / "e2")
    assert counts(one.stats) == counts(two.stats)
    assert [s.to_dict()["n_input"] for s in one.shards] == SIZES
    assert one.n_shards == 4 and one.n_bad == 0
    # The single-file filter over the same documents in one file: same totals, same kept ids.
    with plan.open_steps() as steps:
        single = run_pipeline(
            read_documents(corpus["all"]).documents, steps,
            exclusions_path=tmp_path / "single_ex.jsonl", output_path=tmp_path / "single.jsonl",
        )  # fmt: skip
    assert counts(one.stats) == counts(single)
    single_kept = read_documents(tmp_path / "single.jsonl").documents
    assert kept_ids(tmp_path / "o1") == [d.id for d in single_kept]
    s = one.stats
    assert s.n_input == corpus["n"] == s.n_output + s.n_excluded
    steps = {st.name: st for st in s.steps}
    assert steps["registry"].reasons == Counter(registry_exact=corpus["kinds"]["g"])
    assert steps["watermark"].reasons == Counter(watermark=corpus["kinds"]["w"])
    for st_ in s.steps:
        assert st_.n_in == st_.n_kept + st_.n_excluded
    # CSV and TXT records without provenance got the job's one timestamp.
    stamps = {
        d.metadata["provenance"]["created_at"]
        for name in ("part-2.jsonl", "part-3.jsonl")
        for folder in ("o1", "e1")
        for d in read_documents_or_empty(tmp_path / folder / name)
    }
    assert stamps == {STAMP}
    assert one.checks["watermark"]["key_sha256"] and one.checks["detector"]["threshold"] == 0.9


def test_watermark_on_shards_drops_ngram_text_and_keeps_kjv(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCOLLAPSE_TEST_SHARDED_KEY", KEY)
    plan = FilterPlan(watermark=WatermarkSpec(key_env="MODELCOLLAPSE_TEST_SHARDED_KEY"))
    # workers=2: the spawned workers read the key from the environment they inherit.
    res = filter_shards(corpus["shards"], plan, tmp_path / "o", tmp_path / "e", workers=2)
    kept = kept_ids(tmp_path / "o")
    dropped = [d for name in OUTPUTS for d in read_documents_or_empty(tmp_path / "e" / name)]
    kind_of = corpus["kind_of"]
    assert [kind_of[d.id] for d in dropped] == ["w"] * corpus["kinds"]["w"]
    assert len(kept) == corpus["n"] - corpus["kinds"]["w"]
    assert "w" not in {kind_of[i] for i in kept}
    for d in dropped:
        assert d.metadata["exclusion"] == {"step": "watermark", "reason": "watermark"}
        assert d.metadata["guard"]["watermark"]["z"] > 4
    assert res.stats.steps[0].reasons == Counter(watermark=corpus["kinds"]["w"])
    # The key is in no output file, no summary and no task argument.
    blobs = [*read_dir(tmp_path / "o").values(), *read_dir(tmp_path / "e").values()]
    blobs.append(json.dumps(res.to_dict()).encode())
    for plan_ in (plan, FilterPlan(watermark=WatermarkSpec(key_file=corpus["key"]))):
        task = ShardFilterTask(
            corpus["shards"] / SHARDS[0], plan_, tmp_path / "x.jsonl", tmp_path / "y.jsonl",
            "text", "id", "fail", STAMP,
        )  # fmt: skip
        blobs.append(pickle.dumps(task))
    for blob in blobs:
        assert KEY.encode() not in blob and KEY.encode().hex().encode() not in blob


def test_registry_check_with_one_sqlite_file_shared_by_the_workers(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(corpus["root"])  # a relative SQLite URL is made absolute for the workers
    plan = FilterPlan(registry=RegistrySpec("sqlite:///reg.db", near=True))
    res = filter_shards(
        corpus["shards"], plan, tmp_path / "o", tmp_path / "e", workers=2, created_at=STAMP
    )
    assert res.stats.steps[0].reasons == Counter(registry_exact=corpus["kinds"]["g"])
    assert res.checks["registry"]["url"].endswith(str(corpus["root"] / "reg.db"))
    dropped = [d for name in OUTPUTS for d in read_documents_or_empty(tmp_path / "e" / name)]
    assert [corpus["kind_of"][d.id] for d in dropped] == ["g"] * corpus["kinds"]["g"]
    with pytest.raises(InvalidParameterError, match="in-memory SQLite"):
        filter_shards(
            corpus["shards"], FilterPlan(registry=RegistrySpec("sqlite://")), tmp_path / "o3",
            tmp_path / "e3", workers=1,
        )  # fmt: skip


@pytest.mark.slow  # starting a private Ray takes several seconds
def test_a_private_ray_writes_the_same_bytes(corpus, tmp_path, monkeypatch):
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from modelcollapse.execution.ray_cluster import RayExecutor

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    plan = full_plan(corpus)
    local = filter_shards(
        corpus["shards"], plan, tmp_path / "o1", tmp_path / "e1", workers=1, created_at=STAMP
    )
    with RayExecutor(None, 2, init_kwargs={"object_store_memory": 100 * 1024**2}) as ex:
        on_ray = filter_shards(
            corpus["shards"], plan, tmp_path / "o2", tmp_path / "e2", executor=ex,
            created_at=STAMP,
        )  # fmt: skip
    assert not ray.is_initialized()
    assert read_dir(tmp_path / "o1") == read_dir(tmp_path / "o2")
    assert read_dir(tmp_path / "e1") == read_dir(tmp_path / "e2")
    assert counts(local.stats) == counts(on_ray.stats)


# -- bad input --------------------------------------------------------------------------------
def lines(*texts: str) -> str:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts)


@pytest.fixture
def key_plan(corpus) -> FilterPlan:
    return FilterPlan(watermark=WatermarkSpec(key_file=corpus["key"]))


def test_a_malformed_line_fails_in_one_line_or_is_skipped_and_counted(key_plan, tmp_path):
    shards = tmp_path / "in"
    shards.mkdir()
    (shards / "a.jsonl").write_text(lines("one fine line", "another fine line"))
    bad = shards / "b.jsonl"
    bad.write_text(lines("fine") + '{"text": "unterminated\n' + lines("fine again"))
    with pytest.raises(DataError) as info:
        filter_shards(shards, key_plan, tmp_path / "o", tmp_path / "e", workers=2)
    msg = str(info.value)
    assert msg.startswith(f"{bad}:2: ") and "\n" not in msg and "invalid JSON" in msg
    assert not (tmp_path / "o" / "b.jsonl").exists()  # never a half shard under its name
    res = filter_shards(
        shards, key_plan, tmp_path / "o2", tmp_path / "e2", workers=2, on_error="skip"
    )
    assert res.n_bad == 1 and res.stats.n_input == 4
    assert [s.n_bad for s in res.shards] == [0, 1]
    quarantined = json.loads((shards / "b.jsonl.quarantine.jsonl").read_text())
    assert quarantined["line"] == 2 and quarantined["path"] == str(bad)
    # The quarantine file is not a shard of a rerun.
    again = filter_shards(
        shards, key_plan, tmp_path / "o3", tmp_path / "e3", on_error="skip", workers=1
    )
    assert again.n_shards == 2


def test_empty_shards_and_empty_directories(key_plan, tmp_path):
    shards = tmp_path / "in"
    shards.mkdir()
    (shards / "a.jsonl").write_text(lines("some words here"))
    (shards / "b.jsonl").write_text("")
    res = filter_shards(shards, key_plan, tmp_path / "o", tmp_path / "e", workers=1)
    assert res.stats.n_input == 1 and [s.stats.n_input for s in res.shards] == [1, 0]
    assert (tmp_path / "o" / "b.jsonl").read_bytes() == b""
    (shards / "a.jsonl").write_text("\n  \n")  # blank lines only: no records anywhere
    with pytest.raises(DataError, match=r"\(2 shards\): no records"):
        filter_shards(shards, key_plan, tmp_path / "o2", tmp_path / "e2", workers=1)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="expected data files"):
        filter_shards(tmp_path / "none", key_plan, tmp_path / "o3", tmp_path / "e3")
    with pytest.raises(DataError, match="matching the pattern"):
        filter_shards(str(tmp_path / "none" / "*.jsonl"), key_plan, tmp_path / "o", tmp_path / "e")


def test_output_folders_are_refused_unless_overwrite(key_plan, tmp_path):
    shards = tmp_path / "in"
    shards.mkdir()
    (shards / "a.jsonl").write_text(lines("the first shard"))
    (shards / "b.txt").write_text("the second shard\n")
    out, ex = tmp_path / "o", tmp_path / "e"
    filter_shards(shards, key_plan, out, ex, workers=1)
    with pytest.raises(InvalidParameterError, match="expected no existing output file"):
        filter_shards(shards, key_plan, out, ex, workers=1)
    res = filter_shards(shards, key_plan, out, ex, workers=1, overwrite=True)
    assert res.stats.n_input == 2 and sorted(read_dir(out)) == ["a.jsonl", "b.jsonl"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    with pytest.raises(InvalidParameterError, match="different out_dir and exclusions_dir"):
        filter_shards(shards, key_plan, out, out, overwrite=True)
    with pytest.raises(InvalidParameterError, match="apart from the input shards"):
        filter_shards(shards, key_plan, shards, ex, overwrite=True)
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidParameterError, match="expected a directory"):
        filter_shards(shards, key_plan, tmp_path / "file", ex, overwrite=True)
    (shards / "a.txt").write_text("a clash of names\n")
    with pytest.raises(InvalidParameterError, match="distinct output names"):
        filter_shards(shards, key_plan, tmp_path / "o9", tmp_path / "e9")
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(DataError, match="expected a text format"):
        filter_shards([tmp_path / "x.npy"], key_plan, tmp_path / "o9", tmp_path / "e9")
    with pytest.raises(InvalidParameterError, match="on_error"):
        filter_shards(shards, key_plan, tmp_path / "o9", tmp_path / "e9", on_error="ignore")
    with pytest.raises(InvalidParameterError, match="expected a FilterPlan"):
        filter_shards(shards, {"watermark": None}, tmp_path / "o9", tmp_path / "e9")  # type: ignore[arg-type]


def test_plan_validation(tmp_path):
    with pytest.raises(InvalidParameterError, match="at least one check"):
        FilterPlan()
    with pytest.raises(InvalidParameterError, match="exactly one of key_file or key_env"):
        WatermarkSpec()
    with pytest.raises(InvalidParameterError, match="exactly one of key_file or key_env"):
        WatermarkSpec(key_file="k", key_env="K")
    with pytest.raises(InvalidParameterError, match="seeding"):
        WatermarkSpec(key_env="K", seeding="sha1")
    with pytest.raises(InvalidParameterError, match="gamma"):
        WatermarkSpec(key_env="K", gamma=1.5)
    with pytest.raises(InvalidParameterError, match="saved classifier directory"):
        DetectorSpec("classifier", 0.5)
    with pytest.raises(InvalidParameterError, match="only with method 'classifier'"):
        DetectorSpec("loglik", 0.5, classifier=tmp_path)
    with pytest.raises(InvalidParameterError, match="detector threshold"):
        DetectorSpec("loglik", float("nan"))
    with pytest.raises(InvalidParameterError, match="registry threshold"):
        RegistrySpec("sqlite:///r.db", threshold=2.0)
    with pytest.raises(InvalidParameterError, match="expected a WatermarkSpec"):
        FilterPlan(watermark={"key_env": "K"})  # type: ignore[arg-type]
    # A missing key file fails on the driver, before any task.
    plan = FilterPlan(watermark=WatermarkSpec(key_file=tmp_path / "missing.key"))
    (tmp_path / "in.jsonl").write_text(lines("text"))
    with pytest.raises(DataError, match="cannot read the watermark key file"):
        filter_shards(tmp_path / "in.jsonl", plan, tmp_path / "o", tmp_path / "e")
    assert not (tmp_path / "o").exists()


def test_output_names():
    assert output_name(Path("d/a.jsonl")) == "a.jsonl"
    assert output_name(Path("d/a.ndjson.gz")) == "a.ndjson.gz"
    assert output_name(Path("d/a.b.parquet")) == "a.b.parquet"
    assert output_name(Path("d/a.csv")) == "a.jsonl"
    assert output_name(Path("d/a.txt.gz")) == "a.jsonl"


class _RayLikeError(Exception):
    """Stands in for Ray's task error, which carries the task's own error as ``cause``."""

    def __init__(self, cause: BaseException):
        super().__init__("a long wrapper text\nwith a traceback")
        self.cause = cause


def test_the_task_error_is_found_behind_the_executor_error():
    from modelcollapse.errors import ModelCollapseError
    from modelcollapse.execution.base import task_cause

    bad = DataError("invalid JSON", path="s.jsonl", line=3)
    try:
        try:
            raise _RayLikeError(bad)
        except _RayLikeError as exc:
            raise ModelCollapseError("task 2 failed") from exc
    except ModelCollapseError as outer:
        assert task_cause(outer) is bad
    local = ModelCollapseError("task 0 failed")
    local.__cause__ = InvalidParameterError("tokenizer: expected a name")
    assert isinstance(task_cause(local), InvalidParameterError)
    assert task_cause(ModelCollapseError("task 0 failed: ValueError")) is None


# -- merged stats -----------------------------------------------------------------------------
def test_pipeline_stats_merge_in_order():
    a = PipelineStats(
        3, 2, 1, [StepStats("s", 3, 2, 1, Counter(x=1))], documents=[Document("1", "t")]
    )
    b = PipelineStats(4, 1, 3, [StepStats("s", 4, 1, 3, Counter(x=2, y=1))], documents=None)
    m = PipelineStats.merged([a, b], output_path="out")
    assert (m.n_input, m.n_output, m.n_excluded) == (7, 3, 4)
    assert m.steps[0].reasons == Counter(x=3, y=1) and m.steps[0].n_in == 7
    assert m.documents is None and m.output_path == Path("out")
    assert a.steps[0].reasons == Counter(x=1)  # parts untouched
    only = PipelineStats.merged([a])
    assert only.documents == a.documents and only.steps[0] is not a.steps[0]
    with pytest.raises(InvalidParameterError, match="expected the steps"):
        PipelineStats.merged([a, PipelineStats(0, 0, 0, [StepStats("t")])])
    with pytest.raises(InvalidParameterError, match="at least one"):
        PipelineStats.merged([])
    with pytest.raises(InvalidParameterError, match="expected stats of step"):
        StepStats("s").merge(StepStats("t"))


# -- the streaming reader follows read_documents ----------------------------------------------
record = st.one_of(
    st.builds(lambda t: json.dumps({"text": t}), st.text(max_size=30)),
    st.builds(lambda t, i: json.dumps({"text": t, "id": i}), st.text(max_size=10), st.integers()),
    st.just('{"text": 3}'),
    st.just("not json"),
    st.just('{"text": "x", "provenance": {"source": "alien"}}'),
    st.just('{"text": "x", "provenance": "{\\"source\\": \\"human\\"}"}'),
    st.just("[1, 2]"),
    st.just(""),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(record, max_size=12))
def test_streamed_shard_documents_match_read_documents(rows, tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    for stale in tmp_path.glob("*.quarantine.jsonl"):
        stale.unlink()
    with Quarantine(path, "skip") as q:
        got = list(iter_shard_documents(path, q, created_at=STAMP))
    n_bad = q.n_bad
    try:
        want = read_documents(path, on_error="skip")
    except DataError as exc:
        assert not got and "no" in str(exc)
        return
    assert n_bad == want.n_bad
    assert [(d.id, d.text) for d in got] == [(d.id, d.text) for d in want.documents]
    for g, w in zip(got, want.documents, strict=True):
        gp, wp = dict(g.metadata["provenance"]), dict(w.metadata["provenance"])
        assert gp.pop("created_at") == STAMP
        wp.pop("created_at")
        assert gp == wp


# -- CLI --------------------------------------------------------------------------------------
def test_cli_filters_a_directory_with_two_local_workers(corpus, tmp_path, capsys):
    out, ex = tmp_path / "kept", tmp_path / "excluded"
    args = [
        "guard", "filter", str(corpus["shards"]), "--out", str(out), "--exclusions", str(ex),
        "--watermark-key-file", str(corpus["key"]), "--executor", "local", "--workers", "2",
    ]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert s["n_shards"] == 4 and s["n_input"] == corpus["n"] == s["n_output"] + s["n_excluded"]
    assert s["steps"][0]["reasons"] == {"watermark": corpus["kinds"]["w"]}
    assert s["checks"]["watermark"]["key_sha256"] and s["n_bad"] == 0
    assert KEY not in result.stdout
    assert sorted(read_dir(out)) == sorted(OUTPUTS)
    text = CliRunner().invoke(app, [*args, "--overwrite"])
    assert text.exit_code == 0, text.output
    assert f"input {corpus['n']} = kept {s['n_output']} ({out})" in text.stdout
    assert "4 shard(s)" in text.stdout
    # Outputs already there: one line, exit 2.
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    # The error line alone (another test's logging handler may complain on stderr too).
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(err) == 1 and "expected no existing output file" in err[0]


def test_cli_calibrates_on_the_driver_and_records_it(corpus, tmp_path):
    human = tmp_path / "human.jsonl"
    write_jsonl([Document(f"k{i}", d.text) for i, d in enumerate(kjv()[2600:2700])], human)
    result = CliRunner().invoke(
        app,
        ["guard", "filter", str(corpus["shards"] / "*.jsonl"), "--out", str(tmp_path / "o"),
         "--exclusions", str(tmp_path / "e"), "--detector", "classifier", "--classifier",
         str(corpus["classifier"]), "--calibrate", str(human), "--fpr", "0.05", "--workers", "1",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    cal = s["checks"]["detector"]["calibration"]
    assert cal["n_human"] == 100 and cal["fpr_human"] <= 0.05
    assert s["checks"]["detector"]["threshold"] == cal["threshold"] and s["n_shards"] == 1
    assert s["n_input"] == SIZES[0]


def test_single_file_keeps_the_single_file_behaviour(corpus, tmp_path):
    result = CliRunner().invoke(
        app,
        ["guard", "filter", str(corpus["all"]), "--out", str(tmp_path / "k.jsonl"),
         "--exclusions", str(tmp_path / "x.jsonl"), "--watermark-key-file", str(corpus["key"]),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout)
    assert "n_shards" not in s and s["n_input"] == corpus["n"]
    assert (tmp_path / "k.jsonl").is_file() and os.path.getsize(tmp_path / "x.jsonl") > 0
