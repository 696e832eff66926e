"""The declarations' human numbers (申报编号, `2026-000123`): per round year and sequential,
allocated in the record database when a declaration is opened (client/declarations.py
open_declaration), once per workflow id, so the same declaration opened again gets the same
number. Never made from personal data: a counter (rules/identity.py formats it).

The tables: store/tables.py (DeclarationCounter, DeclarationNumber).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from rules.identity import declaration_number, parse_declaration_number
from store.numbering import allocate_once
from store.tables import DeclarationCounter, DeclarationNumber


async def allocate_declaration_number(engine: AsyncEngine, workflow_id: str, year: int) -> str:
    """The 申报编号 of declaration `workflow_id` in round `year`: the one it got before, else
    the round's next (`2026-000001`, `2026-000002`, …)."""
    number = await allocate_once(
        engine,
        counter=DeclarationCounter,
        scope={"year": year},
        numbered=DeclarationNumber,
        key=("workflow_id", workflow_id),
    )
    return declaration_number(year, number)


async def numbered_workflow(engine: AsyncEngine, number: str) -> str | None:
    """The workflow id of the declaration with 申报编号 `number` (as a person types it: see
    rules/identity.py parse_declaration_number); None when there is none."""
    parsed = parse_declaration_number(number)
    if parsed is None:
        return None
    year, n = parsed
    async with engine.connect() as conn:
        return await conn.scalar(
            select(DeclarationNumber.workflow_id).where(
                DeclarationNumber.year == year, DeclarationNumber.number == n
            )
        )
