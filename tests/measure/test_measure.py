"""The ``measure`` library entry: determinism, inputs, metric selection, results."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.measure import DEFAULT_METRICS, default_metric_names, measure
from modelcollapse.measure.measure import EXPENSIVE
from modelcollapse.metrics.registry import available

CHEAP = ["vocab_size", "rare_recall", "entropy", "distinct_2", "js"]


def test_same_seed_same_result_and_seeds_matter(kjv_halves):
    ref, cand = kjv_halves
    a = measure(ref, cand, metrics=CHEAP, rng=3, n_boot=20)
    b = measure(ref, cand, metrics=CHEAP, rng=np.random.default_rng(3), n_boot=20)
    c = measure(ref, cand, metrics=CHEAP, rng=4, n_boot=20)
    assert a.to_dict()["metrics"] != c.to_dict()["metrics"]
    assert (
        a.to_dict()["metrics"]
        == measure(ref, cand, metrics=CHEAP, rng=3, n_boot=20).to_dict()["metrics"]
    )
    assert list(a.metrics) == CHEAP and b.verdict in ("healthy", "early", "late")


def test_result_fields_are_consistent(kjv_halves):
    ref, cand = kjv_halves
    r = measure(ref, cand, metrics=["vocab_size", "rare_recall", "self_bleu"], rng=0, n_boot=120)
    vocab, rare, bleu = (r.metrics[n] for n in ("vocab_size", "rare_recall", "self_bleu"))
    assert vocab.layout == "one_sample" and vocab.n_matched == 1000
    assert rare.layout == "two_sample" and rare.n_matched == 500
    assert vocab.vectorised and not bleu.vectorised
    assert vocab.n_boot == 120 and bleu.n_boot == 30  # self_bleu is expensive
    for m in r.metrics.values():
        assert m.ci_low <= m.candidate <= m.ci_high
        assert m.reference_ci_low <= m.reference <= m.reference_ci_high
        assert m.delta_low <= m.candidate - m.reference <= m.delta_high
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["verdict"] == r.verdict
    assert set(doc["metrics"]["vocab_size"]) >= {
        "candidate", "reference", "ci_low", "ci_high", "flagged",
    }  # fmt: skip


def test_expensive_metrics_use_a_capped_subsample(verses):
    ref, cand = verses[:1300], verses[1300:2600]
    r = measure(
        ref, cand, metrics=["compression_ratio", "entropy"], rng=0, n_boot=10,
        n_boot_expensive=5, expensive_cap=300,
    )  # fmt: skip
    assert r.metrics["compression_ratio"].n_matched == 300
    assert r.metrics["compression_ratio"].n_boot == 5
    assert r.metrics["entropy"].n_matched == 1300 and r.metrics["entropy"].n_boot == 10


def test_defaults_are_registered_and_cover_the_roles():
    for kind in ("text", "numeric", "embedding"):
        registered = "text" if kind == "text" else "numeric"
        assert set(DEFAULT_METRICS[kind]) <= set(available(registered)), kind
        assert default_metric_names(kind) == list(DEFAULT_METRICS[kind])
    assert set(available()) >= EXPENSIVE


def test_unknown_metric_and_kind_get_suggestions(kjv_halves):
    ref, cand = kjv_halves
    with pytest.raises(InvalidParameterError, match="did you mean 'self_bleu'"):
        measure(ref, cand, metrics=["self_blue"], rng=0)
    with pytest.raises(InvalidParameterError, match="did you mean 'numeric'"):
        measure(ref, cand, kind="numerc", rng=0)
    with pytest.raises(InvalidParameterError, match="expected a list of names"):
        measure(ref, cand, metrics="vocab_size", rng=0)
    with pytest.raises(InvalidParameterError, match="cannot run in measure mode"):
        measure(np.ones((9, 2)), np.ones((9, 2)), kind="numeric", metrics=["nll"], rng=0)
    with pytest.raises(TypeError, match="Generator or an int seed"):
        measure(ref, cand, metrics=["vocab_size"], rng=None)


def test_bad_inputs_name_the_record():
    with pytest.raises(DataError, match="candidate: record 2 has no tokens"):
        measure(["a b", "c d"], ["x y", "  ", "z"], metrics=["vocab_size"], rng=0)
    with pytest.raises(DataError, match="reference: expected at least 1 document"):
        measure([], ["x"], metrics=["vocab_size"], rng=0)
    x = np.ones((5, 3))
    y = x.copy()
    y[3, 1] = np.nan
    with pytest.raises(
        DataError, match="candidate: expected finite values, got NaN or inf in row 3"
    ):
        measure(x, y, kind="numeric", metrics=["variance"], rng=0)
    with pytest.raises(DataError, match=r"candidate: expected 3 column.* got 2"):
        measure(x, np.ones((5, 2)), kind="embedding", metrics=["variance"], rng=0)


def test_bad_parameters():
    docs = ["a b c", "d e f", "g h i"]
    for kwargs, pattern in [
        ({"n_boot": 1}, "n_boot: expected an integer >= 2"),
        ({"level": 1.5}, r"level: expected a number in \(0, 1\)"),
        ({"tolerances": {"tail": -1}}, "tolerances: expected"),
    ]:
        with pytest.raises(InvalidParameterError, match=pattern):
            measure(docs, docs, metrics=["vocab_size"], rng=0, **kwargs)


def test_embedding_metrics_of_text_use_the_encoder(kjv_halves, tmp_path):
    from tests.embeddings.fakes import CountingEncoder

    ref, cand = kjv_halves[0][:120], kjv_halves[1][:120]
    enc = CountingEncoder(dim=6)
    r = measure(
        ref, cand, metrics=["vocab_size", "embedding.frechet_distance", "embedding.vendi_score"],
        rng=0, n_boot=10, embeddings=True, embedding_model=enc, cache_dir=tmp_path,
    )  # fmt: skip
    assert enc.calls > 0 and len(enc.encoded) <= 240
    fd = r.metrics["embedding.frechet_distance"]
    assert fd.role == "fidelity" and math.isfinite(fd.candidate) and fd.layout == "two_sample"
    # only a subsample of expensive_cap candidate and 2 * expensive_cap reference texts is
    # embedded: the embedding metrics never use more
    capped = CountingEncoder(dim=6)
    measure(
        ref, cand, metrics=["embedding.vendi_score"], rng=0, n_boot=4, embeddings=True,
        embedding_model=capped, cache_dir=tmp_path / "c2", expensive_cap=20,
    )  # fmt: skip
    assert len(capped.encoded) == 60
    with pytest.raises(InvalidParameterError, match="for kind 'text'"):
        measure(np.ones((4, 2)), np.ones((4, 2)), kind="numeric", metrics=["embedding.mmd"], rng=0)


def test_numeric_and_embedding_kinds(kjv_halves):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 3)), rng.normal(size=(300, 3))
    r = measure(x, y, kind="numeric", rng=0, n_boot=20, n_boot_expensive=4)
    assert r.verdict == "healthy" and list(r.metrics) == default_metric_names("numeric")
    e = measure(x, y, kind="embedding", metrics=["vendi_score", "precision"], rng=0, n_boot=4)
    assert e.kind == "embedding" and set(e.metrics) == {"vendi_score", "precision"}
