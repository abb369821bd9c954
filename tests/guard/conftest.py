"""Database fixtures for the registry tests: SQLite always, PostgreSQL when a server is given.

PostgreSQL tests read ``MODELCOLLAPSE_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` starts a
throwaway server and sets it) and are skipped with a reason when it is unset. Each test gets its
own PostgreSQL schema (through the connection's ``search_path``), so tests running in parallel
never see each other's tables; the schema is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

POSTGRES_ENV = "MODELCOLLAPSE_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections work in a fresh, private schema."""
    base = postgres_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (run under .ci/postgres.sh)")
    import sqlalchemy as sa

    from modelcollapse.guard.database import parse_url

    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(parse_url(base))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty registry database: a SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    return request.getfixturevalue("postgres_schema_url")
