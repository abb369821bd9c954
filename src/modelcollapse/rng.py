"""Seed handling.

Every random stream is derived from the experiment seed and a key
``(replicate, generation, role)``, so results do not depend on the order in which work runs or on
how many workers run it, and a resumed run draws exactly the numbers an uninterrupted one would.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Role(IntEnum):
    """What a stream is used for. Values are part of the seed key: never renumber them."""

    DATA = 0  # drawing the real data of a replicate
    FIT = 1  # randomness inside fit (initialisation, subsampling in a model)
    SAMPLE = 2  # sampling the synthetic set
    POLICY = 3  # subsampling / mixing inside a policy
    FRESH = 4  # fresh real data drawn by the `fresh` policy
    METRIC = 5  # randomness inside metrics (projections, bootstraps)
    HELDOUT = 6  # held-out real data


def stream(seed: int, replicate: int, generation: int, role: Role | int) -> np.random.Generator:
    """The generator for one (replicate, generation, role) key of an experiment seed."""
    if seed < 0 or replicate < 0 or generation < 0:
        raise ValueError("seed, replicate and generation must be non-negative")
    ss = np.random.SeedSequence(seed, spawn_key=(int(replicate), int(generation), int(role)))
    return np.random.default_rng(ss)


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a Generator or an int seed. ``None`` is refused: randomness is always explicit."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"expected a numpy.random.Generator or an int seed, got {type(rng).__name__}")


# Vectorised engines draw for a whole block of replicates at once. Their keys live in a separate
# namespace so they can never collide with per-replicate keys.
VECTOR_NAMESPACE = 2**31 - 1


def block_stream(seed: int, block: int, generation: int, role: Role | int) -> np.random.Generator:
    """The generator for a block of replicates in a vectorised engine."""
    ss = np.random.SeedSequence(
        seed, spawn_key=(VECTOR_NAMESPACE, int(block), int(generation), int(role))
    )
    return np.random.default_rng(ss)
