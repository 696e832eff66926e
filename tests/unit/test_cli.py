"""The command line's structure: `starter.py round plan` stays light, the parser's copy of the
outbox statuses agrees with the table's, and the documents commands."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import starter
from cli.outbox import OUTBOX_STATUSES
from settings import ROOT

HEAVY = ("sqlalchemy", "aiosmtplib", "httpx", "jinja2")

# Runs starter.py as `python starter.py ...` does (runpy, as __main__), and reports the
# modules loaded when it leaves (it leaves by os._exit, which this wraps).
PROBE = """
import json, os, runpy, sys
leave = os._exit
def report(code):
    sys.stdout.flush()
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
    print("LOADED " + json.dumps(loaded), flush=True)
    leave(code)
os._exit = report
sys.argv = {argv!r}
runpy.run_path("starter.py", run_name="__main__")
"""


def run_probe(argv: list[str], tmp_path: Path) -> tuple[int, str, list[str]]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZHICHENG_ENV_FILE": str(tmp_path / ".env"),
        "ZHICHENG_ENV": "development",
        "ZHICHENG_ROUNDS_DIR": str(tmp_path / "rounds"),
        "ZHICHENG_CALENDAR_OVERRIDES": str(tmp_path / "no-overrides.json"),
        # a database URL is checked when set: without importing SQLAlchemy
        "DATABASE_URL": "postgresql+psycopg://u:p@db:5432/zhicheng",
    }
    code = PROBE.format(heavy=set(HEAVY), argv=["starter.py", *argv])
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    *printed, last = result.stdout.splitlines() or [""]
    assert last.startswith("LOADED "), result.stdout + result.stderr
    return result.returncode, "\n".join(printed), json.loads(last.removeprefix("LOADED "))


def test_round_plan_imports_no_database_mail_http_or_template_library(tmp_path: Path) -> None:
    code, out, loaded = run_probe(["round", "plan", "2025"], tmp_path)
    assert code == 0
    assert "round 2025: key dates" in out
    assert loaded == [], f"`starter.py round plan` imported {loaded}: import them lazily"


def test_the_probe_sees_an_import(tmp_path: Path) -> None:
    """The probe itself: a command that uses the database shows SQLAlchemy loaded."""
    code, _, loaded = run_probe(["outbox", "list"], tmp_path)
    assert code == 4  # the probe's database does not exist
    assert "sqlalchemy" in loaded


def test_outbox_statuses_agree_with_the_table() -> None:
    from store.tables import OutboxStatus

    assert [s.value for s in OutboxStatus] == list(OUTBOX_STATUSES)


@pytest.fixture
def documents_db(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'documents.db'}"


async def test_documents_failed_and_retry(
    documents_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`documents failed` lists what failed with its last error; `retry` of a key nothing
    was recorded under is one line and exit 2."""
    from store.db import dispose_engines, ensure_schema, get_engine
    from store.document_tables import DocumentPublication

    await ensure_schema(documents_db)
    async with get_engine(documents_db).begin() as conn:
        await conn.execute(
            DocumentPublication.__table__.insert(),
            [
                {
                    "key": "employer_publicity/round-2025/decl-2025-x",
                    "kind": "employer_publicity",
                    "scope": "round-2025",
                    "status": "failed",
                    "attempts": 3,
                    "last_error": "PublicationConflict: another file under the name",
                    "request": {"scope": "round-2025"},
                    "updated_at": datetime(2025, 9, 3, 6, 30, tzinfo=UTC),
                },
                {
                    "key": "material_requirements/round-2025",
                    "kind": "material_requirements",
                    "scope": "round-2025",
                    "status": "published",
                    "attempts": 1,
                    "last_error": None,
                    "request": {"scope": "round-2025"},
                    "updated_at": datetime(2025, 9, 1, 1, 0, tzinfo=UTC),
                },
            ],
        )
    await dispose_engines(documents_db)
    capsys.readouterr()
    assert await starter.run(["documents", "failed", "--database-url", documents_db]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "employer_publicity/round-2025/decl-2025-x\t3 attempt(s)\t2025-09-03 06:30Z",
        "    PublicationConflict: another file under the name",
    ]
    assert err == ""
    code = await starter.run(["documents", "retry", "nothing/here", "--database-url", documents_db])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "error: no publication recorded under nothing/here (see: documents failed)\n"


def test_record_failing_declarations_are_listed_by_their_search_attribute() -> None:
    from client.declarations import visibility_query

    assert visibility_query(year=2026, record_failing=True) == (
        "WorkflowType = 'Declaration' AND RoundYear = 2026 AND RecordFailing = true"
    )


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["roud", "state", "2026"], "unknown choice 'roud'; did you mean round?"),
        (["round", "stat", "2026"], "unknown choice 'stat'; did you mean stats or state?"),
        (
            ["declaration", "act", "decl-2026-0", "acept_materials", "--role", "evaluation_body",
             "--actor-id", "e-1"],
            "unknown action 'acept_materials'; did you mean accept_materials?",
        ),
        (
            ["round", "act", "2026", "chang_windows", "--role", "supervisor", "--actor-id", "s"],
            "unknown round action 'chang_windows'; did you mean change_windows?",
        ),
    ],
)  # fmt: skip
def test_an_unknown_name_is_answered_with_the_closest_ones(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert starter.main(argv) == 2
    assert hint in capsys.readouterr().err
