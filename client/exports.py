"""A round's data as spreadsheets, for the command line and the portal alike: the roster
(花名册: per stage or employer) and the figures, each export recorded with who made it
(store/exports.py), identities only where the caller's role may see them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from documents.roster import figures_table, roster_table
from documents.spreadsheets import SheetKind, write_table
from models.common import Actor
from models.statistics import Dimension
from store.exports import record_export, roster_rows
from store.statistics import round_statistics


async def export_roster(
    engine: AsyncEngine,
    actor: Actor,
    year: int,
    kind: SheetKind,
    *,
    stage: str | None = None,
    employer_uscc: str | None = None,
    identities: bool,
) -> tuple[bytes, int]:
    """The roster's file and how many declarations it holds."""
    rows = await roster_rows(engine, year, stage=stage, employer_uscc=employer_uscc)
    data = write_table(roster_table(rows, identities=identities), kind, f"{year}年度花名册")
    criteria: dict[str, Any] = {"year": year, "stage": stage, "employer_uscc": employer_uscc}
    await record_export(
        engine, actor, "roster", criteria | {"format": kind.value}, len(rows), identities=identities
    )
    return data, len(rows)


async def export_figures(
    engine: AsyncEngine, actor: Actor, year: int, kind: SheetKind, dimension: Dimension
) -> bytes:
    figures = await round_statistics(engine, year, datetime.now(UTC))
    data = write_table(figures_table(figures, dimension), kind, f"{year}年度统计")
    criteria = {"year": year, "by": dimension.value, "format": kind.value}
    await record_export(
        engine, actor, "statistics", criteria, figures.total.declared, identities=False
    )
    return data
