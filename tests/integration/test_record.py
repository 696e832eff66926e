"""The record and outbox activities, on SQLite and (with ZHICHENG_TEST_POSTGRES_URL) PostgreSQL.

Start a throwaway PostgreSQL with `scripts/postgres.sh start var/pg 54329`, then
ZHICHENG_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:54329/postgres pytest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import NotificationActivities
from activities.record import RecordActivities
from delivery.outbox import TEMPLATE_ERROR, TEMPLATES, outbox_row
from delivery.recipients import Recipients
from models.common import Actor, Jurisdiction, Level, Role, Stage
from models.records import (
    ACCOUNT_EVENTS,
    BLIND_ROLES,
    ROLE_HOME,
    SESSION_EVENTS,
    NotificationEvent,
    NotificationRequest,
    TransitionRecord,
)
from rules.timezone import cn_datetime
from settings import DEFAULT_PORTAL_URL, ROOT
from store.db import (
    get_engine,
    insert_unless_exists,
)
from store.tables import AuditEvent, DeclarationRow, OutboxMessage
from tests.helpers.samples import NOTIFICATION_SAMPLES as SAMPLES
from tests.helpers.samples import notification_context, notification_recipient

WORKFLOW_ID = "decl-2025-0123456789abcdef"
T0 = datetime(2025, 10, 1, 2, 0, tzinfo=UTC)


@dataclass
class Activities:
    """The record activities on the test's database; the deliveries they would start are
    only noted (`started`)."""

    engine: AsyncEngine
    started: list[str] = field(default_factory=list)
    recipients: Recipients | None = None

    async def start_deliveries(self, keys: Sequence[str]) -> int:
        self.started.extend(keys)
        return 0

    @property
    def record_transition(self) -> Any:
        return RecordActivities(
            self.engine, self.start_deliveries, self.recipients
        ).record_transition

    @property
    def queue_notification(self) -> Any:
        return NotificationActivities(
            self.engine, self.start_deliveries, self.recipients
        ).queue_notification

    async def rows(self, entity: Any) -> list[Any]:
        """This test's rows only."""
        ours = select(entity).where(entity.workflow_id.startswith(WORKFLOW_ID))
        async with self.engine.connect() as conn:
            return list((await conn.execute(ours)).mappings())


@pytest.fixture
def activities(database: str) -> Activities:
    return Activities(get_engine(database))


def _transition(seq: int, from_stage: Stage, to_stage: Stage, return_count: int = 0):
    return TransitionRecord(
        workflow_id=WORKFLOW_ID,
        seq=seq,
        at=T0 + timedelta(hours=seq),
        actor=Actor(role=Role.evaluation_body, id="reviewer-1"),
        action=f"action-{seq}",
        from_stage=from_stage,
        to_stage=to_stage,
        reason="材料不清晰" if to_stage is Stage.correction else None,
        details={"correction_deadline": "2025-10-03T14:00:00+08:00"},
        round_year=2025,
        applicant_key="0123456789abcdef",
        applicant_name="张三",
        employer_uscc="91650100MA78A1B2C3",
        employer_name="新疆某光伏材料有限公司",
        level=Level.intermediate,
        jurisdiction=Jurisdiction.ftz_urumqi,
        return_count=return_count,
        deadlines={"correction": "2025-10-03T14:00:00+08:00"},
    )


async def test_transition_recorded_twice_gives_one_audit_row(activities: Activities) -> None:
    record = _transition(1, Stage.evaluation_review, Stage.correction, return_count=1)
    env = ActivityEnvironment()
    await env.run(activities.record_transition, record)
    await env.run(activities.record_transition, record)  # a retry

    [audit] = await activities.rows(AuditEvent)
    assert (audit["seq"], audit["to_stage"], audit["actor_id"]) == (1, "correction", "reviewer-1")
    assert audit["details"] == {"correction_deadline": "2025-10-03T14:00:00+08:00"}
    assert audit["at"] == record.at and audit["recorded_at"].tzinfo is not None
    [row] = await activities.rows(DeclarationRow)
    assert (row["stage"], row["return_count"], row["last_seq"]) == ("correction", 1, 1)
    assert row["deadlines"] == {"correction": "2025-10-03T14:00:00+08:00"}
    assert row["updated_at"] == record.at and row["updated_at"].utcoffset() == timedelta(0)


async def test_older_seq_does_not_move_projection_back(activities: Activities) -> None:
    env = ActivityEnvironment()
    await env.run(
        activities.record_transition, _transition(3, Stage.evaluation_review, Stage.correction, 1)
    )
    await env.run(
        activities.record_transition, _transition(2, Stage.employer_review, Stage.evaluation_review)
    )

    assert sorted(audit["seq"] for audit in await activities.rows(AuditEvent)) == [
        2,
        3,
    ]  # both audited
    [row] = await activities.rows(DeclarationRow)
    assert (row["stage"], row["last_seq"], row["return_count"]) == ("correction", 3, 1)

    await env.run(
        activities.record_transition, _transition(4, Stage.correction, Stage.evaluation_review, 1)
    )
    [row] = await activities.rows(DeclarationRow)
    assert (row["stage"], row["last_seq"]) == ("evaluation_review", 4)


def _request(event: NotificationEvent, **overrides: Any) -> NotificationRequest:
    role = notification_recipient(event)
    to_applicant = role is Role.applicant
    names = {
        Role.applicant: "张三",
        Role.evaluation_body: "评审机构",
        Role.committee: "评审委员会",
        Role.expert: "李四",
    }
    return NotificationRequest(
        key=f"{WORKFLOW_ID}/7/{event.value}/{role.value}",
        workflow_id=WORKFLOW_ID,
        event=event,
        recipient_role=role,
        recipient_name=names.get(role, "新疆示例硅业有限公司"),
        mobile="+8613812345678" if to_applicant else None,
        email="zhangsan@example.com" if to_applicant else None,
        context={**notification_context(event), **overrides},
    )


async def test_notification_queued_twice_gives_one_outbox_row(activities: Activities) -> None:
    request = _request(NotificationEvent.returned_for_correction)
    env = ActivityEnvironment()
    await env.run(activities.queue_notification, request)
    await env.run(activities.queue_notification, request)  # a retry
    # Each committed call starts the delivery; the second start is refused as a duplicate.
    assert activities.started == [request.key, request.key]

    [message] = await activities.rows(OutboxMessage)
    assert (message["key"], message["status"], message["attempts"]) == (request.key, "pending", 0)
    assert (message["mobile"], message["sent_at"]) == ("+8613812345678", None)
    assert message["created_at"].tzinfo is not None
    # named by its 申报编号, in the subject too (issue 14 item 3)
    assert message["subject"] == "2025年度职称申报材料退回补正通知（申报编号2025-000001）"
    body = message["body"]
    for expected in (
        "尊敬的张三：",
        "2025年度",
        "中级职称",
        "申报编号：2025-000001",
        f"{DEFAULT_PORTAL_URL}/applicant",  # the link to its page (ZHICHENG_PORTAL_URL)
        "职称证书扫描件不清晰",
        "第1次退回",
        "48小时内，即2025年10月03日 14:00（北京时间 UTC+08:00）前",
        "逾期未补正的，视为放弃申报",
        "被退回超过3次的，将无法再提交申请",
        "新疆专业技术人员管理平台",
    ):
        assert expected in body


async def test_an_organisations_message_gets_its_addresses_from_the_recipients_file(
    activities: Activities,
) -> None:
    """The employer's and the evaluation body's messages are addressed when they are written
    (examples/recipients.json); the applicant's keep the declaration's own. A retried record
    writes each of its messages once."""
    activities.recipients = Recipients(ROOT / "examples" / "recipients.json")
    employer = _request(NotificationEvent.review_overdue).model_copy(
        update={
            "key": f"{WORKFLOW_ID}/7/review_overdue/employer",
            "recipient_role": Role.employer,
            "recipient_name": "新疆示例硅业有限公司",
            "organisation": "91110000802100433B",
        }
    )
    record = _transition(7, Stage.evaluation_review, Stage.evaluation_review).model_copy(
        update={
            "notifications": [
                _request(NotificationEvent.review_overdue),
                employer,
                _request(NotificationEvent.withdrawn),
            ]
        }
    )
    await ActivityEnvironment().run(activities.record_transition, record)
    await ActivityEnvironment().run(activities.record_transition, record)  # a retry
    assert len(await activities.rows(OutboxMessage)) == 3  # each message once
    rows = {m["recipient_role"]: m for m in await activities.rows(OutboxMessage)}
    assert (rows["employer"]["email"], rows["employer"]["mobile"]) == (
        "hr@example.com",
        "+8613700137000",
    )
    assert rows["evaluation_body"]["email"] == "pingshen@example.gov.cn"
    assert rows["evaluation_body"]["recipient_name"] == "甘泉堡经开区职称评审机构"
    assert rows["applicant"]["email"] == "zhangsan@example.com"
    # made at the transition's moment, not when the write happened to run
    assert {m["created_at"] for m in rows.values()} == {record.at}


async def test_insert_unless_exists_tells_whether_it_wrote(activities: Activities) -> None:
    """Callers rely on the answer (logs, exactly-once delivery): True once, then False."""
    row = outbox_row(_request(NotificationEvent.withdrawn))
    async with activities.engine.begin() as conn:
        assert await insert_unless_exists(conn, OutboxMessage, row, ["key"]) is True
        assert await insert_unless_exists(conn, OutboxMessage, row, ["key"]) is False


async def test_every_event_has_a_template_that_renders(activities: Activities) -> None:
    assert set(SAMPLES) == set(NotificationEvent)
    templates = {path.name for path in TEMPLATES.glob("*.txt.j2") if not path.name.startswith("_")}
    assert templates == {f"{event.value}.txt.j2" for event in NotificationEvent}

    env = ActivityEnvironment()
    for event in NotificationEvent:
        await env.run(activities.queue_notification, _request(event))
    messages = {message["event"]: message for message in await activities.rows(OutboxMessage)}
    assert set(messages) == {event.value for event in NotificationEvent}
    for event, message in messages.items():
        if NotificationEvent(event) in ACCOUNT_EVENTS:  # an account's code: no declaration
            assert "042917" in message["body"] and "10分钟" in message["body"], event
            assert "042917" not in message["subject"], event
            assert "{" not in message["body"] and WORKFLOW_ID not in message["body"], event
            continue
        assert "2025年度" in message["subject"], event
        assert "2025年度" in message["body"], event
        assert "{" not in message["body"] and "\n\n\n" not in message["body"], event
        text = message["subject"] + message["body"]
        role = Role(message["recipient_role"])
        assert f"{DEFAULT_PORTAL_URL}{ROLE_HOME[role]}" in message["body"], event  # its link
        if role in BLIND_ROLES or NotificationEvent(event) in SESSION_EVENTS:
            # R11: no name, no employer, no id, no number (an expert's message names no
            # declaration at all)
            assert WORKFLOW_ID not in text and "张三" not in text and "硅业" not in text, event
            assert "2025-000001" not in text, event
        else:
            assert "2025-000001" in message["subject"], event
            assert "2025-000001" in message["body"], event
    assert "评审机构：" in messages["review_overdue"]["body"]
    drawn = messages["committee_drawn"]["body"]
    assert "候补第10位" in drawn and "2025年11月25日 09:30" in drawn and "第一会议室" in drawn
    assert "2025年11月20日 09:30（北京时间 UTC+08:00）" in messages["defense_arranged"]["body"]


async def test_a_request_without_a_number_names_the_workflow_id_and_links_the_portal_url(
    activities: Activities,
) -> None:
    """A request made before the 申报编号 was carried (in flight at the upgrade) has only the
    workflow id: the message names it by that; the links go to the configured portal."""
    request = _request(NotificationEvent.withdrawn)
    del request.context["declaration_number"]
    row = outbox_row(request, "https://zhicheng.example.gov.cn/")
    assert f"申报编号{WORKFLOW_ID}" in row["subject"]
    assert f"申报编号：{WORKFLOW_ID}" in row["body"]
    assert "https://zhicheng.example.gov.cn/applicant" in row["body"]
    assert row["context"]["link"] == "https://zhicheng.example.gov.cn/applicant"
    employer = request.model_copy(
        update={"recipient_role": Role.employer, "organisation": " 91110000802100433B "}
    )
    row = outbox_row(employer, "https://zhicheng.example.gov.cn")
    assert row["context"]["link"] == f"https://zhicheng.example.gov.cn/employer/{WORKFLOW_ID}"
    assert row["organisation"] == "91110000802100433B"  # whose inbox: as the accounts spell it


async def test_missing_context_variable_is_an_error(activities: Activities) -> None:
    request = _request(NotificationEvent.returned_for_correction)
    del request.context["correction_deadline"]
    with pytest.raises(ApplicationError, match="correction_deadline") as raised:
        await ActivityEnvironment().run(activities.queue_notification, request)
    assert raised.value.type == TEMPLATE_ERROR
    assert await activities.rows(OutboxMessage) == []
    assert activities.started == []


def test_cn_datetime() -> None:
    expected = "2025年10月03日 14:00（北京时间 UTC+08:00）"
    assert cn_datetime("2025-10-03T06:00:00Z") == expected
    assert cn_datetime("2025-10-03T14:00:00+08:00") == expected
    new_york = timezone(timedelta(hours=-5))
    assert cn_datetime(datetime(2025, 10, 3, 1, 0, tzinfo=new_york)) == expected
    with pytest.raises(ValueError, match="naive"):
        cn_datetime("2025-10-03T14:00:00")


def test_midnight_deadline_reads_as_24_00_of_the_day_before():
    assert cn_datetime("2025-09-30T00:00:00+08:00") == "2025年09月29日 24:00（北京时间 UTC+08:00）"
    assert cn_datetime("2025-10-03T06:00:00Z") == "2025年10月03日 14:00（北京时间 UTC+08:00）"
