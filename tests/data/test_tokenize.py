"""Word/punctuation tokenizer, its detokenizer, and the named tokenizers of the metrics."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelcollapse.data.tokenize import (
    DEFAULT_TOKENIZER,
    check_tokenizer,
    detokenize,
    get_tokenizer,
    is_word,
    tokenize,
    tokenizer_name,
)
from modelcollapse.errors import InvalidParameterError


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


# -- metric tokenizers ----------------------------------------------------------------------
def test_named_tokenizers() -> None:
    assert DEFAULT_TOKENIZER == "whitespace"
    assert get_tokenizer(None)("Word, word") == ["Word,", "word"]
    assert get_tokenizer("whitespace")(" a\tb\u00a0c\n") == ["a", "b", "c"]  # NBSP is space
    assert get_tokenizer("words")("Word, word") == ["Word", ",", "word"]
    assert get_tokenizer("lower:words")("The LORD") == ["the", "lord"]
    assert get_tokenizer("lower:lower:whitespace")("A B") == ["a", "b"]
    assert get_tokenizer(str.split) is str.split  # a callable is used as it is


def test_regex_tokenizer_keeps_whole_non_empty_matches() -> None:
    assert get_tokenizer(r"regex:\w+")("Word, word!") == ["Word", "word"]
    # Groups do not change what a token is: the whole match.
    assert get_tokenizer(r"regex:(a)(b)?")("ab a") == ["ab", "a"]
    # A pattern that can match the empty string gives no empty tokens.
    assert get_tokenizer("regex:a*")("baab") == ["aa"]
    assert get_tokenizer("lower:regex:[a-z]+")("Hi THERE 42") == ["hi", "there"]
    # The pattern is everything after the prefix, colons included.
    assert get_tokenizer("regex:a:b")("a:b a") == ["a:b"]


def test_bad_tokenizer_names_are_clear_errors() -> None:
    with pytest.raises(
        InvalidParameterError, match=r"unknown tokenizer 'wordz' \(did you mean 'words'\?\)"
    ):
        get_tokenizer("wordz")
    with pytest.raises(InvalidParameterError, match="did you mean 'whitespace'"):
        get_tokenizer("whitspace")
    with pytest.raises(InvalidParameterError, match="regex:PATTERN"):
        get_tokenizer("default")  # the old name of "words" is gone with the new default
    with pytest.raises(InvalidParameterError, match=r"valid regular expression .*got '\('"):
        get_tokenizer("regex:(")
    with pytest.raises(InvalidParameterError, match="expected a regular expression after"):
        get_tokenizer("regex:")
    with pytest.raises(InvalidParameterError, match="callable"):
        get_tokenizer(3)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="expected a name"):
        check_tokenizer(str.split)
    assert check_tokenizer("regex:[a-z]+") == "regex:[a-z]+"


def test_resolved_tokenizers_pickle_and_have_names() -> None:
    for spec in ("whitespace", "words", r"regex:\d+", "lower:regex:x+"):
        tok = get_tokenizer(spec)
        assert pickle.loads(pickle.dumps(tok))("Xx 12 x") == tok("Xx 12 x")
        assert tokenizer_name(spec) == spec
    assert tokenizer_name(None) == "whitespace"
    assert tokenizer_name(str.split) == "callable:str.split"
    assert tokenizer_name(tokenize) == "callable:modelcollapse.data.tokenize.tokenize"


SPECS = ["whitespace", "words", r"regex:\w+", r"regex:\S*", "regex:.", "lower:words"]


@given(st.text(), st.sampled_from(SPECS))
def test_tokenizers_on_arbitrary_unicode(text: str, spec: str) -> None:
    tokens = get_tokenizer(spec)(text)
    assert isinstance(tokens, list) and all(isinstance(t, str) and t for t in tokens)
    if spec in ("whitespace", "words", "lower:words"):
        assert not any(ch.isspace() for tok in tokens for ch in tok)
    if spec == "whitespace":
        assert tokens == text.split() and "".join(tokens) == "".join(text.split())
        # A document has a whitespace token exactly when it has a word or punctuation token.
        assert bool(tokens) == bool(tokenize(text))
