"""Every export of a round's data (the roster, the figures), recorded: who, what, with which
filter, how many rows, when (issue 17: each export audited). And the rows a roster is made of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.common import Actor
from store.tables import Base, DeclarationRow, utcnow


class ExportRecord(Base):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # roster, statistics
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows: Mapped[int]
    identities: Mapped[bool]  # whether names and employers were in it
    exported_at: Mapped[datetime] = mapped_column(default=utcnow)


async def record_export(
    engine: AsyncEngine,
    actor: Actor,
    kind: str,
    criteria: dict[str, Any],
    rows: int,
    *,
    identities: bool,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            ExportRecord.__table__.insert().values(
                actor_role=actor.role.value, actor_id=actor.id, kind=kind, criteria=criteria,
                rows=rows, identities=identities, exported_at=utcnow(),
            )
        )  # fmt: skip


async def export_records(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(select(ExportRecord).order_by(ExportRecord.id)))


async def roster_rows(
    engine: AsyncEngine, year: int, *, stage: str | None = None, employer_uscc: str | None = None
) -> list[Any]:
    """The round's declarations (the record's projection), in one stage or of one employer."""
    statement = select(DeclarationRow.__table__).where(DeclarationRow.round_year == year)
    if stage:
        statement = statement.where(DeclarationRow.stage == stage)
    if employer_uscc:
        statement = statement.where(DeclarationRow.employer_uscc == employer_uscc)
    async with engine.connect() as conn:
        return list(await conn.execute(statement))
