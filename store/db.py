"""The record database: one cached async engine per URL, schema, upsert helpers.

The worker builds its engine from its settings (`get_engine(settings.database_url)`) and hands
it to the activities; `get_engine()` without a URL is the configured database (DATABASE_URL)
for the portal and the command line."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, literal, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from settings import load_settings

log = logging.getLogger(__name__)
# aiosqlite logs every statement with its values at DEBUG (names, addresses, a verification
# code's message): never, whatever ZHICHENG_LOG_LEVEL says (like hide_parameters below).
logging.getLogger("aiosqlite").setLevel(logging.INFO)

# The async driver for a URL given without one (e.g. DATABASE_URL=postgresql://...)
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "psycopg"}
_INSERTS: dict[str, Callable[..., Any]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}
SQLITE_BUSY_TIMEOUT_MS = 30_000

_engines: dict[str, AsyncEngine] = {}


def database_url() -> str:
    """The configured database (DATABASE_URL, settings.py)."""
    return load_settings().database_url


def _async_url(url: str) -> URL:
    parsed = make_url(url)
    if "+" not in parsed.drivername and parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=f"{parsed.drivername}+{_ASYNC_DRIVERS[parsed.drivername]}")
    return parsed


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the UI read while the worker writes; the busy timeout makes
    # concurrent writers wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def get_engine(url: str | None = None) -> AsyncEngine:
    """The engine for `url` (default: DATABASE_URL from the settings), created once per URL.
    It never logs SQL parameters, nor puts them in an error's message (`hide_parameters`):
    they are applicants' names, ID-card numbers, mobiles and e-mails."""
    key = url or database_url()
    engine = _engines.get(key)
    if engine is not None:
        return engine
    parsed = _async_url(key)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    log.info("Database engine for %s", parsed.render_as_string(hide_password=True))
    _engines[key] = engine
    return engine


MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_LOCK = 0x7A68_6963  # "zhic": pg_advisory_xact_lock key while migrating
INITIAL_REVISION = "0001"  # the schema Base.metadata.create_all made before migrations
# The tables of that revision (migrations/versions/0001_initial_schema.py)
INITIAL_TABLES = frozenset(
    {
        "declarations",
        "audit_events",
        "notification_outbox",
        "integrity_archive",
        "round_events",
        "notification_deliveries",
        "document_counters",
        "document_numbers",
        "document_publications",
    }
)


def alembic_config() -> Any:
    """Alembic's configuration for migrations/ (the same as alembic.ini's, without the file)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Any) -> None:
    from alembic import command
    from sqlalchemy import inspect

    config = alembic_config()
    config.attributes["connection"] = connection
    if connection.dialect.name == "postgresql":
        # Several workers starting at once: one migrates, the others wait, then find it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and tables & INITIAL_TABLES:
        # A database made by create_all before migrations: it holds the initial schema.
        if not tables >= INITIAL_TABLES:
            missing = ", ".join(sorted(INITIAL_TABLES - tables))
            raise RuntimeError(
                f"record database without alembic_version and without {missing}: not made by"
                " create_all at revision 0001; stamp it by hand (docs/deployment.md)"
            )
        log.warning("record database without alembic_version: stamping %s", INITIAL_REVISION)
        command.stamp(config, INITIAL_REVISION)
    command.upgrade(config, "head")


async def ensure_schema(url: str | None = None) -> None:
    """Bring the record database to the newest migration (migrations/, `alembic upgrade head`).

    The one path to the schema: the worker at start, scripts/run.sh and the tests use it. A
    database created by create_all before migrations existed is stamped at the initial
    revision first (docs/deployment.md, "Migrations")."""
    import store.schema  # noqa: F401 (every table, as the migrations know them)

    async with get_engine(url).begin() as conn:
        await conn.run_sync(_upgrade)


async def dispose_engines(url: str | None = None) -> None:
    """Close the cached engine for `url`, or every one (worker shutdown, tests)."""
    for key in [url] if url else list(_engines):
        engine = _engines.pop(key, None)
        if engine is not None:
            await engine.dispose()


def dialect_insert(conn: AsyncConnection) -> Callable[..., Any]:
    """The dialect's INSERT construct, which has ON CONFLICT (both SQLite and PostgreSQL)."""
    try:
        return _INSERTS[conn.dialect.name]
    except KeyError:
        raise RuntimeError(f"unsupported database dialect {conn.dialect.name!r}") from None


async def insert_unless_exists(
    conn: AsyncConnection, entity: Any, row: dict[str, Any], key: Sequence[str]
) -> bool:
    """INSERT ... ON CONFLICT (key) DO NOTHING. True when the row was written.

    RETURNING tells, not rowcount: psycopg's async cursor reports -1 for this statement."""
    statement = (
        dialect_insert(conn)(entity)
        .values(**row)
        .on_conflict_do_nothing(index_elements=key)
        .returning(literal(True))
    )
    result = await conn.execute(statement)
    return result.first() is not None
