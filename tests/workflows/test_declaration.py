"""The Declaration workflow on the time-skipping test server: every path of R9–R20."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import start_declaration
from models.calendar import YearCalendar
from models.common import Level, Stage
from models.declaration import EligibilityFacts, Employer, EmploymentStatus, Material
from rules.publicity import publicity_ends_at
from rules.round_plan import latest_publicity_start
from rules.timezone import SHANGHAI, shanghai_date, start_of_day
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    UPDATE_EVENTS,
    act,
    arrange_defense,
    keep_history,
    no_trace_left,
    outcome,
    round_around,
    settled_event_types,
    sleep_until,
    start,
    state,
    through_publicity,
    to_evaluation_review,
    to_publicity,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_USCC, sample_declaration_input

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECOND = timedelta(seconds=1)


def on_time(happened: datetime, deadline: datetime) -> bool:
    """A durable timer fires at its deadline, never before, late only by processing time."""
    return timedelta(0) <= happened - deadline < SECOND


async def refused(handle, action: str, role: str, **fields) -> str:
    """Send an action that must be refused by its validator; return the refusal message."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await act(handle, action, role, **fields)
    return str(info.value.cause)


async def to_payment(env, handle) -> None:
    await to_evaluation_review(env, handle)
    await act(handle, "accept_materials", "evaluation_body")


async def to_committee(env, handle, level: Level) -> None:
    await to_payment(env, handle)
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
    if level is not Level.junior:
        starts = await arrange_defense(env, handle, timedelta(hours=2))
        await sleep_until(env, starts, SECOND)  # the score comes after the defense (R18)
        await act(handle, "record_defense_score", "evaluation_body", score=82.5)


async def test_happy_path_intermediate_to_approved(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker, level=Level.intermediate)
    assert (await state(handle)).stage is Stage.draft
    await to_committee(time_env, handle, Level.intermediate)
    current = await state(handle)
    assert current.stage is Stage.committee
    assert current.defense_score == 82.5

    current = await act(
        handle, "committee_vote", "committee", session_id="S1", members=9, attending=7, yes_votes=5
    )
    assert current.stage is Stage.result_publicity
    ends = datetime.fromisoformat(current.deadlines["result_publicity_ends_at"])
    assert ends.utcoffset() == timedelta(hours=8)

    await sleep_until(time_env, ends, SECOND)
    final = await outcome(time_env, handle)
    assert final.stage is Stage.approved
    stages = [entry.to_stage for entry in final.timeline]
    assert stages == [
        Stage.draft,
        Stage.employer_review,
        Stage.publicity,
        Stage.recommendation,
        Stage.evaluation_review,
        Stage.payment,
        Stage.defense,
        Stage.defense,
        Stage.committee,
        Stage.result_publicity,
        Stage.approved,
    ]
    assert final.return_count == 0
    await keep_history(handle, "happy_path_intermediate")


async def test_junior_skips_defense(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(
        time_env,
        time_worker,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    await to_payment(time_env, handle)
    current = await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-2")
    assert current.stage is Stage.committee  # R18: no defense for junior


async def test_return_answered_at_47h_continues_49h_abandons(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)

    current = await act(handle, "return_for_correction", "evaluation_body", reason="学历证书不清晰")
    assert (current.stage, current.return_count) == (Stage.correction, 1)
    deadline = datetime.fromisoformat(current.deadlines["correction_deadline"])
    returned_at = current.timeline[-1].at
    assert deadline - returned_at == timedelta(hours=48)

    await time_env.sleep(timedelta(hours=47))
    current = await act(handle, "resubmit", "applicant")
    assert current.stage is Stage.evaluation_review

    current = await act(handle, "return_for_correction", "evaluation_body", reason="业绩证明缺页")
    assert current.return_count == 2
    await time_env.sleep(timedelta(hours=49))
    final = await outcome(time_env, handle)
    assert final.stage is Stage.abandoned
    deadline = datetime.fromisoformat(final.deadlines["correction_deadline"])
    assert on_time(final.timeline[-1].at, deadline)
    await keep_history(handle, "correction_path_abandoned")


async def test_fourth_return_locks(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    for n in range(1, 4):
        current = await act(
            handle, "return_for_correction", "evaluation_body", reason=f"第{n}次退回"
        )
        assert (current.stage, current.return_count) == (Stage.correction, n)
        await act(handle, "resubmit", "applicant")
    current = await act(handle, "return_for_correction", "evaluation_body", reason="第4次退回")
    assert (current.stage, current.return_count) == (Stage.locked, 4)
    assert (await outcome(time_env, handle)).stage is Stage.locked
    await keep_history(handle, "fourth_return_locked")


async def test_publicity_leaves_at_the_r13_moment(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """The workflow's publicity end is the R13 count over the round's own calendar data: the
    next two weekdays are holidays and the next Saturday a make-up workday, so the end falls
    one working day later than a Monday–Friday count would put it."""
    now = await time_env.get_current_time()
    today = shanghai_date(now)
    next_seven_days = [today + timedelta(days=n) for n in range(1, 8)]
    holidays = [d for d in next_seven_days if d.weekday() < 5][:2]
    saturday = next(d for d in next_seven_days if d.weekday() == 5)
    overrides = {
        year: YearCalendar(
            holidays=[d for d in holidays if d.year == year],
            workdays=[d for d in (saturday,) if d.year == year],
        )
        for year in (now.year, now.year + 1)
    }
    round_config = round_around(
        now,
        overrides,
        submission_closes_at=now + timedelta(days=20),
        review_opens_at=now + timedelta(days=20),
    )
    handle = await start(time_env, time_worker, round_config)
    current = await to_publicity(handle)

    started = current.timeline[-1].at
    expected = publicity_ends_at(round_config.calendar, started, 5)
    assert datetime.fromisoformat(current.deadlines["publicity_ends_at"]) == expected
    plain = round_around(now)  # same dates, Monday–Friday only
    assert publicity_ends_at(plain.calendar, started, 5) < expected
    assert expected == start_of_day(expected.date())  # ends at 24:00 of a working day

    await sleep_until(time_env, expected - SECOND)
    assert (await state(handle)).stage is Stage.publicity
    await sleep_until(time_env, expected, SECOND)
    current = await state(handle)
    assert current.stage is Stage.recommendation
    assert current.timeline[-1].action == "publicity_ended"
    assert on_time(current.timeline[-1].at, expected)


async def test_refused_actions_leave_no_history(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(time_env, time_worker)
    before = await settled_event_types(handle)

    message = await refused(handle, "start_publicity", "applicant")
    assert "start_publicity is not allowed in stage draft" in message
    message = await refused(handle, "submit", "employer")
    assert "submit in stage draft is for applicant, not employer" in message
    message = await refused(handle, "accept_materials", "evaluation_body")
    assert "not allowed in stage draft" in message

    after = await settled_event_types(handle)
    assert no_trace_left(before, after)
    assert not UPDATE_EVENTS & set(after)  # no update was ever accepted
    assert (await state(handle)).stage is Stage.draft


async def test_vote_without_quorum_is_refused(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(
        time_env,
        time_worker,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    await to_committee(time_env, handle, Level.junior)
    before = await settled_event_types(handle)
    message = await refused(
        handle, "committee_vote", "committee", session_id="S0", members=9, attending=2, yes_votes=2
    )
    assert "not a valid meeting" in message and "2 of 9" in message
    assert no_trace_left(before, await settled_event_types(handle))
    current = await act(
        handle, "committee_vote", "committee", session_id="S1", members=9, attending=6, yes_votes=3
    )
    assert current.stage is Stage.not_passed  # 3 < ceil(6 × 2/3) = 4
    assert current.committee_result is not None and current.committee_result["required_yes"] == 4


async def test_unmasked_material_and_closed_window_refuse_submission(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    now = await time_env.get_current_time()
    handle = await start(
        time_env,
        time_worker,
        round_around(now, submission_opens_at=now + timedelta(days=1)),
        materials=[Material(name="业绩证明.pdf", sha256="1" * 64, masked=False)],
    )
    message = await refused(handle, "submit", "applicant")
    assert "outside the submission window" in message and "+08:00" in message
    await time_env.sleep(timedelta(days=1, seconds=1))
    message = await refused(handle, "submit", "applicant")
    assert "not masked" in message and "业绩证明.pdf" in message  # R11
    masked = [{"name": "业绩证明.pdf", "sha256": "1" * 64, "masked": True}]
    assert (
        await act(handle, "submit", "applicant", materials=masked)
    ).stage is Stage.employer_review


async def test_not_submitted_at_submission_close(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await act(handle, "submit", "applicant")
    current = await act(handle, "employer_return", "employer", reason="请补充继续教育证明")
    assert (current.stage, current.employer_return_count, current.return_count) == (
        Stage.draft,
        1,
        0,
    )  # R12 returns do not count toward R15
    closes = datetime.fromisoformat(current.deadlines["submission_closes_at"])
    await sleep_until(time_env, closes, SECOND)
    final = await outcome(time_env, handle)
    assert final.stage is Stage.not_submitted
    assert on_time(final.timeline[-1].at, closes)


async def test_ineligible_at_start(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(
        time_env,
        time_worker,
        eligibility=EligibilityFacts(
            employment_status=EmploymentStatus.retired,
            continuing_education_completed=True,
            current_level=Level.junior,
            years_at_current_level=5,
        ),
    )
    final = await outcome(time_env, handle)
    assert final.stage is Stage.ineligible
    assert final.ending_reason is not None and "R2" in final.ending_reason


async def test_withdraw_before_decision(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(time_env, time_worker)
    await to_publicity(handle)
    assert (await act(handle, "withdraw", "applicant", note="个人原因")).stage is Stage.withdrawn
    assert (await outcome(time_env, handle)).stage is Stage.withdrawn


async def test_a_publicity_that_cannot_end_in_time_is_refused_at_its_start(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """R10, R13: with submission closing in 3 days no 5-working-day publicity can end a day
    before it, so starting one is refused at once with the latest start day, not discovered
    when the declaration would end not_submitted."""
    now = await time_env.get_current_time()
    closes = start_of_day(shanghai_date(now) + timedelta(days=3))
    round_config = round_around(now, submission_closes_at=closes, review_opens_at=closes)
    handle = await start(time_env, time_worker, round_config)
    await act(handle, "submit", "applicant")
    message = await refused(handle, "start_publicity", "employer")
    latest = latest_publicity_start(round_config).isoformat()
    assert f"the latest start was {latest}" in message
    assert (await state(handle)).stage is Stage.employer_review  # nothing happened


async def test_upheld_objection_in_publicity_rejects(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_publicity(handle)
    current = await act(handle, "raise_objection", "employer", summary="业绩材料与实际不符")
    assert current.objections[0].upheld is None
    message = await refused(
        handle, "resolve_objection", "employer", objection_id=2, upheld=True, resolution="x"
    )
    assert "objection 2 is not open" in message
    current = await act(
        handle,
        "resolve_objection",
        "employer",
        objection_id=1,
        upheld=True,
        resolution="经核实属实",
    )
    assert current.stage is Stage.rejected


async def test_open_objection_blocks_recommendation_then_result_objection(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(
        time_env,
        time_worker,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    current = await to_publicity(handle)
    await act(handle, "raise_objection", "employer", summary="匿名反映")
    await sleep_until(
        time_env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND
    )
    assert (await state(handle)).stage is Stage.recommendation
    message = await refused(
        handle,
        "recommend",
        "employer",
        opinion="本单位已对提供的申报材料逐一审核，真实准确，同意推荐",
        publicity_original_ref="a",
        publicity_result_ref="b",
    )
    assert "objections still open: 1" in message
    await act(
        handle, "resolve_objection", "employer", objection_id=1, upheld=False, resolution="不属实"
    )
    message = await refused(
        handle,
        "recommend",
        "employer",
        opinion="同意推荐",
        publicity_original_ref="a",
        publicity_result_ref="b",
    )
    assert "must read exactly" in message  # R14


async def test_result_objection_holds_approval_until_resolved(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(
        time_env,
        time_worker,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    await to_committee(time_env, handle, Level.junior)
    current = await act(
        handle, "committee_vote", "committee", session_id="S1", members=9, attending=9, yes_votes=9
    )
    await act(handle, "raise_objection", "supervisor", summary="对评审结果有异议")
    ends = datetime.fromisoformat(current.deadlines["result_publicity_ends_at"])
    await sleep_until(time_env, ends, timedelta(days=1))
    assert (await state(handle)).stage is Stage.result_publicity  # waits for the resolution
    await act(
        handle,
        "resolve_objection",
        "supervisor",
        objection_id=1,
        upheld=False,
        resolution="异议不成立",
    )
    assert (await outcome(time_env, handle)).stage is Stage.approved
    await keep_history(handle, "result_objection_then_approved")


async def test_village_stationed_takes_the_average(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(
        time_env,
        time_worker,
        level=Level.intermediate,
        eligibility=EligibilityFacts(
            village_stationed_months_this_year=8,  # R4: exempt from continuing education
            current_level=Level.junior,
            years_at_current_level=5,
        ),
    )
    await to_payment(time_env, handle)
    current = await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-3")
    assert current.stage is Stage.defense and current.defense_exempt
    message = await refused(handle, "record_defense_score", "evaluation_body", score=90)
    assert "exempt" in message
    current = await act(handle, "supply_defense_average", "system", score=78.25)
    assert (current.stage, current.defense_score) == (Stage.committee, 78.25)


async def test_no_defense_score_before_the_defense_starts(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """R18: the score of a defense arranged for later is refused until it starts (the
    validator: no trace in the history); from its start it is recorded."""
    handle = await start(time_env, time_worker, level=Level.intermediate)
    await to_payment(time_env, handle)
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-4")
    starts = await arrange_defense(time_env, handle, timedelta(hours=3))
    before = await settled_event_types(handle)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await act(handle, "record_defense_score", "evaluation_body", score=88)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "OutsideWindow", cause
    assert cause.details[0] == {
        "problem": "defense_not_started",
        "starts_at": starts.astimezone(SHANGHAI).isoformat(),
    }
    assert no_trace_left(before, await settled_event_types(handle))
    assert (await state(handle)).stage is Stage.defense
    await sleep_until(time_env, starts, SECOND)
    current = await act(handle, "record_defense_score", "evaluation_body", score=88)
    assert (current.stage, current.defense_score) == (Stage.committee, 88)


async def test_unpaid_after_payment_deadline(time_env: WorkflowEnvironment, time_worker: Worker):
    handle = await start(time_env, time_worker)
    await to_payment(time_env, handle)
    due = datetime.fromisoformat((await state(handle)).deadlines["payment_due_at"])
    await sleep_until(time_env, due, SECOND)
    assert (await outcome(time_env, handle)).stage is Stage.unpaid


async def test_review_overdue_is_flagged_not_held_against_applicant(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    closes = datetime.fromisoformat((await state(handle)).deadlines["review_closes_at"])
    await sleep_until(time_env, closes, timedelta(days=2))
    current = await state(handle)
    assert (current.stage, current.review_overdue) == (Stage.evaluation_review, True)
    current = await act(handle, "accept_materials", "evaluation_body")
    assert current.stage is Stage.payment
    due = datetime.fromisoformat(current.deadlines["payment_due_at"])
    assert due - current.timeline[-1].at >= timedelta(days=7)  # grace after a late review


async def test_competent_unit_path(time_env: WorkflowEnvironment, time_worker: Worker):
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC, competent_unit="某主管局")
    applicant = sample_declaration_input().applicant.model_copy(update={"employer": employer})
    handle = await start(time_env, time_worker, applicant=applicant)
    await through_publicity(time_env, handle)
    current = await state(handle)
    assert current.stage is Stage.competent_unit_review
    current = await act(handle, "competent_unit_return", "competent_unit", reason="补充公示结果")
    assert current.stage is Stage.recommendation
    current = await act(handle, "recommend", "employer", **RECOMMENDATION)
    assert current.stage is Stage.competent_unit_review
    message = await refused(handle, "competent_unit_recommend", "employer", opinion="同意")
    assert "is for competent_unit, not employer" in message
    current = await act(handle, "competent_unit_recommend", "competent_unit", opinion="同意推荐")
    assert current.stage is Stage.evaluation_review


async def test_second_declaration_same_applicant_round_refused(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    now = await time_env.get_current_time()
    declaration = sample_declaration_input(
        round=round_around(now), applicant_key="0123456789abcdef"
    )
    handle = await start_declaration(time_env.client, declaration, time_worker.task_queue)
    assert handle.id == f"decl-{now.year}-0123456789abcdef"
    assert SAMPLE_ID_CARD not in handle.id
    await act(handle, "withdraw", "applicant")
    await outcome(time_env, handle)
    with pytest.raises(WorkflowAlreadyStartedError):  # even after the first one ended
        await start_declaration(time_env.client, declaration, time_worker.task_queue)
