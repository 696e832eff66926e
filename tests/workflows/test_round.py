"""The Round workflow on the time-skipping test server: a round with declarations of every
level walks its windows, is extended mid-round, averages the defenses for a village-stationed
applicant (R19), holds a committee session without quorum and one with it (R20), publicizes
the batch's results, and a spot check revokes a title into the integrity archive (R22, R8).

The test server has no visibility queries, so these rounds list their declarations from the
record database (`ListingSource.record`); tests/integration/test_schedule.py covers the
visibility listing on the dev server. Each round here gets a year of its own (dates around
the test server's clock, calendar data brought along), so the shared record database holds
only its declarations for that year."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.declarations import integrity_block, start_declaration_in_round, with_integrity_block
from client.rounds import round_state as query_round_state
from client.rounds import running_round_config, start_round, wait_for_operation
from documents.publication import publication_dir
from models.calendar import YearCalendar
from models.common import Level, Stage
from models.declaration import Achievement, AchievementKind, EligibilityFacts
from models.round import (
    Committee,
    CommitteeMember,
    ListingSource,
    OperationStatus,
    RoundInput,
    RoundState,
)
from rules.calendar_source import build_calendar
from rules.eligibility import check_eligibility
from rules.reminders import next_digest
from rules.spot_check import draw_sample, integrity_blocked_until
from rules.timezone import shanghai_date, shanghai_iso
from store.db import get_engine
from store.tables import DeclarationRow, IntegrityArchiveEntry, OutboxMessage, RoundEvent
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    arrange_defense,
    keep_history,
    outcome,
    round_around,
    sleep_until,
    start,
    state,
    through_publicity,
    to_publicity,
)
from tests.helpers.samples import SAMPLE_MOBILE, sample_declaration_input
from tests.helpers.signing import TEST_SIGNER, signed

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAY = timedelta(days=1)
YEARS = itertools.count(2091)  # one year per round of this module
COMMITTEE = Committee(
    members=[CommitteeMember(id=f"expert-{n}", name=f"专家{n}") for n in range(1, 10)]
)


def actor(role: str, name: str | None = None) -> dict[str, str]:
    return {"role": role, "id": name or f"{role}-1"}


async def round_for(env: WorkflowEnvironment, **fields: Any) -> RoundInput:
    now = await env.get_current_time()
    year = next(YEARS)
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    config = round_around(now, year=year, calendar=build_calendar(years, years))
    values: dict[str, Any] = {
        "config": config,
        "committee": COMMITTEE,
        "listing": ListingSource.record,
        "page_size": 2,  # several pages even for a handful of declarations
    }
    return RoundInput(**(values | fields))


async def round_update(env: WorkflowEnvironment, year: int, update: str, **fields: Any) -> Any:
    handle = env.client.get_workflow_handle(f"round-{year}")
    return await handle.execute_update(update, await signed(handle, update, fields))


async def round_refused(env: WorkflowEnvironment, year: int, update: str, **fields: Any) -> str:
    """An update the round's validator refuses: its message."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await round_update(env, year, update, **fields)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause.message


async def finished(env: WorkflowEnvironment, year: int, accepted: dict[str, Any]):
    return await wait_for_operation(
        env.client, year, accepted["operation_id"], timeout=timedelta(seconds=60)
    )


async def projected(year: int, count: int) -> None:
    """Wait until the record's projection holds `count` declarations of the round (a
    declaration's first transition is recorded just after it starts)."""
    for _ in range(200):
        async with get_engine().connect() as conn:
            rows = (
                await conn.execute(select(func.count()).where(DeclarationRow.round_year == year))
            ).scalar_one()
        if rows >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"round {year}: {rows} of {count} declarations projected")


async def round_state(env: WorkflowEnvironment, year: int) -> RoundState:
    return await query_round_state(env.client, year)


async def test_round_refuses_an_unknown_calendar_year(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    round_input = await round_for(time_env)
    calendar = round_input.config.calendar.model_copy(
        update={
            "years": {
                y: c for y, c in round_input.config.calendar.years.items() if y != round_input.year
            }
        }
    )
    unknown = round_input.model_copy(
        update={"config": round_input.config.model_copy(update={"calendar": calendar})}
    )
    # The starter's check, before anything starts:
    with pytest.raises(ValueError, match=f"calendar for {unknown.year} is not loaded"):
        await start_round(time_env.client, unknown, time_worker.task_queue)
    # The workflow's own check, for a client that skips it:
    handle = await time_env.client.start_workflow(
        "Round", unknown, id=f"round-{unknown.year}", task_queue=time_worker.task_queue
    )
    with pytest.raises(WorkflowFailureError) as info, time_env.auto_time_skipping_disabled():
        await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "CalendarUnknown"
    assert f"calendar for {unknown.year} is not loaded" in cause.message
    assert "config/calendar_overrides.json" in cause.message


async def test_a_round_walks_the_year(time_env: WorkflowEnvironment, time_worker: Worker):
    env, client = time_env, time_env.client
    round_input = await round_for(env, continue_as_new_after_events=150)
    config, year = round_input.config, round_input.year
    await start_round(client, round_input, time_worker.task_queue)
    current = await round_state(env, year)
    assert current.plan["submission_closes_at"] == shanghai_iso(config.submission_closes_at)
    assert current.refused is None and current.config.year == year

    # Declarations of every level; one village-stationed (R19); one left in draft.
    junior = await start(
        env,
        time_worker,
        config,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    intermediate = await start(env, time_worker, config, level=Level.intermediate)
    senior = await start(
        env,
        time_worker,
        config,
        level=Level.associate_senior,
        eligibility=EligibilityFacts(
            continuing_education_completed=True,
            current_level=Level.intermediate,
            years_at_current_level=6,
        ),
        achievements=[
            Achievement(kind=AchievementKind.patent, title="硅片切割工艺改进"),
            Achievement(kind=AchievementKind.standard, title="多晶硅企业标准"),
        ],
    )
    village = await start(
        env,
        time_worker,
        config,
        level=Level.intermediate,
        eligibility=EligibilityFacts(
            village_stationed_months_this_year=8,
            current_level=Level.junior,
            years_at_current_level=5,
        ),
    )
    idle = await start(
        env,
        time_worker,
        config,
        level=Level.junior,
        eligibility=EligibilityFacts(continuing_education_completed=True),
    )
    walking = [junior, intermediate, senior, village]
    await projected(year, 5)  # the round lists from the record's projection

    # R9: an extension announced mid-round reaches every open declaration; timers follow.
    new_close = config.submission_closes_at + timedelta(days=3)
    accepted = await round_update(
        env,
        year,
        "change_windows",
        actor=actor("supervisor"),
        reason="延长网上申报时间3天",
        submission_closes_at=new_close.isoformat(),
        review_opens_at=new_close.isoformat(),
    )
    operation = await finished(env, year, accepted)
    assert operation.status is OperationStatus.done, operation
    assert (operation.done, operation.skipped, operation.failed) == (5, 0, 0), operation
    assert operation.pages == 3
    for handle in (*walking, idle):
        deadlines = (await state(handle)).deadlines
        assert datetime.fromisoformat(deadlines["submission_closes_at"]) == new_close
        assert datetime.fromisoformat(deadlines["review_opens_at"]) == new_close
    current = await round_state(env, year)
    assert current.config.submission_closes_at == new_close
    assert current.plan["submission_closes_at"] == shanghai_iso(new_close)
    # a refused change names why, and changes nothing
    message = await round_refused(
        env,
        year,
        "change_windows",
        actor=actor("employer"),
        reason="x",
        submission_closes_at=new_close.isoformat(),
    )
    assert message == "this round action is for supervisor, not employer"

    ends = [(await to_publicity(handle)).deadlines["publicity_ends_at"] for handle in walking]
    await sleep_until(env, max(datetime.fromisoformat(end) for end in ends), SECOND)
    for handle in walking:
        await act(handle, "recommend", "employer", **RECOMMENDATION)
    # Past the old close the idle draft is still open; at the new close it ends (R10).
    await sleep_until(env, config.submission_closes_at, timedelta(hours=1))
    assert (await state(idle)).stage is Stage.draft
    await sleep_until(env, new_close, SECOND)
    ended = await outcome(env, idle)
    assert ended.stage is Stage.not_submitted
    assert ended.timeline[-1].at - new_close < SECOND

    # Review, payment, defense: on-site scores 80 and 91; the village-stationed one waits.
    for handle in walking:
        await act(handle, "accept_materials", "evaluation_body")
        await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
    starts = [
        await arrange_defense(env, handle, timedelta(hours=2)) for handle in (intermediate, senior)
    ]
    await sleep_until(env, max(starts), SECOND)  # scored once the defense has begun (R18)
    for handle, score in ((intermediate, 80), (senior, 91)):
        await act(handle, "record_defense_score", "evaluation_body", score=score)
    assert (await state(village)).stage is Stage.defense

    # R19: the round averages the on-site scores and supplies them.
    accepted = await round_update(
        env, year, "supply_defense_averages", actor=actor("evaluation_body")
    )
    operation = await finished(env, year, accepted)
    assert operation.status is OperationStatus.done, operation
    assert operation.result["average"] == 85.5 and operation.result["on_site_defenses"] == 2
    assert operation.outcomes == {"committee": 1}
    village_state = await state(village)
    assert (village_state.stage, village_state.defense_score) == (Stage.committee, 85.5)
    assert village_state.timeline[-1].actor.id == f"round-{year}"

    # R20: 5 of 9 is not a meeting; its votes are refused. 7 of 9 is.
    session = await round_update(
        env,
        year,
        "open_session",
        actor=actor("committee", "secretary-1"),
        session_id="S1",
        attending=[f"expert-{n}" for n in range(1, 6)],
    )
    assert (session["valid"], session["required_attendance"]) == (False, 6)
    votes = [
        {"workflow_id": junior.id, "yes_votes": 7},
        {"workflow_id": intermediate.id, "yes_votes": 5},
        {"workflow_id": senior.id, "yes_votes": 4},  # 4 < ceil(7 × 2/3) = 5: not passed
        {"workflow_id": village.id, "yes_votes": 6},
    ]
    message = await round_refused(
        env, year, "committee_votes", actor=actor("committee"), session_id="S1", votes=votes
    )
    assert message == ("session S1 is not a valid meeting (R20): 5 of 9 members attended, 6 needed")
    session = await round_update(
        env,
        year,
        "open_session",
        actor=actor("committee", "secretary-1"),
        session_id="S2",
        attending=[f"expert-{n}" for n in range(1, 8)],
    )
    assert session["valid"] is True
    accepted = await round_update(
        env, year, "committee_votes", actor=actor("committee"), session_id="S2", votes=votes
    )
    operation = await finished(env, year, accepted)
    assert operation.outcomes == {"result_publicity": 3, "not_passed": 1}, operation
    assert (await state(senior)).stage is Stage.not_passed

    # Result publicity for the batch: 5 working days, then approved; the round marks it ended.
    current = await round_state(env, year)
    [batch] = current.progress.batches
    assert (batch.session_id, batch.passed, batch.not_passed, batch.ended) == ("S2", 3, 1, False)
    assert batch.ends_at is not None
    # The batch's result-publicity list is published: the 3 passed, not the one who failed.
    assert batch.document and batch.document.endswith(".pdf")
    [published] = list(publication_dir().rglob(batch.document))
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(published).pages)
    assert "职称评审结果公示" in text and "3名同志通过评审" in text, text
    message = await round_refused(env, year, "draw_spot_check", actor=actor("supervisor"))
    assert message.startswith("no result publicity has ended yet")
    await sleep_until(env, batch.ends_at, timedelta(minutes=5))
    for handle in (junior, intermediate, village):
        assert (await outcome(env, handle)).stage is Stage.approved
    current = await round_state(env, year)
    assert current.progress.batches[0].ended

    # R22: a reproducible sample of the approved declarations.
    accepted = await round_update(
        env,
        year,
        "draw_spot_check",
        actor=actor("supervisor"),
        ratio={"numerator": 2, "denominator": 3},
    )
    operation = await finished(env, year, accepted)
    current = await round_state(env, year)
    [check] = current.progress.spot_checks
    population = sorted(h.id for h in (junior, intermediate, village))
    assert check.population == 3 and len(check.sample) == 2
    assert check.sample == draw_sample(population, 2, check.seed)
    assert operation.result["seed"] == check.seed

    # Fraud found: the title is revoked and the integrity archive written (R8).
    fraudulent = check.sample[0]
    finding = await round_update(
        env,
        year,
        "record_spot_check_result",
        actor=actor("supervisor"),
        check_id=check.check_id,
        workflow_id=fraudulent,
        fraud=True,
        finding="业绩材料系伪造",
    )
    assert finding["in_sample"] is True
    operation = await wait_for_operation(
        client, year, finding["revocation_operation"], timeout=timedelta(seconds=60)
    )
    assert operation.status is OperationStatus.done, operation
    revoked_on = shanghai_date(operation.requested_at)
    blocked_until = integrity_blocked_until(revoked_on, 3)
    assert operation.result["blocked_until"] == blocked_until.isoformat()
    async with get_engine().connect() as conn:
        row = (
            await conn.execute(
                select(DeclarationRow).where(DeclarationRow.workflow_id == fraudulent)
            )
        ).one()
        archive = (
            await conn.execute(
                select(IntegrityArchiveEntry).where(IntegrityArchiveEntry.workflow_id == fraudulent)
            )
        ).one()
        events = list(
            (
                await conn.execute(select(RoundEvent.action).where(RoundEvent.round_year == year))
            ).scalars()
        )
        notices = (
            await conn.execute(
                select(OutboxMessage).where(
                    OutboxMessage.workflow_id == fraudulent, OutboxMessage.event == "revoked"
                )
            )
        ).all()
    assert row.stage == "revoked" and archive.blocked_until == blocked_until
    # The applicant is told, at the address their earlier messages went to, with the R8 term.
    assert [n.recipient_role for n in notices] == ["applicant"]
    assert notices[0].mobile == "+86" + SAMPLE_MOBILE  # E.164, as stored
    assert "业绩材料系伪造" in notices[0].body and blocked_until.isoformat() in notices[0].body
    assert {
        "change_windows",
        "open_session",
        "spot_check_finding",
        "revoke_done",
        "material_requirements_published",  # attachment 1, at the round's start (R23)
        "result_list_published",
    } <= set(events)
    [requirements] = list(publication_dir().rglob(f"material_requirements-round-{year}.pdf"))
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(requirements).pages)
    assert f"{year}年度" in text, text

    # R8: the archive blocks a higher-title declaration of the same person for 3 years.
    until = await integrity_block(archive.applicant_key, revoked_on)
    assert until == blocked_until
    next_year = sample_declaration_input(applicant_key=archive.applicant_key)
    refusals = check_eligibility(with_integrity_block(next_year, until), revoked_on)
    assert [r.rule for r in refusals] == ["R8"]
    day_after = blocked_until + timedelta(days=1)
    assert await integrity_block(archive.applicant_key, day_after) is None

    # Statistics per stage, level and jurisdiction, and a round that continued as new.
    await round_update(env, year, "refresh_statistics", actor=actor("supervisor"))
    current = await round_state(env, year)
    for _ in range(50):
        statistics = current.progress.statistics
        if statistics and statistics.by_stage.get("revoked"):
            break
        current = await round_state(env, year)
    assert statistics is not None
    assert statistics.total == 5
    assert statistics.by_level == {"associate_senior": 1, "intermediate": 2, "junior": 2}
    assert statistics.by_stage == {
        "approved": 2,
        "not_passed": 1,
        "not_submitted": 1,
        "revoked": 1,
    }
    assert statistics.by_jurisdiction == {"ftz_urumqi": 5}
    assert current.progress.runs > 1  # continued as new, carrying everything
    assert [s.session_id for s in current.progress.sessions] == ["S1", "S2"]

    closing = await round_update(env, year, "close", actor=actor("supervisor"))
    assert closing["progress"]["closing"] is True
    round_handle = client.get_workflow_handle(f"round-{year}")
    with env.auto_time_skipping_disabled():
        result = await round_handle.result()
    assert result["revocations"][0]["workflow_id"] == fraudulent
    await keep_history(round_handle, "round_last_run_closed")  # its newest run, for test_replay


async def test_a_declaration_started_during_a_window_change_gets_it(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """R9: the windows read just before a change was announced are not the ones the new
    declaration keeps: start_declaration_in_round applies the difference."""
    round_input = await round_for(time_env)
    config, year = round_input.config, round_input.config.year
    await start_round(time_env.client, round_input, time_worker.task_queue)
    stale = await running_round_config(time_env.client, year)
    assert stale is not None
    new_close = config.submission_closes_at + timedelta(days=2)
    accepted = await round_update(
        time_env,
        year,
        "change_windows",
        actor=actor("supervisor"),
        reason="延长网上申报时间2天",
        submission_closes_at=new_close.isoformat(),
        review_opens_at=new_close.isoformat(),
    )
    await finished(time_env, year, accepted)  # nothing to list yet: the new one is not there
    declaration = sample_declaration_input(round=stale, applicant_key=uuid.uuid4().hex[:16])
    handle = await start_declaration_in_round(
        time_env.client, declaration, time_worker.task_queue, signer=TEST_SIGNER
    )
    current = await state(handle)
    assert datetime.fromisoformat(current.deadlines["submission_closes_at"]) == new_close
    assert [entry.action for entry in current.timeline][-1] == "change_windows"


async def test_the_evaluation_body_gets_a_daily_digest_of_what_reached_it(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    """Each morning at 09:00 the round counts the declarations that reached the evaluation
    body the day before (blind: counts only) into one message; none on a day nothing came."""
    round_input = await round_for(time_env)
    config, year = round_input.config, round_input.config.year
    await start_round(time_env.client, round_input, time_worker.task_queue)
    handle = await start(time_env, time_worker, config)
    await through_publicity(time_env, handle)  # reaches the evaluation body
    arrived = (await state(handle)).timeline[-1].at
    morning = next_digest(arrived, config.submission_opens_at, config.review_closes_at)
    assert morning is not None and shanghai_iso(morning).endswith("T09:00:00+08:00")

    await sleep_until(time_env, morning + DAY, SECOND)  # that morning, and the next one

    async def digests() -> list[Any]:
        async with get_engine().connect() as conn:
            query = select(OutboxMessage).where(
                OutboxMessage.workflow_id == f"round-{year}",
                OutboxMessage.event == "evaluation_digest",
            )
            return list((await conn.execute(query)).all())

    for _ in range(200):  # the activity runs in real time once the timer fired
        if await digests():
            break
        await asyncio.sleep(0.05)
    [digest] = await digests()  # the morning after: nothing arrived, nothing sent
    assert digest.created_at == morning and digest.recipient_role == "evaluation_body"
    assert "新报送1份，待审核1份" in digest.subject
    assert "张三" not in digest.body and handle.id not in digest.body
    round_handle = time_env.client.get_workflow_handle(f"round-{year}")
    await round_handle.terminate("test over")
    await keep_history(round_handle, "documents_round_daily_digest")
