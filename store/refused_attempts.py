"""Refused attempts on the record (docs/security.md, "Refused attempts"): every action the
portal or the command line sent, or was about to send, that was refused (wrong role, stage or
window, invalid input, an unauthenticated actor, an ended declaration), appended by
client/refused.py and read by the supervisor's page, newest first.

Append-only: the code only inserts, and migration 0005 makes the database refuse an UPDATE
or DELETE of a row (a trigger on SQLite and PostgreSQL). No personal data beyond the actor id:
who (role and the actor's id), what (the action's name), when, which workflow, and why (the
refusal's kind and its one-line message; client/refused.py leaves out what a message would
quote of the payload).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow

MESSAGE_LENGTH = 500  # the message is cut here (one line for the supervisor)


class RefusedAttempt(Base):
    """One refused action."""

    __tablename__ = "refused_attempts"
    __table_args__ = (Index("ix_refused_attempts_at", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)  # when it was refused (client side)
    source: Mapped[str] = mapped_column(String(16))  # portal | cli
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))  # the update's name
    workflow_id: Mapped[str] = mapped_column(String(200))  # decl-... or round-{year}
    # WrongRole, WrongStage, OutsideWindow, Invalid, InvalidInput, Unauthenticated, Ended, ...
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


async def append_refused_attempt(engine: AsyncEngine, **row: Any) -> None:
    """Append one row (the columns above but `id`; `at` defaults to now)."""
    row["message"] = str(row.get("message", ""))[:MESSAGE_LENGTH]
    async with engine.begin() as conn:
        await conn.execute(insert(RefusedAttempt).values(**row))


async def latest_refused_attempts(
    engine: AsyncEngine, *, limit: int = 100, offset: int = 0
) -> tuple[list[Any], int]:
    """A page of the rows, newest first, and how many there are in all."""
    table = RefusedAttempt.__table__
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        rows = (
            await conn.execute(
                select(table)
                .order_by(RefusedAttempt.at.desc(), RefusedAttempt.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
    return list(rows), int(total)
