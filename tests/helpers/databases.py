"""The databases record tests run on: SQLite always, PostgreSQL when scripts/test.sh (or you)
sets ZHICHENG_TEST_POSTGRES_URL to a server's URL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import dispose_engines, ensure_schema

POSTGRES_URL = os.environ.get("ZHICHENG_TEST_POSTGRES_URL")

DATABASE_KINDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="ZHICHENG_TEST_POSTGRES_URL not set"),
    ),
]


async def run_on_postgres(sql: str) -> None:
    engine = create_async_engine(POSTGRES_URL or "")
    async with engine.begin() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(params=DATABASE_KINDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A clean database per test: a new SQLite file, or a new PostgreSQL schema. Its URL:
    a test hands it (or `get_engine(url)`) to what it runs, nothing else points there."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'zhicheng.db'}"  # var/ does not exist yet
    else:
        await run_on_postgres(f"CREATE SCHEMA {schema}")
        options = {"options": f"-csearch_path={schema}"}
        postgres_url = make_url(POSTGRES_URL or "").update_query_dict(options)
        url = postgres_url.render_as_string(hide_password=False)
    await ensure_schema(url)
    yield url
    await dispose_engines(url)
    if request.param == "postgresql":
        await run_on_postgres(f"DROP SCHEMA {schema} CASCADE")
