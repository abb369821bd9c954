"""Normalisation: the documented rules, idempotence, and a hash that ignores surface edits."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.normalize import normalize, normalized_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello,  WORLD!", "hello world"),
        ("  tabs\tand\nnewlines\r\n ", "tabs and newlines"),
        ("Straße", "strasse"),  # full case folding
        ("ﬁne ＷＯＲＤ", "fine word"),  # ligature and full-width forms (NFKC)
        ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),  # Cf deleted
        ("don't—stop…now", "don t stop now"),  # punctuation becomes a space
        ("$5 + 3 = 8 🙂", "$5 + 3 = 8 🙂"),  # symbols and digits are content
        ("café", "café"),
        ("cafe\u0301", "café"),  # NFKC composes
        ("\x00ctrl\x07", "ctrl"),
        ("", ""),
        ("!!! ...", ""),
    ],
)
def test_documented_rules(text, expected):
    assert normalize(text) == expected


def test_accents_are_kept_apart():
    assert normalized_hash("café") != normalized_hash("cafe")


def test_hash_is_sha256_of_the_normalised_utf8():
    expected = hashlib.sha256(b"hello world").hexdigest()
    assert normalized_hash("Hello, World!") == expected
    assert normalized_hash("HELLO\tworld") == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_idempotent_and_total(text):
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once
    assert len(normalized_hash(text)) == 64  # never raises, lone surrogates included


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ", min_size=1, max_size=5), min_size=1, max_size=6))
def test_case_spacing_and_punctuation_do_not_change_the_hash(words):
    plain = " ".join(words)
    noisy = " ,  ".join(w.upper() for w in words) + "?!"
    assert normalized_hash(plain) == normalized_hash(noisy)


def test_refuses_non_strings():
    with pytest.raises(InvalidParameterError, match="expected a str"):
        normalize(b"bytes")  # type: ignore[arg-type]
