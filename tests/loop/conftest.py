"""Shared helpers for the loop tests."""

from __future__ import annotations

import pytest

from tests.common.tables import tables_identical


@pytest.fixture
def same_table():
    return tables_identical
