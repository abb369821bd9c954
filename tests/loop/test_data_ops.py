"""concat / take / length for array and text data kinds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelcollapse.errors import DataError
from modelcollapse.loop.data_ops import concat, length, take


def test_numeric_concat_take_length():
    a, b = np.arange(6.0).reshape(3, 2), np.arange(4.0).reshape(2, 2) + 100
    both = concat([a, b])
    assert length(both) == 5 and both.shape == (5, 2)
    np.testing.assert_array_equal(take(both, [4, 0]), [[102.0, 103.0], [0.0, 1.0]])


def test_text_concat_take_length():
    both = concat([["a", "b"], [], ["é c"]])
    assert both == ["a", "b", "é c"] and length(both) == 3
    assert take(both, np.array([2, 0])) == ["é c", "a"]


def test_errors_are_typed():
    with pytest.raises(DataError, match="same row shape"):
        concat([np.zeros((2, 2)), np.zeros((2, 3))])
    with pytest.raises(DataError, match="one kind"):
        concat([np.zeros((2, 2)), ["text"]])
    with pytest.raises(DataError, match="at least one"):
        concat([])
    with pytest.raises(DataError, match="indices in"):
        take(np.zeros((2, 2)), [2])
    with pytest.raises(DataError, match="1-D index"):
        take(["a"], [[0]])
    with pytest.raises(DataError, match="numpy array or a list"):
        length("not data")
    with pytest.raises(DataError, match="scalar"):
        length(np.array(1.0))


@given(
    parts=st.lists(
        hnp.arrays(
            np.float64, st.tuples(st.integers(0, 5), st.just(3)), elements=st.floats(allow_nan=True)
        ),
        min_size=1,
        max_size=4,
    )
)
def test_concat_arrays_preserves_rows_in_order(parts):
    out = concat(parts)
    assert length(out) == sum(len(p) for p in parts)
    start = 0
    for p in parts:
        np.testing.assert_array_equal(out[start : start + len(p)], p)
        start += len(p)


@given(
    parts=st.lists(st.lists(st.text(max_size=50), max_size=5), min_size=1, max_size=4),
    data=st.data(),
)
def test_concat_take_text_roundtrip(parts, data):
    out = concat(parts)
    assert out == [doc for p in parts for doc in p]
    if out:
        idx = data.draw(st.lists(st.integers(0, len(out) - 1), max_size=10))
        assert take(out, np.array(idx, dtype=np.int64)) == [out[i] for i in idx]
