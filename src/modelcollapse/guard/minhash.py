"""MinHash signatures and LSH banding, vectorised with numpy.

**Shingles.** A text's shingle set ``S(t)`` is built from its normalised form
(:func:`modelcollapse.guard.normalize.normalize`, unless ``normalize=False``):

- ``shingle="char"``: every run of ``k`` consecutive code points (the default, ``k=5``: a one-word
  edit in a 30-word sentence changes about 10 of 150 shingles, so light edits keep a high
  Jaccard similarity);
- ``shingle="word"``: every run of ``k`` consecutive words (the normalised text split on spaces).

A text shorter than ``k`` units has one shingle, the whole text; an empty text has none.

**Shingle hash.** Each shingle ``(x_1, ..., x_m)`` (code points, or for words the first 8 bytes
of ``blake2b`` of each word's UTF-8) maps to ``h = f(...f(f(H0 xor x_1) xor x_2)... xor x_m)``
with ``f`` the splitmix64 finaliser (a bijection on 64-bit integers), and the shingle's 32-bit
hash is the top half of ``h``. This runs as array operations over a whole batch.

**MinHash** (Broder 1997), datasketch's ``affine32`` scheme (datasketch >= 2.0, the default
there): each 32-bit shingle hash ``x`` is pre-mixed with the MurmurHash3 32-bit finaliser ``g``,
and permutation ``i`` maps it to ``pi_i(x) = (a_i * g(x) + b_i) mod 2^32`` with ``a_i`` odd, a
bijection. The signature is ``sig_i(t) = min over x in S(t) of pi_i(x)`` (all ``2^32 - 1`` for the
empty set), and ``P[sig_i(s) == sig_i(t)] ~= J(s, t) = |S(s) & S(t)| / |S(s) | S(t)|``, so the
fraction of equal entries estimates the Jaccard similarity. Given the same shingle hashes and
``(a, b)``, signatures are bit-identical to ``datasketch.MinHash(scheme="affine32")``.

**LSH banding** (Indyk & Motwani 1998; Leskovec, Rajaraman & Ullman, *Mining of Massive
Datasets*, ch. 3): the signature is cut into ``b`` bands of ``r`` rows; two texts become
candidates when any band agrees, with probability ``1 - (1 - J^r)^b``. :func:`optimal_bands`
picks ``(b, r)`` with ``b * r <= num_perm`` minimising the weighted false-positive area
``integral_0^T P(s) ds`` plus false-negative area ``integral_T^1 (1 - P(s)) ds`` (datasketch's
``_optimal_param``); the integrands are polynomials of degree ``b*r``, so Gauss-Legendre
quadrature with ``num_perm // 2 + 1`` nodes computes them exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import numpy as np

from modelcollapse.errors import InvalidParameterError
from modelcollapse.guard.normalize import normalize as _normalize

__all__ = [
    "MinHasher",
    "band_hashes",
    "estimated_jaccard",
    "optimal_bands",
]

Shingle = Literal["char", "word"]
MAX_HASH = np.uint32(0xFFFFFFFF)
_H0 = np.uint64(0x9E3779B97F4A7C15)
# Shingle hashes processed per block: (num_perm, block) uint32 stays ~4 MiB (cache-sized) at 128 permutations.
_BLOCK = 1 << 13


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (Steele, Lea & Flood 2014): an avalanching bijection on uint64."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, datasketch's pre-mix for the affine32 scheme."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _word_hash(word: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def _gram_hashes(units: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """64-bit hashes of ``units[s : s + length]`` for every ``s`` in ``starts``."""
    h = np.full(starts.shape, _H0, dtype=np.uint64)
    for j in range(length):
        h = _mix64(h ^ units[starts + j])
    return h


def _all_gram_hashes(units: np.ndarray, k: int) -> np.ndarray:
    """64-bit hashes of every window ``units[p : p + k]`` (contiguous slices, no gathers)."""
    n = units.size - k + 1
    h = np.full(max(n, 0), _H0, dtype=np.uint64)
    for j in range(k):
        h = _mix64(h ^ units[j : j + n])
    return h


def _shingle_hashes(
    units: np.ndarray, lengths: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """32-bit shingle hashes of every document and the document index of each.

    ``units`` is the concatenation of all documents' units (uint64), ``lengths`` their counts.
    Returns ``(hashes uint32, owner int64)`` with ``owner`` non-decreasing.
    """
    offsets = np.concatenate([[0], np.cumsum(lengths)])[:-1]
    counts = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    owner = np.repeat(np.arange(len(lengths)), counts)
    # Start of each shingle: the document's offset plus its rank within the document.
    first = np.concatenate([[0], np.cumsum(counts)])[:-1]
    starts = offsets[owner] + (np.arange(owner.size) - first[owner])
    full = (lengths >= k)[owner]
    h = np.empty(owner.size, dtype=np.uint64)
    # Windows over the concatenation: those of full-length shingles never cross a document end.
    h[full] = _all_gram_hashes(units, k)[starts[full]] if full.any() else 0
    short = np.flatnonzero(~full)  # documents shorter than k: one shingle, the whole text
    if short.size:
        gram_len = lengths[owner[short]]
        for m in np.unique(gram_len):
            sel = short[gram_len == m]
            h[sel] = _gram_hashes(units, starts[sel], int(m))
    return (h >> np.uint64(32)).astype(np.uint32), owner


class MinHasher:
    """MinHash signatures of texts (see the module docstring for the exact definition).

    ``seed`` fixes the permutations through ``np.random.default_rng(seed)``; pass
    ``permutations=(a, b)`` (uint32 arrays, ``a`` odd) to reuse stored ones instead.
    """

    def __init__(
        self,
        *,
        num_perm: int = 128,
        shingle: Shingle = "char",
        k: int = 5,
        seed: int = 1,
        permutations: tuple[np.ndarray, np.ndarray] | None = None,
        normalize: bool = True,
    ):
        if shingle not in ("char", "word"):
            raise InvalidParameterError(f"shingle: expected 'char' or 'word', got {shingle!r}")
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise InvalidParameterError(f"k: expected an integer >= 1, got {k!r}")
        if permutations is None:
            if not isinstance(num_perm, int | np.integer) or isinstance(num_perm, bool):
                raise InvalidParameterError(f"num_perm: expected an integer, got {num_perm!r}")
            if not 1 <= num_perm <= 8192:
                raise InvalidParameterError(f"num_perm: expected 1..8192, got {num_perm}")
            rng = np.random.default_rng(seed)
            a = rng.integers(0, 1 << 31, size=int(num_perm), dtype=np.uint32) * np.uint32(2) + 1
            b = rng.integers(0, 1 << 32, size=int(num_perm), dtype=np.uint64).astype(np.uint32)
        else:
            a, b = (np.asarray(p) for p in permutations)
            if a.shape != b.shape or a.ndim != 1 or a.size == 0:
                raise InvalidParameterError(
                    f"permutations: expected two 1-d arrays of one length, got shapes "
                    f"{a.shape} and {b.shape}"
                )
            if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
                raise InvalidParameterError(
                    f"permutations: expected integer arrays, got {a.dtype} and {b.dtype}"
                )
            if np.any(a < 0) or np.any(b < 0) or np.any(a > 0xFFFFFFFF) or np.any(b > 0xFFFFFFFF):
                raise InvalidParameterError("permutations: expected values in [0, 2^32)")
            a, b = a.astype(np.uint32), b.astype(np.uint32)
            if np.any(a % 2 == 0):
                raise InvalidParameterError("permutations: expected odd multipliers a")
        self.num_perm = int(a.size)
        self.shingle: Shingle = shingle
        self.k = int(k)
        self.normalize = bool(normalize)
        self.a = a
        self.b = b

    def __repr__(self) -> str:
        return f"MinHasher(num_perm={self.num_perm}, shingle={self.shingle!r}, k={self.k})"

    # -- shingles ---------------------------------------------------------------------------
    def _units(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All texts' units (code points or word hashes) concatenated, and per-text counts."""
        if self.normalize:
            texts = [_normalize(t) for t in texts]
        if self.shingle == "char":
            joined = "".join(texts).encode("utf-32-le", "surrogatepass")
            units = np.frombuffer(joined, dtype="<u4").astype(np.uint64)
            return units, np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        cache: dict[str, int] = {}
        hashes: list[int] = []
        lengths = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            words = text.split()
            lengths[i] = len(words)
            for w in words:
                h = cache.get(w)
                if h is None:
                    h = cache[w] = _word_hash(w)
                hashes.append(h)
        return np.array(hashes, dtype=np.uint64), lengths

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The distinct 32-bit shingle hashes of one text (sorted uint32)."""
        units, lengths = self._units([_check_text(text, 0)])
        hashes, _ = _shingle_hashes(units, lengths, self.k)
        return np.unique(hashes)

    # -- signatures -------------------------------------------------------------------------
    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures, shape ``(len(texts), num_perm)``, dtype uint32."""
        texts = [_check_text(t, i) for i, t in enumerate(texts)]
        sig = np.full((len(texts), self.num_perm), MAX_HASH, dtype=np.uint32)
        if not texts:
            return sig
        units, lengths = self._units(texts)
        hashes, owner = _shingle_hashes(units, lengths, self.k)
        mixed = _fmix32(hashes)
        a, b = self.a[:, None], self.b[:, None]
        for lo in range(0, mixed.size, _BLOCK):
            hv = mixed[lo : lo + _BLOCK]
            who = owner[lo : lo + _BLOCK]
            phv = a * hv[None, :] + b  # (num_perm, block), wraps modulo 2^32
            cuts = np.flatnonzero(np.concatenate([[True], who[1:] != who[:-1]]))
            mins = np.minimum.reduceat(phv, cuts, axis=1).T
            ids = who[cuts]  # distinct within a block, so fancy assignment is safe
            sig[ids] = np.minimum(sig[ids], mins)
        return sig

    def signature(self, text: str) -> np.ndarray:
        """The MinHash signature of one text, shape ``(num_perm,)``."""
        return self.signatures([text])[0]


def _check_text(text: object, index: int) -> str:
    if not isinstance(text, str):
        raise InvalidParameterError(f"text {index}: expected str, got {type(text).__name__}")
    return text


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray | float:
    """Fraction of equal signature entries: the MinHash estimate of Jaccard similarity.

    Two 1-d signatures give a float; ``(n, P)`` and ``(n, P)`` give ``(n,)`` row by row.
    """
    a, b = np.asarray(sig_a), np.asarray(sig_b)
    if a.shape != b.shape or a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise InvalidParameterError(
            f"expected signatures of one shape (P,) or (n, P), got {a.shape} and {b.shape}"
        )
    est = (a == b).mean(axis=-1)
    return float(est) if a.ndim == 1 else est


def optimal_bands(
    threshold: float,
    num_perm: int,
    *,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """``(b, r)`` minimising the weighted false-positive and false-negative areas.

    The same criterion as datasketch's ``MinHashLSH`` (ties go to the smallest ``b``, then the
    smallest ``r``), computed exactly by Gauss-Legendre quadrature instead of adaptive ``quad``.
    """
    if not 0.0 < threshold < 1.0:
        raise InvalidParameterError(f"threshold: expected a value in (0, 1), got {threshold!r}")
    if not isinstance(num_perm, int | np.integer) or num_perm < 1:
        raise InvalidParameterError(f"num_perm: expected an integer >= 1, got {num_perm!r}")
    weights_in = {"false_positive_weight": false_positive_weight}
    weights_in["false_negative_weight"] = false_negative_weight
    for name, w in weights_in.items():
        if not (np.isfinite(w) and w >= 0):
            raise InvalidParameterError(f"{name}: expected a finite weight >= 0, got {w!r}")
    pairs = [(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)]
    bs = np.array([p[0] for p in pairs], dtype=np.float64)[:, None]
    rs = np.array([p[1] for p in pairs], dtype=np.float64)[:, None]
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def area(lo: float, hi: float, below: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        p = 1.0 - (1.0 - s[None, :] ** rs) ** bs
        f = p if below else 1.0 - p
        return (hi - lo) / 2 * (f @ weights)

    error = false_positive_weight * area(0.0, threshold, True)
    error = error + false_negative_weight * area(threshold, 1.0, False)
    return pairs[int(np.argmin(error))]


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """64-bit hash of each band of each signature, as int64 (a database BIGINT).

    Band ``j`` covers signature columns ``j*rows ... (j+1)*rows - 1``; columns past
    ``bands * rows`` are not banded. Returns shape ``(n, bands)``.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2 or bands < 1 or rows < 1 or bands * rows > sig.shape[1]:
        raise InvalidParameterError(
            f"expected (n, P) signatures with bands * rows <= P, got shape {sig.shape}, "
            f"bands={bands}, rows={rows}"
        )
    blocks = sig[:, : bands * rows].astype(np.uint64).reshape(sig.shape[0], bands, rows)
    h = np.full(blocks.shape[:2], _H0, dtype=np.uint64)
    for j in range(rows):
        h = _mix64(h ^ blocks[:, :, j])
    return h.view(np.int64)
