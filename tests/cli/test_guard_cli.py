"""``modelcollapse guard ...`` end to end on small files: every subcommand runs, writes JSONL and
Parquet, prints JSON summaries whose counts add up, keeps provenance, and fails in one line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from modelcollapse.cli.app import app, main
from modelcollapse.data.bundled import kjv
from modelcollapse.data.document import Document, provenance
from modelcollapse.data.readers import read_documents
from modelcollapse.data.writers import write_jsonl, write_parquet
from modelcollapse.guard.watermark import BOS_WORD_CODE, WatermarkConfig, load_key, word_codes

runner = CliRunner()
SUBCOMMANDS = [
    ["register"],
    ["lookup"],
    ["watermark", "keygen"],
    ["watermark", "detect"],
    ["detect"],
    ["train-classifier"],
    ["estimate"],
    ["mix"],
    ["filter"],
]


def invoke(*args: str) -> dict | str:
    """Run ``modelcollapse guard ARGS``; the parsed JSON when --json was given."""
    result = runner.invoke(app, ["guard", *map(str, args)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "--json" in args else result.stdout


def one_line_error(capsys, *args: str) -> str:
    """Run through ``main`` (as the console script does); assert exit 2 and one stderr line."""
    with pytest.raises(SystemExit) as exc:
        main(["guard", *map(str, args)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    err = [line for line in err if not line.startswith("INFO")]
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def labelled(prefix: str, texts: list[str], source: str, **kw) -> list[Document]:
    return [
        Document(f"{prefix}{i}", t, {"provenance": provenance(t, source=source, **kw), "n": i})
        for i, t in enumerate(texts)
    ]


def shuffled(text: str, rng: np.random.Generator) -> str:
    """A stand-in for generated text: the verse's words, shuffled, without punctuation."""
    words = "".join(c for c in text if c.isalnum() or c.isspace()).split()
    rng.shuffle(words)
    return " ".join(words)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """Human KJV verses and 'generated' text (see shuffled), JSONL and Parquet."""
    root = tmp_path_factory.mktemp("guard")
    rng = np.random.default_rng(0)
    verses = [d.text for d in kjv()[:300]]
    files = {
        "human": root / "human.jsonl",
        "heldout": root / "heldout.jsonl",
        "synthetic": root / "synthetic.parquet",
        "synthetic_eval": root / "synthetic_eval.jsonl",
    }
    write_jsonl(labelled("h", verses[:100], "human"), files["human"])
    write_jsonl(labelled("k", verses[100:160], "human"), files["heldout"])
    gen = [shuffled(t, rng) for t in verses[160:300]]
    write_parquet(
        labelled("s", gen[:100], "synthetic", generator="ngram", generation=2), files["synthetic"]
    )
    write_jsonl(labelled("e", gen[100:], "synthetic", generator="ngram"), files["synthetic_eval"])
    return files


@pytest.fixture(scope="module")
def clf(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clf") / "clf"
    summary = invoke(
        "train-classifier", "--human", data["human"], "--ai", data["synthetic"], "--out", out,
        "--n-features", 4096, "--json",
    )  # fmt: skip
    assert summary["n_human"] == 100 and summary["n_synthetic"] == 100
    return out


# -- help -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", SUBCOMMANDS, ids=" ".join)
def test_help_shows_a_real_example(cmd):
    result = runner.invoke(app, ["guard", *cmd, "--help"], terminal_width=400)
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"modelcollapse guard {' '.join(cmd)} " in " ".join(result.stdout.split())


def test_guard_group_is_listed():
    result = runner.invoke(app, ["--help"])
    assert "guard" in result.stdout


# -- register / lookup ----------------------------------------------------------------------------
def test_register_is_idempotent_and_lookup_finds_exact_and_near(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    first = invoke("register", data["synthetic"], data["human"], "--registry", url, "--json")
    assert (first["n_new"], first["n_existing"], first["n_skipped_human"]) == (100, 0, 100)
    again = invoke("register", data["synthetic"], "--registry", url, "--json")
    assert (again["n_new"], again["n_existing"], again["n_registered_total"]) == (0, 100, 100)
    # a crawl: two registered texts (one re-cased, one lightly edited) and human text
    synth = read_documents(data["synthetic"]).documents
    crawl = [
        Document("a", synth[0].text.upper(), {}),
        Document("b", synth[1].text.replace(" ", "  ", 3) + " amen", {}),
        *labelled("c", [d.text for d in read_documents(data["heldout"]).documents[:5]], "human"),
    ]
    write_jsonl(crawl, tmp_path / "crawl.jsonl")
    for ext in ("jsonl", "parquet"):
        out = tmp_path / f"matches.{ext}"
        s = invoke("lookup", tmp_path / "crawl.jsonl", "--registry", url, "--out", out, "--json")
        assert s["n_documents"] == 7 and s["n_matched"] >= 1 and s["n_exact"] == 1
        if ext == "parquet":
            rows = pq.read_table(out).to_pylist()
        else:
            rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == s["n_matches"]
        assert {r["query_id"] for r in rows} <= {"a", "b"}
        assert {r["generator"] for r in rows} == {"ngram"}
    exact = invoke("lookup", tmp_path / "crawl.jsonl", "--registry", url, "--exact-only", "--json")
    assert exact["n_matched"] == 1
    text = invoke("lookup", tmp_path / "crawl.jsonl", "--registry", url)
    assert "a: exact jaccard=1.000 generator=ngram generation=2" in text


def test_register_include_human(data, tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    s = invoke("register", data["heldout"], "--registry", url, "--include-human", "--json")
    assert s["n_new"] == 60 and s["n_skipped_human"] == 0


def test_connection_strings_are_printed_without_password(data, capsys):
    url = "postgresql://alice:s3cretPW@127.0.0.1:9/db"
    line = one_line_error(capsys, "register", data["synthetic"], "--registry", url)
    assert "s3cretPW" not in line and "alice" in line


# -- watermark ------------------------------------------------------------------------------------
def green_text(cfg: WatermarkConfig, vocab: list[str], n_words: int, rng) -> str:
    """Words chosen so that every (previous word, word) pair is green: a watermarked text."""
    codes = word_codes(vocab)
    prev, out = BOS_WORD_CODE, []
    for _ in range(n_words):
        green = cfg.green_mask(np.array([[prev]], dtype=np.uint64), codes)[0]
        j = int(rng.choice(np.flatnonzero(green)))
        out.append(vocab[j])
        prev = codes[j]
    return " ".join(out)


def test_watermark_keygen_detect_end_to_end(data, tmp_path, monkeypatch):
    key = tmp_path / "keys" / "wm.key"
    out = invoke("watermark", "keygen", "--out", key)
    assert str(key) in out and load_key(key_file=key).hex() not in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    raw = key.read_text()
    assert len(raw) == 65 and raw.endswith("\n") and bytes.fromhex(raw.strip())
    cfg = WatermarkConfig(load_key(key_file=key))
    rng = np.random.default_rng(1)
    vocab = sorted({w for d in kjv()[:200] for w in d.text.split() if w.isalpha()})
    human = read_documents(data["heldout"]).documents[:6]
    marked = labelled("w", [green_text(cfg, vocab, 60, rng) for _ in range(3)], "synthetic")
    write_parquet([*human, *marked], tmp_path / "docs.parquet")
    scored = tmp_path / "scored.jsonl"
    s = invoke(
        "watermark", "detect", tmp_path / "docs.parquet", "--key-file", key, "--out", scored,
        "--json",
    )  # fmt: skip
    assert s["n_documents"] == 9 and s["n_flagged"] == 3
    z = {d["id"]: d["z"] for d in s["documents"]}
    assert all(z[f"w{i}"] > 4 for i in range(3)) and all(z[d.id] < 4 for d in human)
    back = read_documents(scored).documents
    assert [d.metadata["provenance"] for d in back] == [
        d.metadata["provenance"] for d in [*human, *marked]
    ]
    assert back[-1].metadata["guard"]["watermark"]["flagged"] is True
    assert back[-1].metadata["guard"]["watermark"]["key_sha256"] == cfg.fingerprint
    # the same key from an environment variable; windowed detection
    monkeypatch.setenv("MC_TEST_WM_KEY", raw.strip())
    s2 = invoke(
        "watermark",
        "detect",
        tmp_path / "docs.parquet",
        "--key-env",
        "MC_TEST_WM_KEY",
        "--window",
        20,
        "--json",
    )
    assert s2["n_flagged"] == 3 and s2["watermark"]["key_sha256"] == cfg.fingerprint
    # text output names the key by fingerprint only
    text = invoke("watermark", "detect", tmp_path / "docs.parquet", "--key-file", key)
    assert "3 of 9 documents flagged" in text and raw.strip() not in text


def test_keygen_refuses_to_overwrite(tmp_path, capsys):
    key = tmp_path / "wm.key"
    invoke("watermark", "keygen", "--out", key)
    before = key.read_text()
    assert "--force" in one_line_error(capsys, "watermark", "keygen", "--out", key)
    s = invoke("watermark", "keygen", "--out", key, "--force", "--json")
    assert key.read_text() != before
    assert s == {
        "key_file": str(key),
        "key_sha256": WatermarkConfig(load_key(key_file=key)).fingerprint,
    }


# -- detect / estimate ----------------------------------------------------------------------------
def test_detect_with_classifier_threshold_and_calibration(data, clf, tmp_path):
    out = tmp_path / "scored.parquet"
    s = invoke(
        "detect", data["synthetic_eval"], "--method", "classifier", "--classifier", clf,
        "--threshold", 0.5, "--out", out, "--json",
    )  # fmt: skip
    assert s["n_documents"] == 40 and s["threshold"] == 0.5
    assert s["n_flagged"] == sum(d["flagged"] for d in s["documents"]) >= 30
    back = read_documents(out).documents
    det = back[0].metadata["guard"]["detector"]
    assert det["method"] == "classifier" and 0 <= det["score"] <= 1
    assert back[0].metadata["provenance"]["generator"] == "ngram" and back[0].metadata["n"] == 0
    cal = invoke(
        "detect", data["synthetic_eval"], "--method", "classifier", "--classifier", clf,
        "--calibrate", data["heldout"], "--calibrate-ai", data["synthetic_eval"], "--fpr", 0.05,
        "--json",
    )  # fmt: skip
    c = cal["calibration"]
    assert c["target_fpr"] == 0.05 and c["fpr_human"] <= 0.05 and c["n_human"] == 60
    assert c["auroc"] > 0.9 and cal["threshold"] == c["threshold"]
    text = invoke("detect", data["heldout"], "--method", "classifier", "--classifier", clf)
    assert "no threshold given" in text


@pytest.mark.slow
def test_detect_zero_shot_with_a_local_model_directory(data, tmp_path):
    from modelcollapse.generators.hf import HuggingFaceLM

    lm = HuggingFaceLM(model="tiny", init="random", steps=0, device="cpu", threads=1)
    lm.fit(["in the beginning"], rng=np.random.default_rng(0))
    model_dir = tmp_path / "tiny"
    lm.model_.save_pretrained(model_dir, safe_serialization=True)
    lm.tokenizer_.save(str(model_dir / "tokenizer.json"))
    docs = read_documents(data["heldout"]).documents[:10]
    write_jsonl(docs, tmp_path / "docs.jsonl")
    s = invoke(
        "detect", tmp_path / "docs.jsonl", "--method", "loglik", "--model", model_dir,
        "--device", "cpu", "--max-length", 16, "--calibrate", tmp_path / "docs.jsonl", "--fpr",
        0.1, "--out", tmp_path / "scored.jsonl", "--json",
    )  # fmt: skip
    assert s["method"] == "loglik" and s["model"] == str(model_dir)
    assert s["n_documents"] == 10 and s["n_flagged"] <= 1  # calibrated on the same text
    scored = read_documents(tmp_path / "scored.jsonl").documents
    assert [d.metadata["guard"]["detector"]["score"] for d in scored] == [
        d["score"] for d in s["documents"]
    ]
    assert all(np.isfinite(d["score"]) for d in s["documents"])


def test_estimate_recovers_a_known_share(tmp_path):
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(60)]
    p = rng.dirichlet(np.ones(60) * 0.5)
    q = rng.dirichlet(np.ones(60) * 0.5)

    def corpus(prefix, probs, n, source):
        texts = [" ".join(rng.choice(vocab, size=25, p=probs)) for _ in range(n)]
        return labelled(prefix, texts, source)

    write_jsonl(corpus("h", p, 300, "human"), tmp_path / "h.jsonl")
    write_jsonl(corpus("a", q, 300, "synthetic"), tmp_path / "a.jsonl")
    write_parquet(
        [*corpus("th", p, 140, "unknown"), *corpus("ta", q, 60, "unknown")], tmp_path / "t.parquet"
    )
    s = invoke(
        "estimate", tmp_path / "t.parquet", "--human", tmp_path / "h.jsonl", "--ai",
        tmp_path / "a.jsonl", "--bootstrap", 100, "--json",
    )  # fmt: skip
    mle = s["mle"]
    assert abs(mle["alpha"] - 0.3) < 0.06 and mle["ci_low"] <= 0.3 <= mle["ci_high"]
    assert s["n_target"] == 200 and mle["n_boot"] == 100
    text = invoke(
        "estimate",
        tmp_path / "t.parquet",
        "--human",
        tmp_path / "h.jsonl",
        "--ai",
        tmp_path / "a.jsonl",
    )
    assert "synthetic share (MLE)" in text


def test_estimate_with_classifier(data, clf, tmp_path):
    s = invoke(
        "estimate", data["synthetic_eval"], "--human", data["human"], "--ai", data["synthetic"],
        "--classifier", clf, "--bootstrap", 20, "--json",
    )  # fmt: skip
    assert 0.0 <= s["classifier"]["em"]["alpha"] <= 1.0
    assert s["classifier"]["train_prior"] == 0.5


# -- mix ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_mix_end_to_end(data, tmp_path, ext):
    out, ex, man = tmp_path / f"mix.{ext}", tmp_path / f"ex.{ext}", tmp_path / "manifest.json"
    s = invoke(
        "mix", data["human"], data["synthetic"], "--max-synthetic", 0.1, "--dedup", "near",
        "--favour-rare", "--out", out, "--manifest", man, "--exclusions", ex, "--json",
    )  # fmt: skip
    assert s == json.loads(man.read_text())
    assert (s["n_human"], s["n_synthetic"], s["n_mix"]) == (100, 11, 111)
    assert s["synthetic_share"] <= 0.1
    mix_docs = read_documents(out).documents
    excluded = read_documents(ex).documents
    assert len(mix_docs) + len(excluded) == s["n_input"] == 200
    inputs = {
        d.id: d for f in (data["human"], data["synthetic"]) for d in read_documents(f).documents
    }
    for d in mix_docs:  # provenance and other metadata survive the round trip
        assert d.metadata == inputs[d.id].metadata
    assert {d.metadata["exclusion"]["reason"] for d in excluded} == {"synthetic_cap"}
    assert all(d.metadata["provenance"]["generation"] == 2 for d in excluded)
    assert s["pools"]["labelled"] == [str(data["human"]), str(data["synthetic"])]


def test_mix_labels_unlabelled_pools(tmp_path):
    (tmp_path / "h.txt").write_text("".join(f"human line {i}\n" for i in range(20)))
    (tmp_path / "s.txt").write_text("".join(f"model line {i}\n" for i in range(20)))
    (tmp_path / "u.txt").write_text("who wrote this\nnobody knows\n")
    args = [
        "--out",
        tmp_path / "m.jsonl",
        "--manifest",
        tmp_path / "m.json",
        "--exclusions",
        tmp_path / "x.jsonl",
    ]
    s = invoke(
        "mix", tmp_path / "u.txt", "--human", tmp_path / "h.txt", "--synthetic", tmp_path / "s.txt",
        "--max-synthetic", 0.2, "--json", *args,
    )  # fmt: skip
    assert s["input"]["by_source"] == {"human": 20, "synthetic": 20, "unknown": 2}
    assert (s["n_human"], s["n_synthetic"]) == (20, 5)  # unknown counts as synthetic
    s = invoke(
        "mix", tmp_path / "u.txt", "--human", tmp_path / "h.txt", "--max-synthetic", 0.2,
        "--unknown-as", "exclude", "--size", 10, "--real-floor", 0.5, "--json", *args,
    )  # fmt: skip
    assert s["excluded_by_reason"] == {"target_size": 10, "unknown_source": 2}
    text = invoke("mix", "--human", tmp_path / "h.txt", "--max-synthetic", 0.2, *args)
    assert "input 20 = mix 20 + excluded 0" in text


# -- filter ---------------------------------------------------------------------------------------
def test_filter_combines_registry_watermark_and_detector(data, clf, tmp_path):
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    invoke("register", data["synthetic"], "--registry", url)
    key = tmp_path / "wm.key"
    invoke("watermark", "keygen", "--out", key)
    cfg = WatermarkConfig(load_key(key_file=key))
    vocab = sorted({w for d in kjv()[:200] for w in d.text.split() if w.isalpha()})
    rng = np.random.default_rng(2)
    registered = read_documents(data["synthetic"]).documents[:5]
    marked = labelled("w", [green_text(cfg, vocab, 60, rng) for _ in range(4)], "synthetic")
    unseen = read_documents(data["synthetic_eval"]).documents[:10]
    human = read_documents(data["heldout"]).documents[:20]
    crawl = [*registered, *marked, *unseen, *human]
    write_parquet(crawl, tmp_path / "crawl.parquet")
    kept_path, ex_path = tmp_path / "kept.jsonl", tmp_path / "excluded.parquet"
    s = invoke(
        "filter", tmp_path / "crawl.parquet", "--out", kept_path, "--exclusions", ex_path,
        "--registry", url, "--watermark-key-file", key, "--detector", "classifier",
        "--classifier", clf, "--threshold", 0.5, "--json",
    )  # fmt: skip
    assert s["n_input"] == len(crawl) == s["n_output"] + s["n_excluded"]
    steps = {st["name"]: st for st in s["steps"]}
    assert list(steps) == ["registry", "watermark", "detector"]
    for st in s["steps"]:
        assert st["n_in"] == st["n_kept"] + st["n_excluded"]
    assert steps["registry"]["reasons"] == {"registry_exact": 5}
    assert steps["watermark"]["reasons"] == {"watermark": 4}
    assert steps["detector"]["n_excluded"] >= 5
    kept, excluded = read_documents(kept_path).documents, read_documents(ex_path).documents
    assert len(kept) + len(excluded) == len(crawl)
    by_id = {d.id: d for d in crawl}
    for d in [*kept, *excluded]:
        assert d.metadata["provenance"] == by_id[d.id].metadata["provenance"]
    why = {
        d.id: (d.metadata["exclusion"]["step"], d.metadata["exclusion"]["reason"]) for d in excluded
    }
    assert all(why[d.id] == ("registry", "registry_exact") for d in registered)
    assert all(why[d.id] == ("watermark", "watermark") for d in marked)
    assert all(d.metadata["guard"]["watermark"]["z"] > 4 for d in excluded if d.id.startswith("w"))
    for d in kept:  # kept documents carry the evidence of each check they passed
        assert d.metadata["guard"]["watermark"]["flagged"] is False
        assert d.metadata["guard"]["detector"]["score"] <= 0.5
    assert s["checks"]["registry"]["url"] == url
    text = invoke(
        "filter", tmp_path / "crawl.parquet", "--out", kept_path, "--exclusions", ex_path,
        "--registry", url,
    )  # fmt: skip
    assert f"input {len(crawl)} = kept {len(crawl) - 5} " in text


def test_filter_detector_calibrated(data, clf, tmp_path):
    s = invoke(
        "filter", data["synthetic_eval"], "--out", tmp_path / "k.jsonl", "--exclusions",
        tmp_path / "x.jsonl", "--detector", "classifier", "--classifier", clf, "--calibrate",
        data["heldout"], "--fpr", 0.05, "--json",
    )  # fmt: skip
    assert s["checks"]["detector"]["calibration"]["fpr_human"] <= 0.05
    assert s["n_input"] == 40 == s["n_output"] + s["n_excluded"]


# -- bad input: one line, exit 2 ------------------------------------------------------------------
def test_bad_input_is_one_line_exit_2(data, clf, tmp_path, capsys):
    outs = [
        "--out",
        tmp_path / "m.jsonl",
        "--manifest",
        tmp_path / "m.json",
        "--exclusions",
        tmp_path / "x.jsonl",
    ]
    assert "max_synthetic_fraction: expected a number in [0, 1], got nan" in one_line_error(
        capsys, "mix", data["human"], "--max-synthetic", "nan", *outs
    )
    assert "got 1.5" in one_line_error(capsys, "mix", data["human"], "--max-synthetic", 1.5, *outs)
    assert "expected at least one pool" in one_line_error(
        capsys, "mix", "--max-synthetic", 0.1, *outs
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": 3}\n')
    line = one_line_error(capsys, "mix", bad, "--max-synthetic", 0.1, *outs)
    assert f"{bad}:2" in line
    assert "missing" in one_line_error(
        capsys,
        "estimate",
        tmp_path / "nope.jsonl",
        "--human",
        data["human"],
        "--ai",
        data["synthetic"],
    )
    assert "expected at least one check" in one_line_error(
        capsys,
        "filter",
        data["human"],
        "--out",
        tmp_path / "k.jsonl",
        "--exclusions",
        tmp_path / "x.jsonl",
    )
    assert "--classifier: expected a saved classifier" in one_line_error(
        capsys, "detect", data["human"], "--method", "classifier"
    )
    assert "expected one of --threshold or --calibrate" in one_line_error(
        capsys, "detect", data["human"], "--method", "classifier", "--classifier", clf,
        "--threshold", 0.5, "--calibrate", data["heldout"],
    )  # fmt: skip
    assert "exactly one of key_file or key_env" in one_line_error(
        capsys, "watermark", "detect", data["human"]
    )
    assert "--out: expected a path ending in" in one_line_error(
        capsys,
        "lookup",
        data["human"],
        "--registry",
        f"sqlite:///{tmp_path / 'r.db'}",
        "--out",
        tmp_path / "m.csv",
    )
    assert "distinct" in one_line_error(
        capsys, "filter", data["human"], "--out", data["human"], "--exclusions", tmp_path / "x.jsonl",
        "--registry", f"sqlite:///{tmp_path / 'r.db'}",
    )  # fmt: skip


def test_on_error_skip_quarantines_bad_records(tmp_path):
    bad = tmp_path / "pool.jsonl"
    bad.write_text(
        '{"text": "a human line", "provenance": {"source": "human"}}\n{"text": 3}\nnot json\n'
    )
    s = invoke(
        "mix", bad, "--max-synthetic", 0.1, "--on-error", "skip", "--out", tmp_path / "m.jsonl",
        "--manifest", tmp_path / "m.json", "--exclusions", tmp_path / "x.jsonl", "--json",
    )  # fmt: skip
    assert s["n_input"] == 1 and s["pools"]["n_bad_records_skipped"] == 2
    assert (tmp_path / "pool.jsonl.quarantine.jsonl").is_file()
