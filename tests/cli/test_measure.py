"""``modelcollapse measure`` and ``modelcollapse monitor`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelcollapse.cli.app import main
from modelcollapse.data.bundled import kjv

FAST = ["--n-boot", "20", "--n-boot-expensive", "5", "--no-embeddings"]


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return int(exc.value.code or 0)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("measure_cli")
    verses = [d.text for d in kjv()]
    perm = np.random.default_rng(0).permutation(len(verses))
    ref, cand = [verses[i] for i in perm[:600]], [verses[i] for i in perm[600:1200]]
    out = {"ref": root / "ref.jsonl", "cand": root / "cand.txt", "copy": root / "copy.txt"}
    out["ref"].write_text("".join(json.dumps({"text": t}) + "\n" for t in ref), encoding="utf-8")
    out["cand"].write_text("\n".join(cand) + "\n", encoding="utf-8")
    # Late-looking text: one verse over and over has no tails, no diversity and no fidelity.
    out["copy"].write_text("\n".join([ref[0]] * 600) + "\n", encoding="utf-8")
    rng = np.random.default_rng(1)
    for name, x in {
        "real": rng.standard_normal((800, 3)),
        "same": rng.standard_normal((800, 3)),
        "narrow": 0.5 + 0.3 * rng.standard_normal((800, 3)),
        "wide2": rng.standard_normal((800, 2)),
    }.items():
        out[name] = root / f"{name}.npy"
        np.save(out[name], x)
    return out


def test_json_output_has_verdict_and_metrics(files, capsys):
    argv = ["measure", "-r", str(files["ref"]), "-c", str(files["cand"]), "--json", *FAST]
    argv += ["--metrics", "vocab_size,rare_recall", "--metrics", "self_bleu"]
    assert _run(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "healthy"
    assert list(doc["metrics"]) == ["vocab_size", "rare_recall", "self_bleu"]
    for m in doc["metrics"].values():
        assert {"candidate", "reference", "ci_low", "ci_high", "flagged"} <= set(m)
        assert m["ci_low"] <= m["candidate"] <= m["ci_high"]


def test_table_output_and_fail_on(files, capsys):
    base = ["measure", "-r", str(files["ref"]), "-c", str(files["copy"]), *FAST]
    assert _run(base) == 0
    out = capsys.readouterr().out
    assert "verdict: late" in out and "rare_recall" in out and "flagged" in out
    assert _run([*base, "--fail-on", "late"]) == 1
    assert _run([*base, "--fail-on", "early"]) == 1
    healthy = ["measure", "-r", str(files["ref"]), "-c", str(files["cand"]), *FAST]
    assert _run([*healthy, "--metrics", "vocab_size,entropy", "--fail-on", "early"]) == 0


def test_numeric_and_embedding_kinds(files, capsys):
    base = ["measure", "-r", str(files["real"]), "--n-boot", "20", "--n-boot-expensive", "5"]
    base.append("--json")
    assert _run([*base, "-c", str(files["same"]), "--kind", "numeric"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "healthy"
    code = _run([*base, "-c", str(files["narrow"]), "--kind", "embedding", "--fail-on", "late"])
    assert code == 1 and json.loads(capsys.readouterr().out)["verdict"] == "late"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-c", "{missing}", "--kind", "numeric"], "nope: expected an existing data file"),
        (["-c", "{wide2}", "--kind", "embedding"], "wide2.npy:1: expected 3 values per record"),
        (["-c", "{same}", "--metrics", "varaince", "--kind", "numeric"], "did you mean 'variance'"),
        (["-c", "{cand}", "--kind", "numeric"], "expected a numeric format"),
    ],
)
def test_user_errors_are_one_line_exit_2(files, capsys, args, expected):
    paths = {k: str(v) for k, v in files.items()} | {"missing": str(files["ref"]) + ".nope"}
    argv = ["measure", "-r", str(files["real"]), *[a.format(**paths) for a in args]]
    assert _run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err


def test_bad_records_fail_or_are_skipped(files, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Jesus wept."}\n{"text": ""}\nnot json\n{"text": "Amen."}\n')
    argv = ["measure", "-r", str(files["ref"]), "-c", str(bad), *FAST, "--metrics", "vocab_size"]
    assert _run(argv) == 2
    assert "bad.jsonl:2:" in capsys.readouterr().err
    assert _run([*argv, "--on-error", "skip", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_bad_candidate"] == 2 and doc["n_candidate_total"] == 2
    assert (tmp_path / "bad.jsonl.quarantine.jsonl").is_file()


def test_help_has_examples(capsys):
    for command in ("measure", "monitor"):
        assert _run([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Examples" in out and f"modelcollapse {command}" in out and "--fail-on" in out


def test_monitor_trend_and_first_crossing(files, capsys):
    argv = ["monitor", str(files["real"]), str(files["same"]), str(files["narrow"])]
    argv += ["--kind", "numeric", "--n-boot", "20", "--n-boot-expensive", "5"]
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "trend against" in out and "verdict" in out
    assert "first version reaching late: " + str(files["narrow"]) in out.replace("\n", "")
    assert _run([*argv, "--json", "--fail-on", "late"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [v["verdict"] for v in doc["versions"]] == ["healthy", "late"]
    assert doc["first_late"] == str(files["narrow"]) and doc["first_early"] == doc["first_late"]
