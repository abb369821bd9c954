"""A deterministic fake :class:`~modelcollapse.embeddings.Encoder` that counts its calls."""

from __future__ import annotations

import hashlib

import numpy as np


def vector_for(text: str, dim: int = 8) -> np.ndarray:
    """The fake's embedding of ``text``: a standard normal vector seeded by sha256(text)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class CountingEncoder:
    """Encoder seam fake: ``calls`` model invocations, ``encoded`` every text it embedded."""

    def __init__(self, *, dim: int = 8, name: str = "fake", fingerprint: str = "f" * 64):
        self.dim = dim
        self.name = name
        self.fingerprint = fingerprint
        self.calls = 0
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.encoded.extend(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([vector_for(t, self.dim) for t in texts])
