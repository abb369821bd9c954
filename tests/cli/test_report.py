"""``modelcollapse report`` and ``measure --report`` as a user runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.report.conftest import gauss_runs, sampled_run, text_run  # noqa: F401 (fixtures)
from typer.testing import CliRunner

from modelcollapse.cli.app import app, main
from modelcollapse.cli.report import parse_generations
from modelcollapse.errors import InvalidParameterError

runner = CliRunner()


def _exit(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return int(exc.value.code or 0)


def test_report_of_a_run(text_run, tmp_path):  # noqa: F811
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(text_run), "--out", str(out), "--generations", "0,3"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output
    html = out.read_text(encoding="utf-8")
    assert (
        "rank-frequency" in html and "generation 3" in html and "<th>generation 1</th>" not in html
    )


def test_report_of_a_folder_defaults_inside_it(gauss_runs):  # noqa: F811
    res = runner.invoke(app, ["report", str(gauss_runs), "--title", "Two policies"])
    assert res.exit_code == 0, res.output
    out = gauss_runs / "report.html"
    assert "<title>Two policies</title>" in out.read_text(encoding="utf-8")
    out.unlink()


def test_user_errors_exit_2_on_one_line(tmp_path, capsys, sampled_run):  # noqa: F811
    assert _exit(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "got nothing there" in err and err.count("\n") == 1
    assert _exit(["report", str(sampled_run), "--out", str(tmp_path / "x.html"), "-g", "0,9"]) == 2
    assert "expected generations between 0 and 4, got 9" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_parse_generations():
    assert parse_generations("0, 5,10") == [0, 5, 10]
    assert parse_generations(None) is None and parse_generations(" ") is None
    with pytest.raises(InvalidParameterError, match="comma-separated integers"):
        parse_generations("0,five")


def test_measure_report_and_report_of_measure_json(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ref.npy", rng.normal(size=(200, 2)))
    np.save(tmp_path / "cand.npy", 0.4 * rng.normal(size=(200, 2)))
    out = tmp_path / "measure.html"
    argv = [
        "measure", "-r", str(tmp_path / "ref.npy"), "-c", str(tmp_path / "cand.npy"), "--kind",
        "numeric", "--n-boot", "20", "--n-boot-expensive", "3", "--json", "--report", str(out),
    ]  # fmt: skip
    res = runner.invoke(app, argv)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stdout stays pure JSON; the report path goes to stderr
    assert f"wrote report {out}" in res.stderr
    html = out.read_text(encoding="utf-8")
    assert f"verdict-{doc['verdict']}" in html and "Distance to the reference mean" in html
    for name in doc["metrics"]:
        assert f"<td>{name}</td>" in html
    (tmp_path / "m.json").write_text(res.stdout, encoding="utf-8")
    res = runner.invoke(app, ["report", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "m.html").read_text(encoding="utf-8")  # NAME.html beside the JSON
    assert "does not store the data" in html


def test_measure_report_of_sharded_inputs_says_why_no_distributions(tmp_path):
    from modelcollapse.cli.report import measure_report

    shards = tmp_path / "shards"
    shards.mkdir()
    result = {
        "verdict": "healthy", "reasons": [], "kind": "numeric",
        "metrics": {"variance": {"candidate": 1.0, "reference": 1.0, "ci_low": 0.9, "ci_high": 1.1,
                                 "flagged": False}},
    }  # fmt: skip
    out = measure_report(
        result, tmp_path / "r.html", reference=shards, candidate=shards, kind="numeric", seed=0,
        text_field="text", on_error="fail", max_records=100, tokenizer="whitespace",
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "Sharded inputs" in html and "verdict-healthy" in html
