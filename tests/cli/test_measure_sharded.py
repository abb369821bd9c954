"""``modelcollapse measure`` over sharded inputs (a directory or a glob), local executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcollapse.cli.app import main
from modelcollapse.data.bundled import kjv
from modelcollapse.measure.files import measure_files
from modelcollapse.measure.sharded import measure_shards

ARGS = ["--metrics", "vocab_size,entropy,js", "--n-boot", "10", "--json"]


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("measure_sharded_cli")
    verses = [d.text for d in kjv()]
    for side, docs in (("ref", verses[:400]), ("cand", verses[2000:2300])):
        (root / side).mkdir()
        for i in range(3):
            part = docs[i * len(docs) // 3 : (i + 1) * len(docs) // 3]
            lines = "".join(json.dumps({"text": t}) + "\n" for t in part)
            (root / side / f"part-{i}.jsonl").write_text(lines, encoding="utf-8")
    (root / "ref.jsonl").write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in verses[:400]), encoding="utf-8"
    )
    return {"root": root, "ref": root / "ref", "cand": root / "cand"}


@pytest.mark.slow  # the default local executor starts a process pool
def test_directory_and_glob_inputs_take_the_sharded_path(shards, capsys):
    code, out, _ = _run(
        ["measure", "-r", str(shards["ref"]), "-c", str(shards["cand"] / "part-*.jsonl"), *ARGS],
        capsys,
    )
    assert code == 0
    got = json.loads(out)
    expected = measure_shards(
        shards["ref"], shards["cand"], metrics=["vocab_size", "entropy", "js"], rng=0, n_boot=10,
        executor="local", workers=1, embeddings=False,
    )  # fmt: skip
    assert got == expected.to_dict()
    assert got["n_candidate_total"] == 300 and "3 reference and 3 candidate" in got["notes"][0]


def test_executor_on_plain_files_gives_the_unsharded_result(shards, capsys):
    ref, cand = shards["root"] / "ref.jsonl", shards["cand"] / "part-0.jsonl"
    code, out, _ = _run(
        ["measure", "-r", str(ref), "-c", str(cand), "--executor", "local", "--workers", "1",
         "--max-records", "50", *ARGS],
        capsys,
    )  # fmt: skip
    assert code == 0
    expected = measure_files(
        ref, cand, metrics=["vocab_size", "entropy", "js"], rng=0, n_boot=10, max_records=50,
        embeddings=False,
    )  # fmt: skip
    assert json.loads(out) == expected.to_dict()


def test_sharded_user_errors_are_one_line(shards, capsys):
    code, _, err = _run(
        ["measure", "-r", str(shards["ref"]), "-c", str(shards["root"] / "*.parquet"), *ARGS],
        capsys,
    )
    assert code == 2 and "expected data files matching the pattern" in err
    assert err.count("\n") == 1
    code, _, err = _run(
        ["measure", "-r", str(shards["ref"]), "-c", str(shards["cand"]), "--executor", "lcoal"],
        capsys,
    )
    assert code == 2 and "lcoal" in err
