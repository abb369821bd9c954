"""Integer n-gram tables: equal ids exactly for equal token sequences, boundaries respected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.metrics.functional.ngram_table import (
    encode_documents,
    encode_tokenized,
    iter_ngram_ids,
    ngram_ids,
)

tokens_strategy = st.lists(st.lists(st.sampled_from("abcd"), max_size=9), min_size=1, max_size=8)


def reference_ngrams(tokenized, n, across):
    """(n-gram tuple, start document) for every occurrence, in corpus order."""
    if across:
        flat = [(tok, d) for d, toks in enumerate(tokenized) for tok in toks]
        return [
            (tuple(t for t, _ in flat[i : i + n]), flat[i][1]) for i in range(len(flat) - n + 1)
        ]
    return [
        (tuple(toks[i : i + n]), d)
        for d, toks in enumerate(tokenized)
        for i in range(len(toks) - n + 1)
    ]


@settings(max_examples=80, deadline=None)
@given(tokenized=tokens_strategy, across=st.booleans())
def test_ids_match_python_tuples(tokenized, across):
    corpus = encode_tokenized(tokenized)
    assert corpus.n_docs == len(tokenized)
    assert corpus.lengths.tolist() == [len(t) for t in tokenized]
    for table in iter_ngram_ids(corpus, 4, across_documents=across):
        want = reference_ngrams(tokenized, table.n, across)
        assert table.ids.shape == table.docs.shape == (len(want),)
        assert table.docs.tolist() == [d for _, d in want]
        assert table.n_distinct == len({g for g, _ in want})
        # Same id exactly when the same token sequence.
        by_id: dict[int, tuple[str, ...]] = {}
        for gid, (gram, _) in zip(table.ids.tolist(), want, strict=True):
            assert by_id.setdefault(gid, gram) == gram
        assert len(by_id) == table.n_distinct
        if table.ids.size:
            assert table.ids.min() == 0 and table.ids.max() == table.n_distinct - 1


def test_hand_example_and_tokenizers():
    corpus = encode_documents(["a b a b", "a b", "c"], "whitespace")
    assert corpus.tokens.tolist() == [0, 1, 0, 1, 0, 1, 2]
    assert corpus.offsets.tolist() == [0, 4, 6, 7]
    bigrams = ngram_ids(corpus, 2)
    assert bigrams.docs.tolist() == [0, 0, 0, 1]  # "b c" spans documents: not counted
    assert bigrams.n_distinct == 2
    assert ngram_ids(corpus, 2, across_documents=True).n_distinct == 3
    assert encode_documents(["Hi, you"], "words").vocab_size == 3  # punctuation is a token
    assert encode_documents(["Hi, you"]).vocab_size == 2  # default: whitespace
    empty = encode_documents(["", " "])
    assert empty.tokens.size == 0 and ngram_ids(empty, 3).ids.size == 0


def test_unhashable_tokens_are_a_data_error():
    with pytest.raises(DataError, match="hashable"):
        encode_documents(["a b"], tokenizer=lambda s: [list(s)])
    assert np.array_equal(
        encode_documents(["a b"], tokenizer=lambda s: tuple(s.split())).tokens, [0, 1]
    )


def test_bad_tokenizers():
    with pytest.raises(DataError, match="list of tokens, got NoneType for document 0"):
        encode_documents(["a b"], tokenizer=lambda s: None)
    with pytest.raises(InvalidParameterError, match="callable"):
        encode_documents(["a b"], tokenizer=3)
    with pytest.raises(InvalidParameterError, match="did you mean 'whitespace'"):
        encode_documents(["a b"], tokenizer="whitespaces")
    assert encode_documents(["a  b\tc"], "whitespace").tokens.tolist() == [0, 1, 2]
    assert encode_documents(["a b,"], "words").vocab_size == 3
    with pytest.raises(InvalidParameterError, match="unknown tokenizer 'default'"):
        encode_documents(["a b"], "default")  # the old name of "words", gone with the default
