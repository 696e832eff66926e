"""Alembic environment for the record database.

Two ways in:
- programmatic (store.db.ensure_schema, the one path the worker, run.sh and the tests
  use): the caller opens the connection on its own async engine and passes the synchronous
  face of it in `config.attributes["connection"]`;
- the `alembic` command line: the URL is `-x url=...`, else DATABASE_URL through settings.py;
  an async engine is made for it (sqlite+aiosqlite, postgresql+psycopg).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from store.schema import METADATA

config = context.config
target_metadata = METADATA


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite: copy-and-move
    )
    with context.begin_transaction():
        context.run_migrations()


def url_from_settings() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from settings import load_settings_or_exit  # a bad setting: one line each, exit 2

    return load_settings_or_exit().database_url


async def run_with_engine() -> None:
    from store.db import dispose_engines, get_engine

    url = url_from_settings()
    try:
        async with get_engine(url).begin() as conn:
            await conn.run_sync(configure)
    finally:
        await dispose_engines(url)


def run_offline() -> None:  # `alembic upgrade head --sql`: the DDL as a script
    context.configure(
        url=url_from_settings(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    configure(connection)
elif context.is_offline_mode():
    run_offline()
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    asyncio.run(run_with_engine())
