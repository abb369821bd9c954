"""TextTokenizer: exact round trips, fixed special ids, unseen characters, JSON serialisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tokenizers", reason="the torch extra (tokenizers) is not installed")

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.text_tokenizer import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    TextTokenizer,
)

DOCS = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And God said, Let there be light: and there was light.",
    "",
]


@pytest.fixture(scope="module")
def bpe() -> TextTokenizer:
    return TextTokenizer.train(DOCS, "bpe", 300)


@pytest.fixture(scope="module")
def char() -> TextTokenizer:
    return TextTokenizer.train(DOCS, "char")


def test_special_ids_are_fixed(bpe: TextTokenizer, char: TextTokenizer) -> None:
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    for tok in (bpe, char):
        assert tok.decode([[PAD, BOS, EOS, UNK]]) == [""]


def test_char_vocab_is_the_alphabet(char: TextTokenizer) -> None:
    assert char.vocab_size == len(SPECIALS) + len(set("".join(DOCS)))
    ids = char.encode(["God"])[0]
    assert len(ids) == 3 and min(ids) >= len(SPECIALS)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_bpe_round_trips_any_string(bpe: TextTokenizer, text: str) -> None:
    ids = bpe.encode([text])[0]
    assert UNK not in ids
    assert bpe.decode([ids]) == [text]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="".join(sorted(set("".join(DOCS)))), max_size=200))
def test_char_round_trips_text_over_its_alphabet(char: TextTokenizer, text: str) -> None:
    ids = char.encode([text])[0]
    assert len(ids) == len(text)
    assert char.decode([ids]) == [text]


def test_unseen_characters_are_one_unk_each(char: TextTokenizer) -> None:
    ids = char.encode(["G€🙂d"])[0]
    assert ids[1:3] == [UNK, UNK] and len(ids) == 4
    assert char.decode([ids]) == ["Gd"]


def test_special_token_text_is_ordinary_text(bpe: TextTokenizer, char: TextTokenizer) -> None:
    text = "<eos><bos> <pad><unk>"
    for tok in (bpe, char):
        ids = tok.encode([text])[0]
        assert not set(ids) & {PAD, BOS, EOS}
    assert bpe.decode(bpe.encode([text])) == [text]


def test_json_round_trip(bpe: TextTokenizer, char: TextTokenizer) -> None:
    for tok in (bpe, char):
        again = TextTokenizer.from_json(tok.to_json())
        assert again.kind == tok.kind and again.vocab_size == tok.vocab_size
        assert again.encode(DOCS) == tok.encode(DOCS)
        assert again.to_json() == tok.to_json()
        # the flag that keeps "<eos>" in text literal survives loading
        assert EOS not in again.encode(["<eos>"])[0]


def test_training_is_deterministic() -> None:
    assert (
        TextTokenizer.train(DOCS, "bpe", 300).to_json()
        == TextTokenizer.train(DOCS, "bpe", 300).to_json()
    )


@pytest.mark.parametrize(
    "bad", ["", "{", "[]", '{"kind": "word", "tokenizer": {}}', '{"kind": "bpe", "tokenizer": 3}']
)
def test_bad_json_raises_data_error(bad: str) -> None:
    with pytest.raises(DataError, match="tokenizer"):
        TextTokenizer.from_json(bad)


def test_bad_training_arguments() -> None:
    with pytest.raises(InvalidParameterError, match="vocab_size"):
        TextTokenizer.train(DOCS, "bpe", 100)
    with pytest.raises(InvalidParameterError, match="tokenizer"):
        TextTokenizer.train(DOCS, "word")  # type: ignore[arg-type]


def test_empty_inputs(bpe: TextTokenizer) -> None:
    assert bpe.encode([]) == [] and bpe.decode([]) == []
    assert bpe.encode([""]) == [[]] and bpe.decode([[]]) == [""]
