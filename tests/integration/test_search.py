"""The search (store/search.py) on SQLite and PostgreSQL: by name, by ID-card number (exact,
by its applicant key: the projection never holds the number) and by 申报编号; each scope
returns only its own (an employer never another employer's staff, a competent unit its
employers' only); filters, counts, pages and the order by next deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from models.common import Jurisdiction, Level, Stage
from store.db import get_engine
from store.search import (
    QueryKind,
    Scope,
    by_applicant_key,
    criteria,
    search_declarations,
    unit_unknown,
)
from store.tables import DeclarationRow
from tests.helpers.portal_support import OTHER_EMPLOYER, OTHER_USCC
from tests.helpers.projection import NOW, UNIT, id_card, put
from tests.helpers.samples import SAMPLE_USCC, TEST_SECRET

EVERYTHING = Scope(everything=True)
OURS = Scope(employer_uscc=SAMPLE_USCC)


async def found(database: str, text: str, scope: Scope = EVERYTHING, **filters: Any) -> list[str]:
    page = await search_declarations(
        get_engine(database), criteria(text, TEST_SECRET, **filters), scope, now=NOW
    )
    return [row.workflow_id for row in page.rows]


def test_what_a_person_types_is_taken_for_a_number_an_id_card_or_a_name() -> None:
    assert criteria("", TEST_SECRET).kind is QueryKind.none
    number = criteria(" 2026-17 ", TEST_SECRET)
    assert (number.kind, number.number) == (QueryKind.number, "2026-000017")
    card = criteria(id_card(5).lower(), TEST_SECRET)
    assert card.kind is QueryKind.id_card and card.id_card_valid
    assert card.applicant_key is not None and id_card(5) not in repr(card)  # only the key
    good = id_card(5)
    wrong = criteria(good[:-1] + ("1" if good[-1] == "0" else "0"), TEST_SECRET)
    assert (wrong.kind, wrong.id_card_valid) == (QueryKind.id_card, False)  # its check digit
    name = criteria("  王 ", TEST_SECRET, stage=Stage.draft)
    assert (name.kind, name.name, name.stage) == (QueryKind.name, "王", Stage.draft)
    assert criteria("x" * 500, TEST_SECRET).name == "x" * 100  # bounded


async def test_by_name_id_card_and_number_within_the_scope(database: str) -> None:
    ours = await put(database, TEST_SECRET, "王小明", serial=1)
    same_name = await put(
        database,
        TEST_SECRET,
        "王小明",
        serial=2,
        employer_uscc=OTHER_USCC,
        employer_name=OTHER_EMPLOYER,
    )
    assert await found(database, "小明", OURS) == [ours.workflow_id]
    assert sorted(await found(database, "王小明")) == sorted(
        [ours.workflow_id, same_name.workflow_id]
    )
    # another employer's staff: not by name, ID card or number
    assert await found(database, same_name.id_card, OURS) == []
    assert same_name.number is not None
    assert await found(database, same_name.number, OURS) == []
    assert await found(database, same_name.id_card) == [same_name.workflow_id]
    assert await found(database, ours.id_card.lower(), OURS) == [ours.workflow_id]  # exact
    assert await found(database, ours.id_card[:-4], OURS) == []  # no partial ID-card match
    assert ours.number is not None
    assert await found(database, ours.number, OURS) == [ours.workflow_id]
    assert await found(database, "2026-1", OURS) == [ours.workflow_id]
    assert await found(database, "%", OURS) == []  # LIKE's wildcards are plain text
    assert await found(database, "王小明", Scope()) == []  # no scope: nothing
    # the ID card is nowhere in the projection
    async with get_engine(database).connect() as conn:
        rows = (await conn.execute(select(DeclarationRow.__table__))).all()
    assert all(ours.id_card not in repr(tuple(row)) for row in rows)


async def test_a_competent_unit_finds_its_employers_declarations(database: str) -> None:
    theirs = await put(database, TEST_SECRET, "李四", serial=3, competent_unit=UNIT)
    none = await put(database, TEST_SECRET, "李五", serial=4, competent_unit="")
    unknown = await put(database, TEST_SECRET, "李六", serial=5, competent_unit=None)
    assert await found(database, "李", Scope(competent_unit=UNIT)) == [theirs.workflow_id]
    # a row recorded before the projection kept the unit: the caller says whose it is
    assert await unit_unknown(get_engine(database), criteria("李", TEST_SECRET)) == [
        unknown.workflow_id
    ]
    also = Scope(competent_unit=UNIT, also=frozenset({unknown.workflow_id}))
    assert sorted(await found(database, "李", also)) == sorted(
        [theirs.workflow_id, unknown.workflow_id]
    )
    assert none.workflow_id not in await found(database, "李", also)
    assert await found(database, "李", Scope(competent_unit="另一个主管单位")) == []


async def test_filters_counts_pages_and_the_order_by_deadline(database: str) -> None:
    later = await put(database, TEST_SECRET, "甲", serial=11, due_in=timedelta(days=9))
    soon = await put(database, TEST_SECRET, "乙", serial=12, due_in=timedelta(hours=3))
    overdue = await put(
        database,
        TEST_SECRET,
        "丙",
        serial=13,
        stage="evaluation_review",
        level="associate_senior",
        due_in=-timedelta(days=2),
    )
    none = await put(database, TEST_SECRET, "丁", serial=14, stage="committee", due_in=None)
    other_year = await put(database, TEST_SECRET, "戊", serial=15, year=2025, due_in=None)
    engine = get_engine(database)

    page = await search_declarations(engine, criteria("", TEST_SECRET), OURS, now=NOW)
    assert [r.workflow_id for r in page.rows] == [
        overdue.workflow_id,
        soon.workflow_id,
        later.workflow_id,
        *sorted([none.workflow_id, other_year.workflow_id]),
    ]  # soonest deadline first, the ones without last
    assert (page.total, page.pages, page.overdue) == (5, 1, 1)
    assert page.by_stage == {"employer_review": 3, "evaluation_review": 1, "committee": 1}

    first = await search_declarations(
        engine, criteria("", TEST_SECRET), OURS, now=NOW, page=1, per_page=2
    )
    second = await search_declarations(
        engine, criteria("", TEST_SECRET), OURS, now=NOW, page=2, per_page=2
    )
    last = await search_declarations(
        engine, criteria("", TEST_SECRET), OURS, now=NOW, page=3, per_page=2
    )
    assert (first.pages, first.first, second.first, last.first) == (3, 1, 3, 5)
    seen = [r.workflow_id for p in (first, second, last) for r in p.rows]
    assert seen == [r.workflow_id for r in page.rows]  # every one once, in order

    assert await found(database, "", OURS, overdue=True) == [overdue.workflow_id]
    assert await found(database, "", OURS, stage=Stage.committee) == [none.workflow_id]
    assert await found(database, "", OURS, level=Level.associate_senior) == [overdue.workflow_id]
    assert await found(database, "", OURS, year=2025) == [other_year.workflow_id]
    assert await found(database, "", OURS, jurisdiction=Jurisdiction.urumqi_city) == []
    staged = await search_declarations(
        engine, criteria("", TEST_SECRET, stage=Stage.employer_review), OURS, now=NOW
    )
    assert staged.total == 3 and staged.by_stage["committee"] == 1  # counts ignore the stage
    again = await search_declarations(
        engine, by_applicant_key(criteria(soon.id_card, TEST_SECRET).applicant_key or ""),
        OURS, now=NOW,
    )  # fmt: skip
    assert [r.workflow_id for r in again.rows] == [soon.workflow_id]


@pytest.mark.parametrize("page", [0, -3])
async def test_a_page_before_the_first_is_the_first(database: str, page: int) -> None:
    await put(database, TEST_SECRET, "甲", serial=21)
    result = await search_declarations(
        get_engine(database), criteria("", TEST_SECRET), OURS, now=NOW, page=page
    )
    assert (result.page, len(result.rows)) == (1, 1)
