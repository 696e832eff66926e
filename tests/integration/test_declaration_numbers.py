"""申报编号 (store/declaration_numbers.py) on SQLite and PostgreSQL: sequential per round year,
once per workflow id (the same declaration opened again gets the same number), never one number
twice even when several processes open declarations at once; and the projection's new columns
filled for the rows a migration finds (migrations/versions/0006)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import select, text
from temporalio.testing import ActivityEnvironment

from activities.record import RecordActivities
from models.common import Actor, Jurisdiction, Level, Role, Stage
from models.records import TransitionRecord
from store.db import alembic_config, get_engine
from store.declaration_numbers import allocate_declaration_number, numbered_workflow
from store.tables import DeclarationNumber, DeclarationRow


async def test_numbers_are_sequential_per_year_and_once_per_declaration(database: str) -> None:
    engine = get_engine(database)

    async def number(workflow_id: str, year: int = 2026) -> str:
        return await allocate_declaration_number(engine, workflow_id, year)

    assert await number("decl-2026-aaaaaaaaaaaaaaaa") == "2026-000001"
    assert await number("decl-2026-bbbbbbbbbbbbbbbb") == "2026-000002"
    assert await number("decl-2026-aaaaaaaaaaaaaaaa") == "2026-000001"  # opened again
    assert await number("decl-2027-aaaaaaaaaaaaaaaa", 2027) == "2027-000001"  # a new round
    assert await number("decl-2026-cccccccccccccccc") == "2026-000003"
    assert await numbered_workflow(engine, "2026-000002") == "decl-2026-bbbbbbbbbbbbbbbb"
    assert await numbered_workflow(engine, " 2026-2 ") == "decl-2026-bbbbbbbbbbbbbbbb"
    assert await numbered_workflow(engine, "2026-000009") is None
    assert await numbered_workflow(engine, "张三") is None


async def test_concurrent_openings_get_each_number_once(database: str) -> None:
    engine = get_engine(database)
    ids = [f"decl-2028-{i:016x}" for i in range(10)]
    got = await asyncio.gather(
        *(allocate_declaration_number(engine, workflow_id, 2028) for workflow_id in ids + ids)
    )
    assert sorted(set(got)) == [f"2028-{n:06d}" for n in range(1, 11)]  # no gap, none twice
    assert got[:10] == got[10:]  # each declaration got one number, whichever call won
    async with engine.connect() as conn:
        rows = (await conn.execute(select(DeclarationNumber.workflow_id))).scalars().all()
    assert sorted(rows) == sorted(ids)


async def test_migration_fills_the_next_deadline_of_rows_already_there(database: str) -> None:
    """A row written before 0006 gets its current stage's deadline (rules/overdue.py); its
    number and competent unit stay unknown (NULL) until its next transition."""
    engine = get_engine(database)

    def migrate(connection: Any, to: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if to == "0005":
            command.downgrade(config, to)
        else:
            command.upgrade(config, to)

    async with engine.begin() as conn:
        await conn.run_sync(migrate, "0005")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO declarations (workflow_id, round_year, applicant_key,"
                " applicant_name, employer_uscc, employer_name, level, jurisdiction, stage,"
                " return_count, deadlines, last_seq, updated_at) VALUES"
                " (:id, 2026, 'k', '测试', '91110000802100433B', '单位', 'intermediate',"
                " 'ftz_urumqi', :stage, 0, :deadlines, 1, :at)"
            ),
            [
                {
                    "id": "decl-2026-correction000000",
                    "stage": "correction",
                    "deadlines": '{"submission_closes_at": "2026-09-30T00:00:00+08:00",'
                    ' "correction_deadline": "2026-10-03T14:00:00+08:00"}',
                    "at": datetime(2026, 10, 1, tzinfo=UTC),
                },
                {
                    "id": "decl-2026-committee00000000",
                    "stage": "committee",
                    "deadlines": '{"submission_closes_at": "2026-09-30T00:00:00+08:00"}',
                    "at": datetime(2026, 10, 1, tzinfo=UTC),
                },
            ],
        )
    async with engine.begin() as conn:
        await conn.run_sync(migrate, "head")
    async with engine.connect() as conn:
        rows = {
            row.workflow_id: row
            for row in (await conn.execute(select(DeclarationRow.__table__))).all()
        }
    correction = rows["decl-2026-correction000000"]
    assert correction.next_deadline == datetime(2026, 10, 3, 6, 0, tzinfo=UTC)
    assert correction.number is None and correction.competent_unit is None
    assert rows["decl-2026-committee00000000"].next_deadline is None  # waits for no deadline


async def test_the_projection_keeps_the_number_unit_and_next_deadline(database: str) -> None:
    """record_transition writes what the search reads: the 申报编号, the competent unit and
    the deadline the stage waits for (correction: its 48 hours; committee: none)."""
    engine = get_engine(database)

    async def no_deliveries(keys: Sequence[str]) -> int:
        return 0

    record = RecordActivities(engine, no_deliveries).record_transition
    correction = TransitionRecord(
        workflow_id="decl-2026-0123456789abcdef",
        seq=1,
        at=datetime(2026, 10, 1, 2, 0, tzinfo=UTC),
        actor=Actor(role=Role.evaluation_body, id="reviewer-1"),
        action="return_for_correction",
        from_stage=Stage.evaluation_review,
        to_stage=Stage.correction,
        round_year=2026,
        applicant_key="0123456789abcdef",
        applicant_name="张三",
        employer_uscc="91110000802100433B",
        employer_name="新疆示例硅业有限公司",
        level=Level.intermediate,
        jurisdiction=Jurisdiction.ftz_urumqi,
        return_count=1,
        deadlines={
            "review_closes_at": "2026-10-30T00:00:00+08:00",
            "correction_deadline": "2026-10-03T10:00:00+08:00",
        },
        number="2026-000007",
        competent_unit="某管委会",
    )
    await ActivityEnvironment().run(record, correction)

    async def row() -> Any:
        async with engine.connect() as conn:
            return (await conn.execute(select(DeclarationRow.__table__))).one()

    first = await row()
    assert (first.number, first.competent_unit) == ("2026-000007", "某管委会")
    assert first.next_deadline == datetime(2026, 10, 3, 2, 0, tzinfo=UTC)
    committee = correction.model_copy(
        update={"seq": 2, "from_stage": Stage.correction, "to_stage": Stage.committee}
    )
    await ActivityEnvironment().run(record, committee)
    assert (await row()).next_deadline is None
