"""The supervised n-gram detector: it learns, agrees with scikit-learn, saves without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from modelcollapse.errors import DataError, InvalidParameterError, NotFittedError
from modelcollapse.guard.calibration import roc_auc
from modelcollapse.guard.classifier import (
    CONFIG_FILE,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    NGramClassifier,
    check_corpus,
)
from modelcollapse.guard.eval_data import build_detection_set, fit_kjv_ngram, ngram_continuer

SMALL = dict(n_features=2**12, C=1.0)


@pytest.fixture(scope="module")
def kjv_sets():
    """KJV verses vs trigram continuations (T = 0.7): 500 a class to train, 300 to test."""
    model = fit_kjv_ngram(3)
    cont = ngram_continuer(model, temperature=0.7)
    train = build_detection_set(cont, n_per_class=500, rng=1, split="train")
    test = build_detection_set(cont, n_per_class=300, rng=2, split="heldout")
    return train, test


@pytest.fixture(scope="module")
def fitted(kjv_sets):
    train, _ = kjv_sets
    return NGramClassifier(n_features=2**16).fit(train.human, train.synthetic)


def test_learns_to_detect_ngram_text(fitted, kjv_sets):
    _, test = kjv_sets
    auc = roc_auc(fitted.score(test.human), fitted.score(test.synthetic))
    assert auc > 0.85  # measured 0.93; chance is 0.5
    assert fitted.prior_ == 0.5 and fitted.n_human_ == 500 and fitted.n_synthetic_ == 500


def test_score_is_sigmoid_of_decision(fitted, kjv_sets):
    docs = kjv_sets[1].docs[:20]
    s, z = fitted.score(docs), fitted.decision_function(docs)
    assert s.shape == (20,) and s.dtype == np.float64
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s, expit(z))
    assert fitted.score([]).shape == (0,)


def test_agrees_with_sklearn_on_all_columns():
    """The unused-column shortcut gives the same model as scikit-learn on every column."""
    human = ["the cat sat on the mat", "a dog ran in the park", "birds sing at dawn", "I saw it"]
    synth = ["the the cat cat mat", "dog dog park park ran", "sing sing dawn birds", "it it saw"]
    clf = NGramClassifier(**SMALL, tol=1e-10).fit(human, synth)
    X = clf.features(human + synth)
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(X, [0] * 4 + [1] * 4)
    probe = ["a cat in the park", "park park dog", "unseen words only"]
    np.testing.assert_allclose(
        clf.score(probe), ref.predict_proba(clf.features(probe))[:, 1], atol=1e-5
    )


def test_fit_is_deterministic():
    human, synth = ["alpha beta gamma", "delta epsilon"], ["beta beta beta", "gamma gamma"]
    a = NGramClassifier(**SMALL).fit(human, synth)
    b = NGramClassifier(**SMALL).fit(human, synth)
    assert np.array_equal(a.coef_, b.coef_) and a.intercept_ == b.intercept_


def test_save_load_round_trip(fitted, kjv_sets, tmp_path):
    path = fitted.save(tmp_path / "clf")
    config = json.loads((path / CONFIG_FILE).read_text())
    assert config["version"] == FORMAT_VERSION and config["prior"] == 0.5
    loaded = NGramClassifier.load(path)
    docs = kjv_sets[1].docs
    assert np.array_equal(loaded.decision_function(docs), fitted.decision_function(docs))
    assert loaded.get_params() == fitted.get_params()
    # weights are stored sparsely: only buckets seen in training
    with np.load(path / WEIGHTS_FILE, allow_pickle=False) as z:
        assert z["coef_index"].size == np.count_nonzero(fitted.coef_)


def _saved(tmp_path):
    clf = NGramClassifier(**SMALL).fit(["one two three"], ["four five six"])
    return clf.save(tmp_path / "c")


def _rewrite_config(path, **changes):
    config = json.loads((path / CONFIG_FILE).read_text())
    config.update(changes)
    (path / CONFIG_FILE).write_text(json.dumps(config))


def test_load_refuses_unknown_version(tmp_path):
    path = _saved(tmp_path)
    _rewrite_config(path, version=FORMAT_VERSION + 1)
    with pytest.raises(DataError, match=f"version {FORMAT_VERSION}, got {FORMAT_VERSION + 1}"):
        NGramClassifier.load(path)


def test_load_refuses_foreign_weights(tmp_path):
    path = _saved(tmp_path)
    with open(path / WEIGHTS_FILE, "wb") as fh:
        np.savez(fh, coef_index=np.array([0]), coef_value=np.array([1.0]), intercept=np.float64(0))
    with pytest.raises(DataError, match="sha256"):
        NGramClassifier.load(path)


def test_load_never_unpickles(tmp_path):
    """An object array (which np.load could only read by unpickling) is refused, not executed."""
    import hashlib

    path = _saved(tmp_path)
    with open(path / WEIGHTS_FILE, "wb") as fh:
        np.savez(
            fh,
            coef_index=np.array([0]),
            coef_value=np.array([{"evil": 1}], dtype=object),
            intercept=np.float64(0),
        )
    _rewrite_config(
        path, weights_sha256=hashlib.sha256((path / WEIGHTS_FILE).read_bytes()).hexdigest()
    )
    with pytest.raises(DataError, match="plain arrays"):
        NGramClassifier.load(path)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "something.else"},
        {"prior": 0.9},
        {"params": {"n_features": -1}},
        {"params": {"unknown": 1}},
        {"n_human": "3"},
    ],
)
def test_load_refuses_bad_config(tmp_path, change):
    path = _saved(tmp_path)
    _rewrite_config(path, **change)
    with pytest.raises(DataError):
        NGramClassifier.load(path)


def test_load_missing_or_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        NGramClassifier.load(tmp_path / "nowhere")
    path = _saved(tmp_path)
    (path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(DataError, match="JSON"):
        NGramClassifier.load(path)


def test_unfitted_and_bad_params():
    with pytest.raises(NotFittedError):
        NGramClassifier().score(["text"])
    with pytest.raises(NotFittedError):
        NGramClassifier().save("/tmp/never-written")
    for bad in [
        {"char_ngrams": (3, 2)},
        {"word_ngrams": (0, 1)},
        {"n_features": 8},
        {"C": 0.0},
        {"lowercase": "yes"},
        {"max_iter": 0},
        {"tol": -1.0},
    ]:
        with pytest.raises(InvalidParameterError):
            NGramClassifier(**bad).fit(["a b"], ["c d"])


@pytest.mark.parametrize(
    ("human", "synthetic", "match"),
    [
        ([], ["a"], "at least 1"),
        (["a"], [], "at least 1"),
        (["a", ""], ["b"], "non-blank"),
        (["a", "  \n"], ["b"], "non-blank"),
        (["a", 3], ["b"], "expected str"),
        (["a"], [b"bytes"], "expected str"),
        ("a single string", ["b"], "sequence"),
        (["a\udcffb"], ["b"], "surrogate"),
    ],
)
def test_bad_documents(human, synthetic, match):
    with pytest.raises(DataError, match=match):
        NGramClassifier(**SMALL).fit(human, synthetic)


@pytest.fixture(scope="module")
def tiny():
    return NGramClassifier(**SMALL).fit(["the cat sat", "a dog ran"], ["cat cat cat", "ran ran"])


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(min_size=1, max_size=200).filter(str.strip), max_size=5))
def test_any_text_scores_in_unit_interval(tiny, docs):
    s = tiny.score(docs)
    assert s.shape == (len(docs),) and np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(s, expit(tiny.decision_function(docs)))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(st.integers(), st.none(), st.binary(), st.just(""), st.just(" \t"), st.floats()),
        min_size=1,
        max_size=4,
    )
)
def test_bad_items_raise_data_error(tiny, items):
    with pytest.raises(DataError):
        tiny.score(["fine text", *items])
    with pytest.raises(DataError):
        check_corpus(items)
