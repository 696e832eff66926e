"""The masked-copy checks (R11): one row per masked copy of a declaration, the OCR check's
progress (pages read of pages) and its result (clean, or the findings: kind, page, place and
box, never the text). Written by the check's activity (activities/masked_copy.py), read by the
applicant's materials list and by the client when it builds a submission
(client/masked_checks.py).

One row per (declaration, copy): a second check of the same copy, or a retry, finds the row
and writes nothing new; once a result is written it is never replaced (`record_result`
updates a pending row only)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.masked_check import CheckFinding, CheckStatus, MaskedCheck
from store.tables import Base, utcnow


class MaskedCopyCheck(Base):
    __tablename__ = "masked_copy_checks"
    __table_args__ = (
        UniqueConstraint("workflow_id", "masked_sha256", name="uq_masked_copy_checks_copy"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(200))  # the Declaration's
    masked_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # models.masked_check.CheckStatus
    pages_done: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    findings: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def _check_of(row: Any) -> MaskedCheck:
    return MaskedCheck(
        status=CheckStatus(row.status),
        pages_done=row.pages_done,
        pages=row.pages,
        findings=[CheckFinding.model_validate(f) for f in row.findings or []],
    )


async def begin_check(
    engine: AsyncEngine, workflow_id: str, masked_sha256: str, pages: int
) -> bool:
    """The copy's row, pending, unless it has one: True when it was made now."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                MaskedCopyCheck.__table__.insert().values(
                    workflow_id=workflow_id,
                    masked_sha256=masked_sha256,
                    status=CheckStatus.pending.value,
                    pages_done=0,
                    pages=pages,
                    findings=[],
                )
            )
    except IntegrityError:
        return False
    return True


async def record_progress(
    engine: AsyncEngine, workflow_id: str, masked_sha256: str, pages_done: int, pages: int
) -> None:
    """Pages read so far, on a pending row (never lowered: a retry resumes from its heartbeat)."""
    async with engine.begin() as conn:
        await conn.execute(
            update(MaskedCopyCheck)
            .where(
                MaskedCopyCheck.workflow_id == workflow_id,
                MaskedCopyCheck.masked_sha256 == masked_sha256,
                MaskedCopyCheck.status == CheckStatus.pending.value,
                MaskedCopyCheck.pages_done <= pages_done,
            )
            .values(pages_done=pages_done, pages=pages, updated_at=utcnow())
        )


async def record_result(
    engine: AsyncEngine, workflow_id: str, masked_sha256: str, check: MaskedCheck
) -> MaskedCheck:
    """The check's result on its pending row (made if missing); the result it holds after:
    the first one written wins (a retry, a second check of the same copy)."""
    await begin_check(engine, workflow_id, masked_sha256, check.pages)
    async with engine.begin() as conn:
        await conn.execute(
            update(MaskedCopyCheck)
            .where(
                MaskedCopyCheck.workflow_id == workflow_id,
                MaskedCopyCheck.masked_sha256 == masked_sha256,
                MaskedCopyCheck.status == CheckStatus.pending.value,
            )
            .values(
                status=check.status.value,
                pages_done=check.pages_done,
                pages=check.pages,
                findings=[f.model_dump(mode="json") for f in check.findings],
                updated_at=utcnow(),
            )
        )
    found = await checks_of(engine, workflow_id, [masked_sha256])
    return found[masked_sha256]


async def checks_of(
    engine: AsyncEngine, workflow_id: str, masked_sha256s: Iterable[str]
) -> dict[str, MaskedCheck]:
    """The checks of these copies of the declaration, by copy (a copy without one: absent)."""
    wanted = sorted(set(masked_sha256s))
    if not wanted:
        return {}
    query = select(MaskedCopyCheck).where(
        MaskedCopyCheck.workflow_id == workflow_id, MaskedCopyCheck.masked_sha256.in_(wanted)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return {row.masked_sha256: _check_of(row) for row in rows}
