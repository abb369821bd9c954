"""The combined verdict's library steps: WatermarkStep and DetectorStep (and BatchStep under
them) keep what no check flags, drop the rest with the check's reason, and annotate evidence."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modelcollapse.data.bundled import kjv
from modelcollapse.data.document import Document
from modelcollapse.errors import InvalidParameterError
from modelcollapse.generators.ngram import NGram
from modelcollapse.guard.pipeline import BatchStep, run_pipeline
from modelcollapse.guard.verdict import DetectorStep, WatermarkStep, annotate, watermark_hit
from modelcollapse.guard.watermark import resolve_watermark
from modelcollapse.guard.watermark_detect import Detection, normal_tail

KEY = "verdict-test-key-not-secret-0123456789"
ENV = "MODELCOLLAPSE_TEST_VERDICT_KEY"


def docs_of(texts: list[str], prefix: str) -> list[Document]:
    return [Document(id=f"{prefix}{i}", text=t) for i, t in enumerate(texts)]


def test_detector_step_drops_above_threshold_in_batches_and_keeps_order() -> None:
    calls: list[int] = []

    def scorer(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([len(t) for t in texts], dtype=float)

    texts = ["a" * n for n in (1, 9, 3, 12, 5, 2, 30)]
    step = DetectorStep(scorer, {"method": "length"}, threshold=4.0, batch_size=3)
    kept = list(step(docs_of(texts, "d")))
    assert calls == [3, 3, 1]
    assert [d.id for d in kept] == ["d0", "d2", "d5"]
    dropped = step.exclusions.documents
    assert [d.id for d in dropped] == ["d1", "d3", "d4", "d6"]
    assert {d.metadata["exclusion"]["reason"] for d in dropped} == {"detector"}
    assert step.stats.n_in == 7 and step.stats.n_kept + step.stats.n_excluded == 7
    for d in kept + dropped:
        info = d.metadata["guard"]["detector"]
        assert info["method"] == "length" and info["threshold"] == 4.0
        assert info["score"] == len(d.text) and info["flagged"] == (len(d.text) > 4)


def test_detector_step_nan_scores_are_kept_and_written_as_null(tmp_path) -> None:
    step = DetectorStep(lambda t: np.full(len(t), np.nan), {"method": "nan"}, threshold=0.0)
    stats = run_pipeline(docs_of(["x", "y"], "n"), [step], exclusions_path=tmp_path / "ex.jsonl")
    assert stats.n_output == 2 and stats.n_excluded == 0
    # the annotation is strict JSON (NaN -> null)
    json.dumps(stats.documents[0].metadata, allow_nan=False)
    assert stats.documents[0].metadata["guard"]["detector"]["score"] is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_batch_step_rejects_bad_batch_sizes(bad) -> None:
    with pytest.raises(InvalidParameterError, match="batch_size"):
        DetectorStep(lambda t: np.zeros(len(t)), {}, threshold=0.0, batch_size=bad)


def test_batch_step_is_abstract() -> None:
    with pytest.raises(TypeError):
        BatchStep()  # type: ignore[abstract]


def test_annotate_copies_and_keeps_other_metadata() -> None:
    doc = Document(id="a", text="t", metadata={"provenance": {"source": "human"}, "guard": {}})
    out = annotate(doc, "watermark", {"z": float("inf"), "n": np.int64(3)})
    assert out.metadata["provenance"] == {"source": "human"}
    assert out.metadata["guard"] == {"watermark": {"z": "inf", "n": 3}}
    assert doc.metadata["guard"] == {}  # the input is untouched


def test_watermark_hit_whole_text_windowed_and_nan() -> None:
    def make(z: float, n_windows: int = 1, log10_corrected: float = math.nan) -> Detection:
        return Detection(
            z=z, p_value=0.5, log10_p_value=-0.3, n_scored=200, n_green=50,
            n_windows=n_windows, log10_p_value_corrected=log10_corrected,
        )  # fmt: skip

    assert watermark_hit(make(5.0), 4.0)
    assert not watermark_hit(make(3.9), 4.0)
    assert not watermark_hit(make(float("nan")), 4.0)
    # windowed: the corrected p-value is compared with the tail at z = 4 (log10 about -4.50)
    log10_tail = normal_tail(4.0)[1]
    assert watermark_hit(make(6.0, 10, log10_tail - 0.1), 4.0)
    assert not watermark_hit(make(6.0, 10, log10_tail + 0.1), 4.0)


def test_watermark_step_drops_watermarked_text_and_keeps_human_verses(monkeypatch) -> None:
    monkeypatch.setenv(ENV, KEY)
    spec = {"key_env": ENV, "gamma": 0.25, "delta": 4.0}
    verses = [d.text for d in kjv()[:3000]]
    model = NGram(n=2, watermark=spec).fit(verses)
    samples = model.sample(40, rng=np.random.default_rng(0))
    # ~200-word synthetic documents, and human documents of the same length
    synthetic = [" ".join(samples[i : i + 8]) for i in range(0, 40, 8)]
    human = [" ".join(verses[i : i + 8]) for i in range(2000, 2400, 8)]
    cfg = resolve_watermark(spec)
    step = WatermarkStep(cfg, "words", z_threshold=4.0)
    kept = list(step(docs_of(human, "h") + docs_of(synthetic, "s")))
    dropped = step.exclusions.documents
    assert {d.id for d in dropped} == {f"s{i}" for i in range(len(synthetic))}
    assert len(kept) == len(human)
    for d in kept + dropped:
        info = d.metadata["guard"]["watermark"]
        assert info["key_sha256"] == cfg.fingerprint
        assert KEY not in json.dumps(d.metadata)
        assert info["flagged"] == (d.id.startswith("s"))
