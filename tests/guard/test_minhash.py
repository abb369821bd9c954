"""MinHash: bit-identical to datasketch on the same permutations, unbiased against exact Jaccard,
and the LSH (b, r) choice equal to datasketch's."""

from __future__ import annotations

import datasketch
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.minhash import (
    MAX_HASH,
    MinHasher,
    band_hashes,
    estimated_jaccard,
    optimal_bands,
)
from modelcollapse.guard.normalize import normalize

TEXT = st.text(max_size=80)


def _datasketch_signature(hasher: MinHasher, text: str) -> np.ndarray:
    """datasketch's affine32 MinHash over our shingle hashes, with our permutations."""
    m = datasketch.MinHash(
        num_perm=hasher.num_perm,
        permutations=(hasher.a, hasher.b),
        scheme="affine32",
        hashfunc=lambda x: x,
    )
    m.update_batch(hasher.shingle_hashes(text).tolist())
    return m.hashvalues


@pytest.mark.parametrize(("shingle", "k"), [("char", 5), ("char", 1), ("word", 3), ("word", 1)])
@settings(max_examples=40, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=8))
def test_signatures_equal_datasketch(shingle, k, texts):
    hasher = MinHasher(num_perm=32, shingle=shingle, k=k, seed=3)
    sigs = hasher.signatures(texts)
    assert sigs.shape == (len(texts), 32) and sigs.dtype == np.uint32
    for text, sig in zip(texts, sigs, strict=True):
        np.testing.assert_array_equal(sig, _datasketch_signature(hasher, text))


def _python_shingles(text: str, shingle: str, k: int) -> set[tuple]:
    units = list(normalize(text)) if shingle == "char" else normalize(text).split()
    if not units:
        return set()
    if len(units) < k:
        return {tuple(units)}
    return {tuple(units[i : i + k]) for i in range(len(units) - k + 1)}


@pytest.mark.parametrize(("shingle", "k"), [("char", 4), ("word", 2)])
@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet="ab cd.", max_size=40))
def test_shingle_set_matches_the_definition(shingle, k, text):
    # Distinct shingles get distinct 32-bit hashes (no collision among a few dozen).
    hasher = MinHasher(num_perm=8, shingle=shingle, k=k)
    assert hasher.shingle_hashes(text).size == len(_python_shingles(text, shingle, k))


def test_batch_equals_one_by_one_and_blocks_do_not_matter():
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "eps"])
    texts = [" ".join(rng.choice(words, size=rng.integers(0, 3000))) for _ in range(12)]
    hasher = MinHasher(num_perm=16)
    batch = hasher.signatures(texts)  # several documents span the 8192-shingle blocks
    for text, sig in zip(texts, batch, strict=True):
        np.testing.assert_array_equal(sig, hasher.signature(text))


def test_empty_text_has_the_empty_signature():
    sig = MinHasher(num_perm=8).signature("  ...  ")
    assert (sig == MAX_HASH).all()


def test_estimate_is_unbiased_against_exact_jaccard():
    """Over many pairs, the estimate's error matches binomial noise sqrt(J(1-J)/P)."""
    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(400)]
    hasher = MinHasher(num_perm=256, shingle="word", k=1, seed=11)
    z = []
    for _ in range(60):
        base = list(rng.choice(vocab, size=60, replace=False))
        n_swap = int(rng.integers(0, 40))
        other = base[n_swap:] + list(rng.choice(vocab, size=n_swap))
        a, b = set(base), set(other)
        exact = len(a & b) / len(a | b)
        est = estimated_jaccard(hasher.signature(" ".join(base)), hasher.signature(" ".join(other)))
        sd = np.sqrt(max(exact * (1 - exact), 1e-3) / hasher.num_perm)
        z.append((est - exact) / sd)
    z = np.array(z)
    assert abs(z.mean()) < 4 / np.sqrt(len(z))  # no bias
    assert 0.5 < z.std() < 1.6  # binomial spread, not more


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
def test_optimal_bands_equal_datasketch(threshold, num_perm):
    from datasketch.lsh import _optimal_param

    assert optimal_bands(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.5, 0.5)


def test_weighted_optimal_bands_equal_datasketch():
    from datasketch.lsh import _optimal_param

    got = optimal_bands(0.8, 128, false_positive_weight=0.1, false_negative_weight=0.9)
    assert got == _optimal_param(0.8, 128, 0.1, 0.9)


def test_band_hashes_agree_exactly_when_bands_agree():
    rng = np.random.default_rng(2)
    sig = rng.integers(0, 2**32, size=(2, 12), dtype=np.uint64).astype(np.uint32)
    sig[1, 4:8] = sig[0, 4:8]  # band 1 of 3 (rows 4) equal
    keys = band_hashes(sig, 3, 4)
    assert keys.dtype == np.int64 and keys.shape == (2, 3)
    assert (keys[0] == keys[1]).tolist() == [False, True, False]


def test_permutations_round_trip_and_validation():
    h = MinHasher(num_perm=8, seed=5)
    again = MinHasher(permutations=(h.a, h.b))
    np.testing.assert_array_equal(h.signature("some text here"), again.signature("some text here"))
    assert (h.a % 2 == 1).all()
    with pytest.raises(InvalidParameterError, match="odd"):
        MinHasher(permutations=(h.a - 1, h.b))
    with pytest.raises(InvalidParameterError, match="shingle"):
        MinHasher(shingle="byte")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="k"):
        MinHasher(k=0)
    with pytest.raises(InvalidParameterError, match="num_perm"):
        MinHasher(num_perm=0)
    with pytest.raises(InvalidParameterError, match="threshold"):
        optimal_bands(1.0, 128)
    with pytest.raises(InvalidParameterError, match="text 1"):
        h.signatures(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidParameterError, match="shape"):
        estimated_jaccard(np.zeros(3), np.zeros(4))
    with pytest.raises(InvalidParameterError, match="bands"):
        band_hashes(np.zeros((1, 8), dtype=np.uint32), 3, 3)
