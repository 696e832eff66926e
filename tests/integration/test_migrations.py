"""Migrations (migrations/, Alembic): from empty to head on SQLite and PostgreSQL (with
ZHICHENG_TEST_POSTGRES_URL, as scripts/test.sh sets it), and the result matches the models."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from settings import ROOT
from store.db import (
    INITIAL_REVISION,
    INITIAL_TABLES,
    alembic_config,
    dispose_engines,
    ensure_schema,
    get_engine,
)
from store.schema import METADATA

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, METADATA)


def current_revision(connection: Any) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def inspect_database(url: str, how: Any) -> Any:
    async with get_engine(url).connect() as conn:
        return await conn.run_sync(how)


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads == [HEAD], f"migrations/ has several heads, merge them: {heads}"


async def test_empty_database_upgraded_to_head_matches_the_models(database: str) -> None:
    # the fixture made the database empty and ran ensure_schema (the migrations) on it
    assert await inspect_database(database, current_revision) == HEAD
    assert await inspect_database(database, schema_differences) == []
    tables = await inspect_database(database, lambda c: set(inspect(c).get_table_names()))
    assert tables == set(METADATA.tables) | {"alembic_version"}
    await ensure_schema(database)  # a second run: nothing to do
    assert await inspect_database(database, current_revision) == HEAD


async def test_downgrade_to_empty_and_up_again(database: str) -> None:
    def down_and_up(connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        command.upgrade(config, "head")

    async with get_engine(database).begin() as conn:
        await conn.run_sync(down_and_up)
    assert await inspect_database(database, schema_differences) == []


async def test_database_made_by_create_all_is_stamped(tmp_path: Path) -> None:
    """A dev database from before migrations: the tables are there, alembic_version is not."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"

    def initial_schema_only(connection: Any) -> None:
        # the tables as revision 0001 has them (later revisions change some: 0006 adds
        # columns to `declarations`), then no alembic_version: what create_all made
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, INITIAL_REVISION)
        connection.execute(text("DROP TABLE alembic_version"))

    async with get_engine(url).begin() as conn:
        await conn.run_sync(initial_schema_only)
    assert await inspect_database(url, lambda c: set(inspect(c).get_table_names())) == set(
        INITIAL_TABLES
    )
    await ensure_schema(url)
    assert await inspect_database(url, current_revision) == HEAD
    assert await inspect_database(url, schema_differences) == []
    await dispose_engines(url)
    assert HEAD is not None
    assert INITIAL_REVISION <= HEAD


def test_initial_tables_are_revision_0001s() -> None:
    script = ScriptDirectory.from_config(alembic_config()).get_revision(INITIAL_REVISION)
    source = Path(script.path).read_text(encoding="utf-8")
    assert set(re.findall(r'op\.create_table\(\s*"(\w+)"', source)) == INITIAL_TABLES


def test_alembic_command_line(tmp_path: Path) -> None:
    """`alembic upgrade head` as an operator runs it (alembic.ini, -x url=...)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    alembic = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "-x", f"url={url}"]
    for args in (["upgrade", "head"], ["current"]):
        result = subprocess.run(
            [*alembic, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    assert HEAD is not None
    assert HEAD in result.stdout


def test_database_url_from_settings(tmp_path: Path) -> None:
    """Without -x url, the URL is DATABASE_URL (settings.py): the worker's database."""
    db = tmp_path / "settings.db"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{db}",
            "HOME": str(tmp_path),
            "ZHICHENG_ENV": "development",
        },
    )
    assert result.returncode == 0, result.stderr
    assert db.exists()


async def test_migration_0010_fills_the_organisation_of_messages_already_there(
    database: str,
) -> None:
    """An employer's and a competent unit's outbox rows written before 0010 get their
    organisation (the inbox's key) from their declaration's projection row; the others none."""

    def migrate(connection: Any, to: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if to == "0006":
            command.downgrade(config, to)
        else:
            command.upgrade(config, to)

    engine = get_engine(database)
    async with engine.begin() as conn:
        await conn.run_sync(migrate, "0006")
    workflow_id = "decl-2026-00000000000inbox"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO declarations (workflow_id, round_year, applicant_key,"
                " applicant_name, employer_uscc, employer_name, level, jurisdiction, stage,"
                " return_count, deadlines, last_seq, updated_at, competent_unit) VALUES"
                " (:id, 2026, 'k', '测试', '91110000802100433B', '单位', 'intermediate',"
                " 'ftz_urumqi', 'competent_unit_review', 0, '{}', 3, '2026-10-01', '某主管局')"
            ),
            {"id": workflow_id},
        )
        for role in ("employer", "competent_unit", "applicant", "evaluation_body"):
            await conn.execute(
                text(
                    "INSERT INTO notification_outbox (key, workflow_id, event, recipient_role,"
                    " recipient_name, subject, body, status, attempts, created_at) VALUES"
                    " (:key, :id, 'x', :role, '某', '主题', '正文', 'pending', 0, '2026-10-01')"
                ),
                {"key": f"{workflow_id}/1/x/{role}", "id": workflow_id, "role": role},
            )
    async with engine.begin() as conn:
        await conn.run_sync(migrate, "head")
    async with engine.connect() as conn:
        found: dict[str, str | None] = dict(
            (
                await conn.execute(
                    text("SELECT recipient_role, organisation FROM notification_outbox")
                )
            ).all()
        )
    assert found == {
        "employer": "91110000802100433B",
        "competent_unit": "某主管局",
        "applicant": None,
        "evaluation_body": None,
    }
