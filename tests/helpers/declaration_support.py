"""Helpers for workflow tests: a round placed around the test server's clock, with its own
calendar data (the server's clock is today's date, possibly a year the calendar package
does not know), and short ways to start a declaration and act on it."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import start_declaration
from models.calendar import YearCalendar
from models.declaration import DeclarationInput, DeclarationState
from models.round import RoundConfig
from rules.calendar_source import build_calendar
from rules.recommendation import RECOMMENDATION_OPINION
from store.db import get_engine
from store.tables import OutboxMessage
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input
from tests.helpers.signing import signed
from workflows.declaration import DeclarationWorkflow

SECOND = timedelta(seconds=1)
RECOMMENDATION = {
    "opinion": RECOMMENDATION_OPINION,
    "publicity_original_ref": "sha256:" + "a" * 64,
    "publicity_result_ref": "sha256:" + "b" * 64,
}


def plain_calendar_years(*years: int, **extra: YearCalendar) -> dict[int, YearCalendar]:
    """Override-table entries: plain Monday–Friday years unless `extra` says otherwise."""
    return {year: extra.get(str(year), YearCalendar()) for year in years}


def round_around(
    now: datetime, overrides: dict[int, YearCalendar] | None = None, **fields: Any
) -> RoundConfig:
    """A round whose submission window is open now: submission until +15 d, review +15..+30 d,
    payment until +45 d; calendar data for this year and the next through the override table."""
    years = (now.year, now.year + 1)
    calendar = build_calendar(years, overrides or plain_calendar_years(*years))
    values: dict[str, Any] = {
        "year": now.year,
        "submission_opens_at": now - timedelta(days=1),
        "submission_closes_at": now + timedelta(days=15),
        "review_opens_at": now + timedelta(days=15),
        "review_closes_at": now + timedelta(days=30),
        "payment_closes_at": now + timedelta(days=45),
        "calendar": calendar,
    }
    return RoundConfig(**(values | fields))


async def start(
    env: WorkflowEnvironment,
    worker: Worker,
    round_config: RoundConfig | None = None,
    **input_fields: Any,
) -> WorkflowHandle[DeclarationWorkflow, DeclarationState]:
    now = await env.get_current_time()
    declaration: DeclarationInput = sample_declaration_input(
        round=round_config or round_around(now),
        applicant_key=uuid.uuid4().hex[:16],
        **input_fields,
    )
    return await start_declaration(env.client, declaration, worker.task_queue)


async def act(
    handle: WorkflowHandle[Any, Any], action: str, role: str, **fields: Any
) -> DeclarationState:
    """Send one action as the named role, signed, the way the portal sends a reviewer's."""
    payload = {"actor": {"role": role, "id": f"{role}-1"}, **fields}
    return await handle.execute_update(
        action, await signed(handle, action, payload), result_type=DeclarationState
    )


async def state(handle: WorkflowHandle[Any, Any]) -> DeclarationState:
    return await handle.query("state", result_type=DeclarationState)


async def outbox_events(workflow_id: str, database_url: str | None = None) -> list[str]:
    """The events of the declaration's messages in the notification outbox (one row per
    message, each transition's own key), in key order; DATABASE_URL's database unless told."""
    async with get_engine(database_url).connect() as conn:
        rows = await conn.execute(
            select(OutboxMessage.event)
            .where(OutboxMessage.workflow_id == workflow_id)
            .order_by(OutboxMessage.key)
        )
        return list(rows.scalars())


async def to_publicity(handle: WorkflowHandle[Any, Any]) -> DeclarationState:
    await act(handle, "submit", "applicant")
    return await act(handle, "start_publicity", "employer")


async def through_publicity(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """Submit, publicize 5 working days, recommend: the declaration reaches the evaluation body."""
    current = await to_publicity(handle)
    await sleep_until(env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND)
    await act(handle, "recommend", "employer", **RECOMMENDATION)


async def to_evaluation_review(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """Through publicity, then wait for the review window to open."""
    await through_publicity(env, handle)
    current = await state(handle)
    await sleep_until(env, datetime.fromisoformat(current.deadlines["review_opens_at"]), SECOND)


async def to_review_open(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """Through publicity; the round then opens the review window a second later (R9, as
    `change_windows` from the round), rather than the declaration waiting for it: the
    declaration is with the evaluation body, its review window open."""
    await through_publicity(env, handle)
    opens = (await env.get_current_time() + SECOND).isoformat()
    await act(
        handle,
        "change_windows",
        "system",
        reason="评审机构审核提前开始",
        submission_closes_at=opens,
        review_opens_at=opens,
    )
    await sleep_until(env, datetime.fromisoformat(opens), SECOND)


async def to_defense(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> None:
    """With the evaluation body (`to_review_open`), accepted and paid: the declaration waits
    for its defense (R18). With a drill publicity (RoundConfig.drill_publicity_seconds) this
    takes seconds of real time (the dev server)."""
    await to_review_open(env, handle)
    await act(handle, "accept_materials", "evaluation_body")
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")


async def arrange_defense(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], lead: timedelta
) -> datetime:
    """The evaluation body arranges the defense `lead` from now (R18); its start, before
    which its score is refused."""
    starts = (await env.get_current_time() + lead).replace(microsecond=0) + SECOND
    await act(
        handle,
        "arrange_defense",
        "evaluation_body",
        starts_at=starts.isoformat(),
        place="甘泉堡经开区人力资源服务中心三楼会议室",
        form="现场答辩",
    )
    return starts


async def sleep_until(
    env: WorkflowEnvironment, instant: datetime, slack: timedelta = timedelta(0)
) -> None:
    now = await env.get_current_time()
    if instant + slack > now:
        await env.sleep(instant + slack - now)


async def outcome(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> DeclarationState:
    """The workflow's result, without letting the test server skip time while it finishes
    (an unlocked clock would race every other open declaration's timers forward)."""
    with env.auto_time_skipping_disabled():
        return await handle.result()


async def settled_event_types(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    """The history's event types once the workflow has nothing in flight: its last workflow
    task completed and every scheduled activity closed (read from one history snapshot)."""
    for _ in range(200):
        types = [event.event_type for event in (await handle.fetch_history()).events]
        last_task_event = [t for t in types if t in WORKFLOW_TASK_EVENTS][-1]
        scheduled = types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        closed = sum(types.count(t) for t in ACTIVITY_CLOSED_EVENTS)
        if last_task_event == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and scheduled == closed:
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"workflow {handle.id} did not settle")


async def outbox_rows(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    """The declaration's outbox rows once it has settled, in the order of their transitions
    (the applicant's first within one)."""
    await settled_event_types(handle)
    async with get_engine().connect() as conn:
        query = select(OutboxMessage).where(OutboxMessage.workflow_id == handle.id)
        rows = list((await conn.execute(query)).all())
    return sorted(rows, key=lambda m: (int(m.key.split("/")[1]), m.recipient_role != "applicant"))


def assert_blind(row: Any, handle: WorkflowHandle[Any, Any]) -> None:
    """R11: nothing that names the applicant, the employer or the declaration's id."""
    text = row.subject + row.body + repr(row.context)
    for secret in (handle.id, handle.id.rsplit("-", 1)[1], "张三", "硅业", SAMPLE_USCC):
        assert secret not in text, (row.event, secret)
    assert row.recipient_name == "评审机构" and row.mobile is None and row.email is None
    assert "/evaluation" in row.body and "中级" in row.body


WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}
ACTIVITY_CLOSED_EVENTS = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
}
UPDATE_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
}


def no_trace_left(before: list[EventType.ValueType], after: list[EventType.ValueType]) -> bool:
    """Whether refused updates left the history as it was (`settled_event_types` before and
    after): no update event, nothing new but the speculative workflow task a rejected update
    ran in, which the Java test server logs and the real server drops (tests/integration/
    test_dev_server.py shows an unchanged history there)."""
    return (
        after[: len(before)] == before
        and set(after[len(before) :]) <= WORKFLOW_TASK_EVENTS
        and not UPDATE_EVENTS & set(after[len(before) :])
    )


HISTORIES = Path(__file__).parent.parent / "replay" / "histories"


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    """With ZHICHENG_RECORD_HISTORIES=1, save this run's history for tests/replay/test_replay.py.
    Re-record only for a deliberate, patched (`workflow.patched`) change of the workflow."""
    if os.environ.get("ZHICHENG_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
