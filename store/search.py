"""Finding declarations in the record database's projection (`declarations`): by the
applicant's name, by ID-card number or by 申报编号, with filters, counts and pages, sorted by
the deadline each one waits for, soonest first. The portal's /search and the supervisor's page
use it (portal/routers/search.py, portal/routers/supervisor.py).

The ID-card number is never stored: it is turned into the applicant key the way the workflow
ids are made (rules/identity.py applicant_key under ZHICHENG_APPLICANT_KEY_SECRET) and matched
on the key, exactly. Whose declarations a search may return is its `Scope`; who may search by
identity at all is the caller's business (the blind reviewers never do, R11).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.cn import ric

from models.common import Jurisdiction, Level, Stage
from rules.identity import applicant_key, declaration_number, parse_declaration_number
from store.tables import DeclarationRow

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_QUERY = 100  # characters of what a person types: longer than any name or number
_ID_CARD_SHAPE = re.compile(r"[0-9]{17}[0-9X]")


class QueryKind(StrEnum):
    """What the text typed into the search box is taken for."""

    none = "none"  # nothing typed: every declaration in scope
    number = "number"  # a 申报编号: 2026-000123
    id_card = "id_card"  # an ID-card number (18 characters): matched by its applicant key
    name = "name"  # anything else: part of the applicant's name


@dataclass(frozen=True)
class Criteria:
    """What to look for. Build it with `criteria` from what a person typed."""

    kind: QueryKind = QueryKind.none
    name: str | None = None
    applicant_key: str | None = None  # the ID card's, never the ID card itself
    number: str | None = None  # as declaration_number writes it
    id_card_valid: bool = True  # False: shaped like one, but its check digit is wrong
    year: int | None = None
    stage: Stage | None = None
    level: Level | None = None
    jurisdiction: Jurisdiction | None = None
    overdue: bool = False  # only those past the deadline their stage waits for
    # one declaration, found by the caller another way (a blind reviewer's anonymous code)
    workflow_id: str | None = None
    # R26 "分配给我": only those whose current holder assigned them to this actor id
    assignee: str | None = None


def criteria(
    text: str,
    secret: str,
    *,
    year: int | None = None,
    stage: Stage | None = None,
    level: Level | None = None,
    jurisdiction: Jurisdiction | None = None,
    overdue: bool = False,
    assignee: str | None = None,
) -> Criteria:
    """The search for what a person typed (`text`: a 申报编号, an ID-card number or part of a
    name; at most MAX_QUERY characters are looked at) and the filters. `secret`: the
    applicant-key secret (settings.applicant_key_secret)."""
    filters: dict[str, Any] = {
        "year": year,
        "stage": stage,
        "level": level,
        "jurisdiction": jurisdiction,
        "overdue": overdue,
        "assignee": assignee,
    }
    typed = text.strip()[:MAX_QUERY]
    if not typed:
        return Criteria(**filters)
    parsed = parse_declaration_number(typed)
    if parsed is not None:
        return Criteria(QueryKind.number, number=declaration_number(*parsed), **filters)
    compact = "".join(typed.split()).upper()
    if _ID_CARD_SHAPE.fullmatch(compact):
        return Criteria(
            QueryKind.id_card,
            applicant_key=applicant_key(compact, secret),
            id_card_valid=ric.is_valid(compact),
            **filters,
        )
    return Criteria(QueryKind.name, name=typed, **filters)


def by_applicant_key(key: str, **filters: Any) -> Criteria:
    """The search by ID card again, from its applicant key (a page's next page: the ID card
    itself is not sent back)."""
    return Criteria(QueryKind.id_card, applicant_key=key, **filters)


@dataclass(frozen=True)
class Scope:
    """Whose declarations a search may return: everything (the supervisor), one employer's
    staff (its USCC), or one competent unit's employers' (its name; `also`: declarations
    known to be its although their row does not say so yet, recorded before the projection
    kept the competent unit: see `unit_unknown`); `stages`, when given: only those in these
    stages (a role's queue: the competent unit's, the evaluation body's)."""

    everything: bool = False
    employer_uscc: str | None = None
    competent_unit: str | None = None
    also: frozenset[str] = field(default_factory=frozenset)
    stages: frozenset[str] = field(default_factory=frozenset)

    def clause(self) -> ColumnElement[bool]:
        whose = self._whose()
        return and_(whose, DeclarationRow.stage.in_(self.stages)) if self.stages else whose

    def _whose(self) -> ColumnElement[bool]:
        if self.everything:
            return true()
        if self.employer_uscc:
            return DeclarationRow.employer_uscc == self.employer_uscc
        if self.competent_unit:
            ours = DeclarationRow.competent_unit == self.competent_unit
            return or_(ours, DeclarationRow.workflow_id.in_(self.also)) if self.also else ours
        return false()  # no scope: nothing


@dataclass(frozen=True)
class SearchPage:
    """One page of matches, sorted by next deadline (the ones without last), and the counts."""

    rows: Sequence[Any]  # rows of the projection (DeclarationRow's columns)
    total: int  # matches with every filter
    page: int
    per_page: int
    by_stage: dict[str, int]  # matches per stage, whatever the stage filter
    overdue: int  # matches past their deadline, whatever the overdue filter

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The position of the page's first row among the matches (1-based)."""
        return (self.page - 1) * self.per_page + 1


def _matches(found: Criteria, scope: Scope) -> list[ColumnElement[bool]]:
    """Every condition but the stage and overdue filters."""
    where = [scope.clause()]
    if found.number is not None:
        where.append(DeclarationRow.number == found.number)
    if found.workflow_id is not None:
        where.append(DeclarationRow.workflow_id == found.workflow_id)
    if found.assignee is not None:
        where.append(DeclarationRow.assignee == found.assignee)
    if found.applicant_key is not None:
        where.append(DeclarationRow.applicant_key == found.applicant_key)
    if found.name is not None:
        where.append(DeclarationRow.applicant_name.contains(found.name, autoescape=True))
    if found.year is not None:
        where.append(DeclarationRow.round_year == found.year)
    if found.level is not None:
        where.append(DeclarationRow.level == found.level.value)
    if found.jurisdiction is not None:
        where.append(DeclarationRow.jurisdiction == found.jurisdiction.value)
    return where


def _overdue(now: datetime) -> ColumnElement[bool]:
    return DeclarationRow.next_deadline <= now


async def search_declarations(
    engine: AsyncEngine,
    found: Criteria,
    scope: Scope,
    *,
    now: datetime,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchPage:
    """The `page`-th page (from 1) of `per_page` (at most MAX_PER_PAGE) matches in `scope`,
    soonest next deadline first; `now` (aware) decides what is overdue."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    where = _matches(found, scope)
    stage_filter = [DeclarationRow.stage == found.stage.value] if found.stage else []
    overdue_filter = [_overdue(now)] if found.overdue else []
    table = DeclarationRow.__table__
    async with engine.connect() as conn:
        by_stage = {
            stage: count
            for stage, count in (
                await conn.execute(
                    select(DeclarationRow.stage, func.count())
                    .where(*where, *overdue_filter)
                    .group_by(DeclarationRow.stage)
                )
            ).all()
        }
        overdue = await conn.scalar(
            select(func.count()).select_from(table).where(*where, *stage_filter, _overdue(now))
        )
        total = by_stage.get(found.stage.value, 0) if found.stage else sum(by_stage.values())
        rows = (
            await conn.execute(
                select(table)
                .where(*where, *stage_filter, *overdue_filter)
                .order_by(
                    DeclarationRow.next_deadline.is_(None),
                    DeclarationRow.next_deadline,
                    DeclarationRow.workflow_id,
                )
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        ).all()
    return SearchPage(
        rows=rows,
        total=total,
        page=page,
        per_page=per_page,
        by_stage=by_stage,
        overdue=int(overdue or 0),
    )


async def unit_unknown(
    engine: AsyncEngine, found: Criteria, stages: frozenset[str] = frozenset()
) -> list[str]:
    """The workflow ids of matching declarations (in `stages`, when given) whose row does not
    say its competent unit (last recorded before the projection kept it): a competent unit's
    search asks who they belong to (portal/routers/search.py) and passes its own in
    `Scope.also`."""
    where = _matches(found, Scope(everything=True, stages=stages))
    async with engine.connect() as conn:
        return list(
            (
                await conn.execute(
                    select(DeclarationRow.workflow_id).where(
                        *where, DeclarationRow.competent_unit.is_(None)
                    )
                )
            ).scalars()
        )


async def stage_level_counts(engine: AsyncEngine, scope: Scope) -> dict[tuple[str, str], int]:
    """How many declarations in `scope` are in each (stage, level)."""
    async with engine.connect() as conn:
        counted = await conn.execute(
            select(DeclarationRow.stage, DeclarationRow.level, func.count())
            .where(scope.clause())
            .group_by(DeclarationRow.stage, DeclarationRow.level)
        )
        return {(stage, level): count for stage, level, count in counted.all()}
