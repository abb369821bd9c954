"""embed_texts with a fake model: caching, batching, ordering, validation and bad input."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelcollapse.embeddings import EmbeddingCache, default_cache_dir, embed_texts
from modelcollapse.errors import DataError, InvalidParameterError
from tests.embeddings.fakes import CountingEncoder, vector_for

VERSES = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void.",
    "And God said, Let there be light: and there was light.",
    "Jesus wept.",
    "",
    "ünïcödé — and emoji 🙂",
]


def expected(texts, dim=8):
    return np.stack([vector_for(t, dim) for t in texts])


def test_second_call_on_same_texts_does_not_run_the_model(tmp_path):
    first = CountingEncoder()
    a = embed_texts(VERSES, model=first, cache_dir=tmp_path)
    assert first.calls >= 1 and sorted(first.encoded) == sorted(VERSES)

    second = CountingEncoder()  # same identity, fresh counter
    b = embed_texts(VERSES, model=second, cache_dir=tmp_path)
    assert second.calls == 0
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, expected(VERSES))
    assert a.dtype == np.float32 and a.shape == (len(VERSES), 8)


def test_only_the_misses_run_through_the_model(tmp_path):
    embed_texts(VERSES[:3], model=CountingEncoder(), cache_dir=tmp_path)
    enc = CountingEncoder()
    out = embed_texts(VERSES, model=enc, cache_dir=tmp_path)
    assert sorted(enc.encoded) == sorted(VERSES[3:])
    np.testing.assert_array_equal(out, expected(VERSES))


def test_duplicates_are_embedded_once_and_rows_follow_the_input(tmp_path):
    texts = ["b", "a", "b", "c", "a", "b"]
    enc = CountingEncoder()
    out = embed_texts(texts, model=enc, cache_dir=tmp_path)
    assert sorted(enc.encoded) == ["a", "b", "c"]
    np.testing.assert_array_equal(out, expected(texts))


def test_another_model_identity_is_a_different_cache_entry(tmp_path):
    embed_texts(VERSES, model=CountingEncoder(), cache_dir=tmp_path)
    other = CountingEncoder(fingerprint="0" * 64)
    embed_texts(VERSES, model=other, cache_dir=tmp_path)
    assert sorted(other.encoded) == sorted(VERSES)
    renamed = CountingEncoder(name="other")
    embed_texts(VERSES, model=renamed, cache_dir=tmp_path)
    assert sorted(renamed.encoded) == sorted(VERSES)


def test_misses_run_in_batches_longest_first(tmp_path):
    texts = [f"text number {'x' * i}" for i in range(10)]
    enc = CountingEncoder()
    embed_texts(texts, model=enc, cache_dir=tmp_path, batch_size=3)
    assert enc.calls == 4
    lengths = [len(t) for t in enc.encoded]
    assert lengths == sorted(lengths, reverse=True)


def test_a_crash_keeps_the_batches_already_computed(tmp_path):
    class Crashing(CountingEncoder):
        def encode(self, texts):
            if self.calls == 2:
                raise RuntimeError("killed")
            return super().encode(texts)

    texts = [f"verse {i}" for i in range(10)]
    with pytest.raises(RuntimeError, match="killed"):
        embed_texts(texts, model=Crashing(), cache_dir=tmp_path, batch_size=3)
    enc = CountingEncoder()
    out = embed_texts(texts, model=enc, cache_dir=tmp_path, batch_size=3)
    assert len(enc.encoded) == 4  # 10 texts - 2 finished batches of 3
    np.testing.assert_array_equal(out, expected(texts))


def test_empty_list_gives_zero_rows_without_running_the_model(tmp_path):
    enc = CountingEncoder(dim=5)
    out = embed_texts([], model=enc, cache_dir=tmp_path)
    assert out.shape == (0, 5) and out.dtype == np.float32
    assert enc.calls == 0


def test_default_cache_dir_is_under_modelcollapse_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELCOLLAPSE_CACHE", str(tmp_path / "root"))
    enc = CountingEncoder()
    embed_texts(["a"], model=enc)
    directory = default_cache_dir(enc)
    assert directory == tmp_path / "root" / "embeddings" / "fake-ffffffffffff"
    assert (directory / "embeddings.sqlite").is_file()
    monkeypatch.delenv("MODELCOLLAPSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir(enc) == tmp_path / "xdg" / "modelcollapse" / "embeddings" / (
        "fake-ffffffffffff"
    )


def test_corrupt_cache_file_is_rebuilt_and_vectors_recomputed(tmp_path):
    embed_texts(VERSES, model=CountingEncoder(), cache_dir=tmp_path)
    (tmp_path / "embeddings.sqlite").write_bytes(b"\x00garbage" * 1000)
    enc = CountingEncoder()
    with pytest.warns(RuntimeWarning, match="rebuilt"):
        out = embed_texts(VERSES, model=enc, cache_dir=tmp_path)
    assert sorted(enc.encoded) == sorted(VERSES)
    np.testing.assert_array_equal(out, expected(VERSES))


def test_progress_bar_on_stderr_when_many_texts(tmp_path, capsys):
    texts = [f"t{i}" for i in range(20)]
    embed_texts(texts, model=CountingEncoder(), cache_dir=tmp_path, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "embedding (fake)" in err and "20/20" in err


def test_no_progress_bar_for_a_single_batch(tmp_path, capsys):
    embed_texts(["a", "b"], model=CountingEncoder(), cache_dir=tmp_path, progress=True)
    assert "embedding" not in capsys.readouterr().err


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("texts", "match"),
    [
        (["a", "b", 3, "d"], "index 2, got int"),
        (["a", None], "index 1, got NoneType"),
        ([b"bytes"], "index 0, got bytes"),
        (["ok", "bad \udc80 surrogate"], "index 1"),
        ("a single string", "got a single str"),
        (42, "expected a list of str, got int"),
    ],
)
def test_bad_texts_raise_data_error_naming_the_index(tmp_path, texts, match):
    enc = CountingEncoder()
    with pytest.raises(DataError, match=match):
        embed_texts(texts, model=enc, cache_dir=tmp_path)
    assert enc.calls == 0


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True, "64"])
def test_bad_batch_size(tmp_path, batch_size):
    with pytest.raises(InvalidParameterError, match="batch_size: expected an integer >= 1"):
        embed_texts(["a"], model=CountingEncoder(), cache_dir=tmp_path, batch_size=batch_size)


def test_encoder_returning_the_wrong_shape_is_rejected(tmp_path):
    class Short(CountingEncoder):
        def encode(self, texts):
            return super().encode(texts)[:-1]

    with pytest.raises(InvalidParameterError, match=r"expected embeddings of shape \(3, d\)"):
        embed_texts(["a", "b", "c"], model=Short(), cache_dir=tmp_path)
    assert len(EmbeddingCache(tmp_path)) == 0


def test_encoder_returning_nan_names_the_text_and_caches_nothing(tmp_path):
    class NaNs(CountingEncoder):
        def encode(self, texts):
            out = super().encode(texts)
            out[[i for i, t in enumerate(texts) if t == "bad"]] = np.nan
            return out

    with pytest.raises(DataError, match="NaN or inf for the text at index 2"):
        embed_texts(["a", "b", "bad", "c"], model=NaNs(), cache_dir=tmp_path)
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == 0


def test_unknown_model_argument_type(tmp_path):
    with pytest.raises(InvalidParameterError, match="model: expected None, a model folder path"):
        embed_texts(["a"], model=3.5, cache_dir=tmp_path)


# -- properties -----------------------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), max_size=30))
def test_any_text_list_round_trips_through_the_cache(texts):
    with tempfile.TemporaryDirectory() as tmp:
        first = embed_texts(texts, model=CountingEncoder(), cache_dir=Path(tmp), batch_size=7)
        enc = CountingEncoder()
        again = embed_texts(texts, model=enc, cache_dir=Path(tmp), batch_size=7)
    assert enc.calls == 0
    assert first.shape == (len(texts), 8)
    np.testing.assert_array_equal(first, again)
    if texts:
        np.testing.assert_array_equal(first, expected(texts))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(st.text(max_size=20), st.integers(), st.none(), st.floats(), st.binary()),
        min_size=1,
        max_size=20,
    )
)
def test_first_non_str_item_is_named(items):
    bad = [i for i, x in enumerate(items) if not isinstance(x, str)]
    enc = CountingEncoder()
    with tempfile.TemporaryDirectory() as tmp:
        if bad:
            with pytest.raises(DataError, match=f"at index {bad[0]}, got"):
                embed_texts(items, model=enc, cache_dir=Path(tmp))
            assert enc.calls == 0
        else:
            assert embed_texts(items, model=enc, cache_dir=Path(tmp)).shape == (len(items), 8)
