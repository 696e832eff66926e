"""The facts a round's figures are made of (rules/statistics.py), read from the record
database: the declarations projection and, from the audit trail, what each went through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.common import Stage
from models.statistics import DeclarationFacts, RoundFigures
from rules.overdue import passed_stage_deadline
from rules.statistics import round_figures
from store.tables import AuditEvent, DeclarationRow

# stages a declaration reaches only once the employer (or its competent unit) recommended it
_RECOMMENDED = {Stage.competent_unit_review.value, Stage.evaluation_review.value}


async def round_facts(engine: AsyncEngine, year: int, now: datetime) -> list[DeclarationFacts]:
    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                select(
                    DeclarationRow.workflow_id,
                    DeclarationRow.stage,
                    DeclarationRow.level,
                    DeclarationRow.jurisdiction,
                    DeclarationRow.employer_name,
                    DeclarationRow.return_count,
                    DeclarationRow.deadlines,
                ).where(DeclarationRow.round_year == year)
            )
        )
        reached = await conn.execute(
            select(AuditEvent.workflow_id, AuditEvent.to_stage)
            .join(DeclarationRow, DeclarationRow.workflow_id == AuditEvent.workflow_id)
            .where(DeclarationRow.round_year == year)
            .distinct()
        )
        stages: dict[str, set[str]] = {}
        for workflow_id, to_stage in reached:
            stages.setdefault(workflow_id, set()).add(to_stage)
    return [
        DeclarationFacts(
            stage=row.stage,
            level=row.level,
            jurisdiction=row.jurisdiction,
            employer=row.employer_name,
            returns=row.return_count,
            recommended=bool(stages.get(row.workflow_id, set()) & _RECOMMENDED),
            passed=Stage.result_publicity.value in stages.get(row.workflow_id, set()),
            overdue=passed_stage_deadline(row.stage, row.deadlines or {}, now) is not None,
        )
        for row in rows
    ]


async def round_statistics(engine: AsyncEngine, year: int, now: datetime) -> RoundFigures:
    return round_figures(year, await round_facts(engine, year, now), now)
