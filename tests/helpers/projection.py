"""Rows of the declarations projection written straight into a test's database, as the record
activity would leave them: for the search (store/search.py) and the pages that list it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.identity import applicant_key, declaration_number, declaration_workflow_id
from rules.overdue import current_deadline
from store.db import get_engine
from store.tables import DeclarationRow
from tests.helpers.samples import SAMPLE_USCC

# the portal reads the clock (datetime.now): the rows' deadlines are relative to it
NOW = datetime.now(UTC).replace(microsecond=0)
EMPLOYER = "新疆示例硅业有限公司"
UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"


def id_card(serial: int) -> str:
    """A valid ID-card number per serial (its check digit computed)."""
    from stdnum.cn import ric

    body = f"65010219850101{serial:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class Person:
    """One declaration of the projection and what a test searches it by."""

    name: str
    id_card: str
    workflow_id: str
    number: str | None

    @property
    def number_text(self) -> str:
        """Its 申报编号 (a row put with one)."""
        assert self.number is not None, f"{self.workflow_id} has no number"
        return self.number


async def put(
    database: str,
    secret: str,
    name: str,
    *,
    serial: int,
    year: int = 2026,
    stage: str = "employer_review",
    level: str = "intermediate",
    jurisdiction: str = "ftz_urumqi",
    employer_uscc: str = SAMPLE_USCC,
    employer_name: str = EMPLOYER,
    competent_unit: str | None = "",
    due_in: timedelta | None = timedelta(days=10),
    numbered: bool = True,
) -> Person:
    """A projection row of `name` (ID card `id_card(serial)`) whose stage's deadline is
    `due_in` from NOW (negative: overdue; None: a stage without one)."""
    card = id_card(serial)
    key = applicant_key(card, secret)
    workflow_id = declaration_workflow_id(year, key)
    deadlines: dict[str, str] = {}
    if due_in is not None:
        due = (NOW + due_in).isoformat()
        deadline_name = {
            "evaluation_review": "review_closes_at",
            "correction": "correction_deadline",
            "payment": "payment_due_at",
        }.get(stage, "submission_closes_at")
        deadlines[deadline_name] = due
    found = current_deadline(stage, deadlines)
    number = declaration_number(year, serial) if numbered else None
    row: dict[str, Any] = {
        "workflow_id": workflow_id,
        "round_year": year,
        "applicant_key": key,
        "applicant_name": name,
        "employer_uscc": employer_uscc,
        "employer_name": employer_name,
        "level": level,
        "jurisdiction": jurisdiction,
        "stage": stage,
        "return_count": 0,
        "deadlines": deadlines,
        "last_seq": 1,
        "updated_at": NOW - timedelta(days=1),
        "number": number,
        "competent_unit": competent_unit,
        "next_deadline": found[1] if found else None,
    }
    async with get_engine(database).begin() as conn:
        await conn.execute(DeclarationRow.__table__.insert().values(**row))
    return Person(name, card, workflow_id, number)


def unique_name(prefix: str) -> str:
    """A name no other test's row has (the session's database is shared)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"
