"""``--tokenizer`` of ``modelcollapse measure`` and ``modelcollapse monitor``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelcollapse.cli.app import main
from modelcollapse.data.bundled import kjv

FAST = ["--n-boot", "10", "--n-boot-expensive", "3", "--no-embeddings", "--json"]


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return int(exc.value.code or 0)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tokenizer_cli")
    verses = [d.text for d in kjv()]
    perm = np.random.default_rng(3).permutation(len(verses))
    ref, cand = root / "ref.txt", root / "cand.txt"
    ref.write_text("\n".join(verses[i] for i in perm[:300]) + "\n", encoding="utf-8")
    cand.write_text("\n".join(verses[i] for i in perm[300:600]) + "\n", encoding="utf-8")
    return ref, cand


def _measure(files, capsys, *extra: str) -> dict:
    ref, cand = files
    argv = ["measure", "-r", str(ref), "-c", str(cand), *FAST, "-m", "vocab_size,distinct_2"]
    assert _run([*argv, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_measure_records_and_follows_the_tokenizer(files, capsys):
    default = _measure(files, capsys)
    assert default["tokenizer"] == "whitespace"
    assert _measure(files, capsys, "--tokenizer", "whitespace") == default
    words = _measure(files, capsys, "--tokenizer", "words")
    assert words["tokenizer"] == "words"
    assert (
        words["metrics"]["vocab_size"]["candidate"] < default["metrics"]["vocab_size"]["candidate"]
    )
    regex = _measure(files, capsys, "-t", "lower:regex:[a-z]+")
    assert regex["tokenizer"] == "lower:regex:[a-z]+"
    assert regex["metrics"]["vocab_size"]["candidate"] < words["metrics"]["vocab_size"]["candidate"]


def test_the_table_names_the_tokenizer(files, capsys):
    ref, cand = files
    argv = ["measure", "-r", str(ref), "-c", str(cand), "--n-boot", "5", "--no-embeddings"]
    assert _run([*argv, "-m", "vocab_size", "--tokenizer", "regex:[A-Za-z]+"]) == 0
    assert "tokenizer: regex:[A-Za-z]+" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("tokenizer", "expected"),
    [
        ("wordz", "unknown tokenizer 'wordz' (did you mean 'words'?)"),
        ("regex:(", "expected a valid regular expression after 'regex:'"),
    ],
)
@pytest.mark.parametrize("command", ["measure", "monitor"])
def test_a_bad_tokenizer_is_one_line_exit_2(files, capsys, tokenizer, expected, command):
    ref, cand = files
    if command == "measure":
        argv = ["measure", "-r", str(ref), "-c", str(cand), *FAST]
    else:
        argv = ["monitor", str(ref), str(cand), *FAST]
    assert _run([*argv, "--tokenizer", tokenizer]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err


def test_monitor_takes_the_tokenizer(files, capsys):
    ref, cand = files
    argv = ["monitor", str(ref), str(cand), str(ref), *FAST, "-m", "vocab_size"]
    assert _run([*argv, "--tokenizer", "words"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tokenizer"] == "words"
    assert [v["tokenizer"] for v in doc["versions"]] == ["words", "words"]
    assert _run(argv) == 0
    ws = json.loads(capsys.readouterr().out)
    assert ws["tokenizer"] == "whitespace"
    assert (
        ws["versions"][0]["metrics"]["vocab_size"]["candidate"]
        > (doc["versions"][0]["metrics"]["vocab_size"]["candidate"])
    )
