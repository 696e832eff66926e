"""A round's figures (issue 17: statistics at a glance; `starter.py round stats`): the record
database's declarations and audit trail counted per level, jurisdiction and employer, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

import starter
from models.common import STAGE_NAMES_ZH, Stage
from models.statistics import Dimension
from store.db import get_engine
from store.exports import export_records
from store.statistics import round_statistics
from store.tables import AuditEvent, DeclarationRow

NOW = datetime(2031, 10, 20, 4, 0, tzinfo=UTC)
# (stage, level, employer, returns, the stages it went through)
DECLARATIONS = [
    (
        "approved",
        "intermediate",
        "甲公司",
        1,
        ["evaluation_review", "correction", "result_publicity"],
    ),
    ("revoked", "intermediate", "甲公司", 0, ["evaluation_review", "result_publicity", "approved"]),
    ("not_passed", "junior", "乙公司", 0, ["competent_unit_review", "evaluation_review"]),
    ("locked", "junior", "乙公司", 4, ["evaluation_review", "correction"]),
    ("abandoned", "junior", "甲公司", 1, ["evaluation_review", "correction"]),
    ("evaluation_review", "junior", "乙公司", 0, ["evaluation_review"]),  # overdue (below)
    ("draft", "associate_senior", "丙公司", 0, []),
]


async def _record(url: str) -> None:
    engine = get_engine(url)
    async with engine.begin() as conn:
        for n, (stage, level, employer, returns, reached) in enumerate(DECLARATIONS):
            workflow_id = f"decl-2031-{n:016x}"
            deadlines = {"review_closes_at": (NOW - timedelta(days=1)).isoformat()}
            await conn.execute(
                DeclarationRow.__table__.insert().values(
                    workflow_id=workflow_id, round_year=2031, applicant_key=f"{n:016x}",
                    applicant_name=f"申报人{n}", employer_uscc="91110000802100433B",
                    employer_name=employer, level=level, jurisdiction="ftz_urumqi", stage=stage,
                    return_count=returns, deadlines=deadlines, last_seq=len(reached) + 1,
                    updated_at=NOW,
                )
            )  # fmt: skip
            for seq, to_stage in enumerate(reached, start=2):
                row: dict[str, Any] = {
                    "workflow_id": workflow_id, "seq": seq, "at": NOW, "actor_role": "system",
                    "actor_id": "t", "action": "t", "from_stage": "draft", "to_stage": to_stage,
                    "reason": None, "details": {},
                }  # fmt: skip
                await conn.execute(AuditEvent.__table__.insert().values(**row))


async def test_the_figures_count_what_each_declaration_went_through(database: str) -> None:
    await _record(database)
    figures = await round_statistics(get_engine(database), 2031, NOW)
    total = figures.total
    assert (total.declared, total.recommended, total.passed) == (7, 6, 2)
    assert (total.returned, total.returns, total.abandoned, total.locked) == (3, 6, 1, 1)
    assert (total.approved, total.revoked, total.overdue, total.in_progress) == (2, 1, 1, 2)
    assert figures.by_stage == {stage: 1 for stage, *_ in DECLARATIONS}
    by_employer = figures.by[Dimension.employer]
    assert set(by_employer) == {"甲公司", "乙公司", "丙公司"}
    assert (by_employer["甲公司"].declared, by_employer["甲公司"].approved) == (3, 2)
    assert by_employer["乙公司"].rate(by_employer["乙公司"].recommended) == 1.0
    assert figures.by[Dimension.level]["junior"].declared == 4
    other = await round_statistics(get_engine(database), 2030, NOW)
    assert (other.total.declared, other.by_stage) == (0, {})


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_round_stats_prints_a_table_per_employer(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _record(database)
    monkeypatch.setenv("DATABASE_URL", database)
    assert await starter.run(["round", "stats", "2031", "--by", "employer"]) == 0
    out = capsys.readouterr().out
    assert "round 2031: 7 declarations" in out
    [row] = [line for line in out.splitlines() if line.startswith("甲公司")]
    assert row.split()[:2] == ["甲公司", "3"]
    assert await starter.run(["round", "stats", "2031", "--json"]) == 0
    assert '"declared": 7' in capsys.readouterr().out


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_the_roster_holds_exactly_the_filtered_declarations_and_is_recorded(
    database: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await _record(database)
    monkeypatch.setenv("DATABASE_URL", database)
    out = tmp_path / "roster.xlsx"
    assert await starter.run(["round", "export", "2031", "roster", "--out", str(out),
                              "--stage", "locked", "--actor-id", "hr-1"]) == 0  # fmt: skip
    sheet = load_workbook(out).active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["申报编号", "姓名", "工作单位"]
    assert [row[1] for row in rows[1:]] == ["申报人3"]  # the one locked declaration
    assert rows[1][6] == STAGE_NAMES_ZH[Stage.locked]
    csv_out = tmp_path / "all.csv"
    assert await starter.run(["round", "export", "2031", "roster", "--out", str(csv_out)]) == 0
    lines = csv_out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + len(DECLARATIONS)
    assert await starter.run(["round", "export", "2031", "statistics", "--out", str(out),
                              "--by", "employer"]) == 0  # fmt: skip
    figures = load_workbook(out).active
    assert figures is not None
    assert [c.value for c in next(figures.iter_rows())][:2] == ["工作单位", "申报"]
    records = await export_records(get_engine(database))
    assert [(r.kind, r.rows, r.actor_id) for r in records][:2] == [
        ("roster", 1, "cli:hr-1"),
        ("roster", len(DECLARATIONS), records[1].actor_id),
    ]
    assert records[0].criteria["stage"] == "locked" and records[2].kind == "statistics"
