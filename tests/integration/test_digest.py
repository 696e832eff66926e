"""The evaluation body's daily digest activity (activities/coordination.py
`queue_evaluation_digest`) on SQLite and (with ZHICHENG_TEST_POSTGRES_URL) PostgreSQL: what it
counts, that it is blind, once per day, and nothing on a day nothing arrived."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from temporalio.testing import ActivityEnvironment

from activities.coordination import RoundActivities
from delivery.recipients import Recipients
from models.common import Stage
from models.coordination import DigestRequest
from settings import ROOT, load_settings
from store.db import get_engine
from store.tables import AuditEvent, DeclarationRow, OutboxMessage

YEAR = 2097
UNTIL = datetime(2097, 9, 29, 1, 0, tzinfo=UTC)  # 09:00 Beijing time
SINCE = UNTIL - timedelta(days=1)


def declaration(n: int, stage: Stage, year: int = YEAR) -> dict[str, Any]:
    return {
        "workflow_id": f"decl-{year}-{n:016x}",
        "round_year": year,
        "applicant_key": f"{n:016x}",
        "applicant_name": "张三",
        "employer_uscc": "91110000802100433B",
        "employer_name": "新疆示例硅业有限公司",
        "level": "intermediate",
        "jurisdiction": "ftz_urumqi",
        "stage": stage.value,
        "return_count": 0,
        "deadlines": {},
        "last_seq": 5,
        "updated_at": UNTIL,
    }


def moved(n: int, seq: int, at: datetime, from_stage: Stage, to_stage: Stage, year: int = YEAR):
    return {
        "workflow_id": f"decl-{year}-{n:016x}",
        "seq": seq,
        "at": at,
        "actor_role": "employer",
        "actor_id": "employer-1",
        "action": "recommend",
        "from_stage": from_stage.value,
        "to_stage": to_stage.value,
        "reason": None,
        "details": {},
    }


async def test_the_digest_counts_the_days_arrivals_once_and_blind(database: str) -> None:
    engine = get_engine(database)
    review, recommendation = Stage.evaluation_review, Stage.recommendation
    async with engine.begin() as conn:
        await conn.execute(
            insert(DeclarationRow),
            [
                declaration(1, review),
                declaration(2, Stage.payment),  # arrived, then accepted the same day
                declaration(3, review),  # arrived the day before: open, not new
                declaration(4, review, year=YEAR + 1),  # another round
            ],
        )
        await conn.execute(
            insert(AuditEvent),
            [
                moved(1, 4, SINCE + timedelta(hours=3), recommendation, review),
                moved(1, 5, SINCE + timedelta(hours=4), review, review),  # a reminder: no arrival
                moved(2, 4, UNTIL, Stage.competent_unit_review, review),  # at the moment: counts
                moved(2, 5, UNTIL, review, Stage.payment),
                moved(3, 4, SINCE, recommendation, review),  # at the start: the day before's
                moved(4, 4, SINCE + timedelta(hours=1), recommendation, review, year=YEAR + 1),
            ],
        )
    started: list[str] = []

    async def start_deliveries(keys: Sequence[str]) -> int:
        started.extend(keys)
        return len(keys)

    recipients = Recipients(ROOT / "examples" / "recipients.json")
    activities = RoundActivities(engine, load_settings(), start_deliveries, recipients)
    request = DigestRequest(
        year=YEAR,
        since=SINCE,
        until=UNTIL,
        review_closes_at=datetime(2097, 10, 30, 16, 0, tzinfo=UTC),
    )
    env = ActivityEnvironment()
    result = await env.run(activities.queue_evaluation_digest, request)
    assert (result.arrived, result.open, result.queued) == (2, 2, True)
    await env.run(activities.queue_evaluation_digest, request)  # a retry: the same key

    async with engine.connect() as conn:
        [row] = (await conn.execute(select(OutboxMessage))).mappings().all()
    assert row["key"] == f"round-{YEAR}/digest/2097-09-29/evaluation_digest/evaluation_body"
    assert started == [row["key"], row["key"]]  # the second start is refused as a duplicate
    assert (row["recipient_role"], row["email"]) == ("evaluation_body", "pingshen@example.gov.cn")
    assert row["created_at"] == UNTIL  # dated by its moment
    assert "新报送2份，待审核2份" in row["subject"]
    assert "2097年09月28日 09:00（北京时间 UTC+08:00）至2097年09月29日 09:00" in row["body"]
    assert "/evaluation" in row["body"]
    for personal in ("张三", "硅业", "decl-"):
        assert personal not in row["subject"] + row["body"] + repr(row["context"])

    quiet = request.model_copy(update={"since": UNTIL, "until": UNTIL + timedelta(days=1)})
    result = await env.run(activities.queue_evaluation_digest, quiet)
    assert (result.arrived, result.queued) == (0, False)  # nothing arrived: no message
    async with engine.connect() as conn:
        assert len((await conn.execute(select(OutboxMessage))).all()) == 1
