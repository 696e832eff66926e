"""Reminders before a deadline (rules/reminders.py), on durable timers of the Declaration
workflow: each is queued once, at its moment (the outbox row is dated by its transition, the
workflow's clock), and never after the action it reminds of."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Stage
from models.declaration import Employer
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    assert_blind,
    keep_history,
    outbox_rows,
    outcome,
    round_around,
    sleep_until,
    start,
    state,
    to_evaluation_review,
    to_publicity,
)
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input

pytestmark = pytest.mark.asyncio(loop_scope="session")

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
TOLERANCE = 5 * SECOND  # a durable timer fires at its moment, late only by processing time


async def reminders(handle: WorkflowHandle[Any, Any], event: str) -> list[Any]:
    return [m for m in await outbox_rows(handle) if m.event == event]


def at_moment(row: Any, moment: datetime) -> bool:
    return timedelta(0) <= row.created_at - moment < TOLERANCE


async def all_to_evaluation_review(
    env: WorkflowEnvironment, *handles: WorkflowHandle[Any, Any]
) -> None:
    """All through their publicity, then the review window opens for all (one clock)."""
    await all_through_publicity(env, *handles)
    await sleep_until(env, await deadline_of(handles[0], "review_opens_at"), SECOND)


async def all_through_publicity(env: WorkflowEnvironment, *handles: WorkflowHandle[Any, Any]):
    """Submitted and publicized together; recommended once every publicity is over."""
    ends = [(await to_publicity(handle)).deadlines["publicity_ends_at"] for handle in handles]
    await sleep_until(env, max(datetime.fromisoformat(end) for end in ends), SECOND)
    for handle in handles:
        await act(handle, "recommend", "employer", **RECOMMENDATION)


async def deadline_of(handle: WorkflowHandle[Any, Any], name: str) -> datetime:
    return datetime.fromisoformat((await state(handle)).deadlines[name])


async def test_correction_is_reminded_24_and_4_hours_before_its_deadline(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="学历证书不清晰")
    deadline = await deadline_of(handle, "correction_deadline")

    await sleep_until(time_env, deadline - 24 * HOUR - SECOND)
    assert await reminders(handle, "correction_reminder") == []  # not before its moment
    await sleep_until(time_env, deadline, SECOND)
    assert (await outcome(time_env, handle)).stage is Stage.abandoned

    early, late = await reminders(handle, "correction_reminder")
    assert at_moment(early, deadline - 24 * HOUR) and at_moment(late, deadline - 4 * HOUR)
    assert (early.recipient_role, early.mobile) == ("applicant", "+8613800138000")
    assert "还有24小时" in early.body and "还有4小时" in late.body
    assert "（北京时间 UTC+08:00）前" in late.body and handle.id in late.body
    assert early.key != late.key  # each under its own transition's key: written once
    timeline = (await state(handle)).timeline
    assert [t.action for t in timeline[-3:]] == ["reminder", "reminder", "correction_overdue"]
    assert {t.to_stage for t in timeline[-3:-1]} == {Stage.correction}  # same stage
    await keep_history(handle, "documents_reminders_correction_abandoned")


async def test_no_correction_reminder_after_the_resubmission(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="业绩证明缺页")
    deadline = await deadline_of(handle, "correction_deadline")
    await sleep_until(time_env, deadline - 24 * HOUR, 2 * HOUR)  # the 24 h one is out
    await act(handle, "resubmit", "applicant")
    await sleep_until(time_env, deadline, HOUR)  # past the 4 h moment and the deadline
    [sent] = await reminders(handle, "correction_reminder")
    assert at_moment(sent, deadline - 24 * HOUR)
    assert (await state(handle)).stage is Stage.evaluation_review


async def test_a_reminder_due_before_the_stage_began_is_not_sent(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """12 correction hours: the 24 h reminder's moment is before the return; the 4 h one
    comes."""
    now = await time_env.get_current_time()
    handle = await start(time_env, time_worker, round_around(now, correction_hours=12))
    await to_evaluation_review(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="缺继续教育证明")
    deadline = await deadline_of(handle, "correction_deadline")
    await sleep_until(time_env, deadline - 4 * HOUR, SECOND)
    [sent] = await reminders(handle, "correction_reminder")
    assert at_moment(sent, deadline - 4 * HOUR) and "还有4小时" in sent.body
    await act(handle, "resubmit", "applicant")


async def test_the_rounds_configured_lead_times_fire_at_their_moments(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """The round's own leads (RoundConfig): the correction reminded 30 h and 2 h before its
    deadline, the payment 5 days before; the messages say so."""
    now = await time_env.get_current_time()
    config = round_around(
        now,
        correction_first_reminder_hours=30,
        correction_last_reminder_hours=2,
        payment_reminder_days=5,
    )
    handle = await start(time_env, time_worker, config)
    await to_evaluation_review(time_env, handle)
    await act(handle, "return_for_correction", "evaluation_body", reason="学历证书不清晰")
    deadline = await deadline_of(handle, "correction_deadline")
    await sleep_until(time_env, deadline - 30 * HOUR - SECOND)
    assert await reminders(handle, "correction_reminder") == []  # not before its moment
    await sleep_until(time_env, deadline - 2 * HOUR, SECOND)
    early, late = await reminders(handle, "correction_reminder")
    assert at_moment(early, deadline - 30 * HOUR) and at_moment(late, deadline - 2 * HOUR)
    assert "还有30小时" in early.body and "剩余2小时" in late.subject
    await act(handle, "resubmit", "applicant")

    await act(handle, "accept_materials", "evaluation_body")
    due = await deadline_of(handle, "payment_due_at")
    await sleep_until(time_env, due - 5 * DAY - SECOND)
    assert await reminders(handle, "payment_reminder") == []
    await sleep_until(time_env, due - 5 * DAY, SECOND)
    [sent] = await reminders(handle, "payment_reminder")
    assert at_moment(sent, due - 5 * DAY) and "还有5天" in sent.body
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-9")


async def test_payment_is_reminded_3_days_before_unless_paid(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    unpaid = await start(time_env, time_worker)
    paid = await start(time_env, time_worker)
    await all_to_evaluation_review(time_env, unpaid, paid)
    for handle in (unpaid, paid):
        await act(handle, "accept_materials", "evaluation_body")
    due = await deadline_of(unpaid, "payment_due_at")
    await act(paid, "confirm_payment", "evaluation_body", receipt_no="R-7")

    await sleep_until(time_env, due - 3 * DAY, SECOND)
    [sent] = await reminders(unpaid, "payment_reminder")
    assert at_moment(sent, due - 3 * DAY) and sent.recipient_role == "applicant"
    assert "还有3天" in sent.body and "评审费" in sent.body
    await act(unpaid, "confirm_payment", "evaluation_body", receipt_no="R-8")
    assert await reminders(paid, "payment_reminder") == []  # paid before its moment
    assert len(await reminders(unpaid, "payment_reminder")) == 1


async def test_the_evaluation_body_is_reminded_of_a_review_still_open(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    open_one = await start(time_env, time_worker)
    decided = await start(time_env, time_worker)
    await all_to_evaluation_review(time_env, open_one, decided)
    await act(decided, "accept_materials", "evaluation_body")
    closes = await deadline_of(open_one, "review_closes_at")

    await sleep_until(time_env, closes, SECOND)  # past the moment, then the close
    [sent] = await reminders(open_one, "review_closing")
    assert at_moment(sent, closes - 3 * DAY)
    assert_blind(sent, open_one)
    assert "还有3天" in sent.body
    told = [(m.event, m.recipient_role) for m in await outbox_rows(open_one)]
    assert told[-3] == ("review_closing", "evaluation_body")
    assert set(told[-2:]) == {  # then the close itself (R9)
        ("review_overdue", "evaluation_body"),
        ("review_overdue", "supervisor"),
    }
    assert await reminders(decided, "review_closing") == []
    await act(open_one, "accept_materials", "evaluation_body")


async def test_the_holder_is_reminded_before_submission_closes(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """In the employer's hands (employer review, publicity, recommendation) the employer; at
    the competent unit the unit; with the evaluation body already: nobody."""
    at_employer = await start(time_env, time_worker)
    await act(at_employer, "submit", "applicant")
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC, competent_unit="某主管局")
    at_unit = await start(
        time_env,
        time_worker,
        applicant=sample_declaration_input().applicant.model_copy(update={"employer": employer}),
    )
    reached = await start(time_env, time_worker)
    await all_through_publicity(time_env, at_unit, reached)
    closes = await deadline_of(at_employer, "submission_closes_at")

    await sleep_until(time_env, closes - 3 * DAY, SECOND)
    [to_employer] = await reminders(at_employer, "submission_closing")
    assert at_moment(to_employer, closes - 3 * DAY)
    assert (to_employer.recipient_role, to_employer.recipient_name) == (
        "employer",
        "新疆示例硅业有限公司",
    )
    assert "「用人单位审核」" in to_employer.body and "张三" in to_employer.body
    [to_unit] = await reminders(at_unit, "submission_closing")
    assert (to_unit.recipient_role, to_unit.recipient_name) == ("competent_unit", "某主管局")
    assert at_moment(to_unit, closes - 3 * DAY) and "「主管单位审核」" in to_unit.body
    assert await reminders(reached, "submission_closing") == []

    await sleep_until(time_env, closes, SECOND)
    assert (await outcome(time_env, at_employer)).stage is Stage.not_submitted
    assert len(await reminders(at_employer, "submission_closing")) == 1  # once
    assert (await outcome(time_env, at_unit)).stage is Stage.not_submitted  # R10 as before
