"""Word/punctuation tokenizer and its detokenizer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from modelcollapse.data.tokenize import detokenize, is_word, tokenize


def test_words_and_punctuation_are_separate_tokens() -> None:
    assert tokenize("In the beginning, God created.") == [
        "In", "the", "beginning", ",", "God", "created", ".",
    ]  # fmt: skip
    assert tokenize("don't  stop!!") == ["don", "'", "t", "stop", "!", "!"]
    assert tokenize("émigré_2 café") == ["émigré_2", "café"]  # \w is Unicode-aware
    assert tokenize("  \t\n ") == []
    assert tokenize("") == []


def test_lowercase_is_optional() -> None:
    assert tokenize("The LORD said") == ["The", "LORD", "said"]
    assert tokenize("The LORD said", lowercase=True) == ["the", "lord", "said"]


def test_detokenize_attaches_punctuation_to_previous_token() -> None:
    assert detokenize(["Hello", ",", "world", "!"]) == "Hello, world!"
    assert detokenize([".", "a", "(", "b", ")"]) == ". a( b)"
    assert detokenize([]) == ""
    assert is_word("abc") and is_word("_x") and not is_word(",") and not is_word("<")


def test_special_symbols_cannot_be_produced() -> None:
    assert tokenize("<s> </s> <unk>") == ["<", "s", ">", "<", "/", "s", ">", "<", "unk", ">"]


@given(st.text())
def test_roundtrip_is_stable(text: str) -> None:
    tokens = tokenize(text)
    assert all(tok and not any(ch.isspace() for ch in tok) for tok in tokens)
    assert tokenize(detokenize(tokens)) == tokens
    assert detokenize(tokenize(detokenize(tokens))) == detokenize(tokens)


@given(st.lists(st.sampled_from(["a", "bc", ",", ".", "Ü", "'", "9", "\x00", "\u0301"])))
def test_roundtrip_of_token_lists(tokens: list[str]) -> None:
    assert tokenize(detokenize(tokens)) == tokens
