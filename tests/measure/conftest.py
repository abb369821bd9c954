"""Shared fixtures of the measure tests: KJV verses and halves of them."""

from __future__ import annotations

import numpy as np
import pytest

from modelcollapse.data.bundled import kjv


@pytest.fixture(scope="session")
def verses() -> list[str]:
    return [d.text for d in kjv()]


@pytest.fixture(scope="session")
def kjv_halves(verses: list[str]) -> tuple[list[str], list[str]]:
    """Two disjoint random sets of 1,000 verses (reference, candidate)."""
    perm = np.random.default_rng(12345).permutation(len(verses))
    return [verses[i] for i in perm[:1000]], [verses[i] for i in perm[1000:2000]]
