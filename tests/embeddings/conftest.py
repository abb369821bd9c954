from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Default cache directories land in the test's tmp dir, never in the user's ~/.cache."""
    monkeypatch.setenv("MODELCOLLAPSE_CACHE", str(tmp_path / "mc-cache"))
