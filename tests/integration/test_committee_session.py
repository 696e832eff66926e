"""A whole committee session on the time-skipping server with the real activities (R20, R27):
the expert pool in the record database, the draw with an alternate stepping in, sign-in with
a declared conflict, the quorum, secret ballots by 7 experts over 3 declarations through the
ballot box, the close, the tallies sent to the declarations through the Round (result
publicity for the passed, not passed for the others), and the meeting record archived."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.committee import cast_ballot, round_sessions, session_act, session_state, start_session
from client.declarations import start_declaration
from client.rounds import round_state, start_round, wait_for_operation
from models.calendar import YearCalendar
from models.committee import Choice, SeatKind, SessionInput, SessionState, SessionStatus
from models.common import Actor, Level, Role, Stage
from models.declaration import EligibilityFacts
from models.experts import ExpertProfile, Relation
from models.round import ListingSource, RoundInput
from rules.calendar_source import build_calendar
from rules.identity import applicant_key
from settings import Settings
from store.ballots import BallotRefused
from store.db import get_engine
from store.experts import add_expert
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    keep_history,
    round_around,
    sleep_until,
    state,
    to_publicity,
)
from tests.helpers.samples import sample_declaration_input
from tests.helpers.signing import TEST_SIGNER

pytestmark = pytest.mark.asyncio(loop_scope="session")

YEARS = itertools.count(2081)  # one year per round of this module
SUPERVISOR = Actor(role=Role.supervisor, id="supervisor-1")
SECRETARY = {"role": "committee", "id": "secretary-1"}
POOL_EMPLOYER_USCC = "91650100MA77ABCD1P"
ID_CARDS = ["110101199003074514", "11010519491231002X", "110102198001010017"]


async def _round(env: WorkflowEnvironment, worker: Worker) -> RoundInput:
    now = await env.get_current_time()
    year = next(YEARS)
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    config = round_around(now, year=year, calendar=build_calendar(years, years))
    round_input = RoundInput(config=config, listing=ListingSource.record)
    await start_round(env.client, round_input, worker.task_queue)
    return round_input


async def _to_committee(
    env: WorkflowEnvironment, worker: Worker, round_input: RoundInput, secret: str
) -> list[WorkflowHandle[Any, Any]]:
    """A junior declaration per ID card (no defense, R18), walked together to the committee."""
    handles = []
    for id_card in ID_CARDS:
        declaration = sample_declaration_input(
            round=round_input.config,
            applicant_key=applicant_key(id_card, secret),
            level=Level.junior,
            eligibility=EligibilityFacts(continuing_education_completed=True),
        )
        handles.append(await start_declaration(env.client, declaration, worker.task_queue))
    ends = [(await to_publicity(handle)).deadlines["publicity_ends_at"] for handle in handles]
    await sleep_until(env, max(datetime.fromisoformat(end) for end in ends), SECOND)
    for handle in handles:
        await act(handle, "recommend", "employer", **RECOMMENDATION)
    opens = datetime.fromisoformat((await state(handles[0])).deadlines["review_opens_at"])
    await sleep_until(env, opens, SECOND)
    for handle in handles:
        await act(handle, "accept_materials", "evaluation_body")
        current = await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
        assert current.stage is Stage.committee, current.stage
    return handles


async def _pool(secret: str, related_to: str) -> list[str]:
    engine = get_engine()
    codes = []
    for n in range(1, 13):
        profile = ExpertProfile(
            name=f"评审专家{n}",
            employer_uscc=POOL_EMPLOYER_USCC,  # not the applicants' employer
            employer_name="新疆某研究院",
            specialty="pv_silicon",
            title="正高级工程师",
            mobile=f"+86139{n:08d}",
            email=f"expert{n}@example.com",
            relations=[Relation(id_card=related_to, relation="配偶")] if n == 1 else [],
        )
        codes.append(await add_expert(engine, profile, SUPERVISOR, secret))
    return codes


async def _act(
    env: WorkflowEnvironment, session: str, update: str, actor: dict[str, str], **fields: Any
) -> SessionState:
    return await session_act(
        env.client,
        session,
        update,
        {"actor": actor, **fields},
        signer=TEST_SIGNER,
        update_id=f"t-{uuid.uuid4().hex}",
    )


async def _until(handle: WorkflowHandle[Any, Any], *statuses: SessionStatus) -> SessionState:
    for _ in range(400):
        current = await handle.query("state", result_type=SessionState)
        if current.status in statuses:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"session still {current.status}")


async def test_a_whole_session_from_the_pool_to_the_result_publicity(
    time_env: WorkflowEnvironment, time_worker: Worker, session_settings: Settings
) -> None:
    env, secret = time_env, session_settings.applicant_key_secret
    round_input = await _round(env, time_worker)
    year = round_input.year
    declarations = await _to_committee(env, time_worker, round_input, secret)
    ids = [handle.id for handle in declarations]
    pool = await _pool(secret, related_to=ID_CARDS[0])

    handle = await start_session(
        env.client,
        get_engine(),
        SessionInput(
            year=year,
            session_id="01",
            members=9,
            alternates=2,
            minimum_members=9,
            specialty="pv_silicon",
            place="甘泉堡经济技术开发区人力资源服务中心第一会议室",
            listing=ListingSource.record,
            requested_by=SUPERVISOR,
        ),
        time_worker.task_queue,
    )
    drawn = await _until(handle, SessionStatus.confirming, SessionStatus.failed)
    assert drawn.status is SessionStatus.confirming, drawn.error
    assert sorted(drawn.declarations) == sorted(ids)
    assert drawn.pool_size == len(pool)
    [listed] = await round_sessions(env.client, get_engine(), year)
    assert listed.workflow_id == handle.id
    members = [s.code for s in drawn.seats if s.kind is SeatKind.member]
    alternates = [s.code for s in drawn.seats if s.kind is SeatKind.alternate]

    # one member declines; the first alternate is seated
    declined = members[0]
    current = await _act(
        env, handle.id, "answer_seat", {"role": "expert", "id": declined}, accept=False
    )
    seated = [s.code for s in current.members]
    assert alternates[0] in seated and declined not in seated
    for code in seated[:3]:
        await _act(env, handle.id, "answer_seat", {"role": "expert", "id": code}, accept=True)
    # 7 of 9 sign in; the last declares a conflict with the second declaration
    attendees = seated[:7]
    for code in attendees[:-1]:
        await _act(env, handle.id, "sign_in", {"role": "expert", "id": code})
    await _act(
        env, handle.id, "sign_in", {"role": "expert", "id": attendees[-1]}, conflicts=[ids[1]]
    )
    # a ballot before the session opens is refused
    with pytest.raises(BallotRefused):
        await cast_ballot(get_engine(), handle.id, attendees[0], ids[0], Choice.yes)
    opened = await _act(env, handle.id, "open", SECRETARY)
    assert opened.status is SessionStatus.open

    recused = {(r.code, r.workflow_id) for r in opened.recusals}
    related = pool[0]  # declared a relation to the first applicant in the pool
    assert (related, ids[0]) in recused
    assert (attendees[-1], ids[1]) in recused

    # secret ballots: everyone yes on the first and third, the second gets 3 yes of 6
    engine = get_engine()
    for code in attendees:
        for index, workflow_id in enumerate(ids):
            if (code, workflow_id) in recused:
                with pytest.raises(BallotRefused):
                    await cast_ballot(engine, handle.id, code, workflow_id, Choice.yes)
                continue
            choice = Choice.yes
            if index == 1 and attendees.index(code) >= 3:
                choice = Choice.no
            await cast_ballot(engine, handle.id, code, workflow_id, choice)
    with pytest.raises(BallotRefused):  # twice
        await cast_ballot(engine, handle.id, attendees[0], ids[0], Choice.no)
    absent = next(code for code in seated if code not in attendees)
    with pytest.raises(BallotRefused):  # not signed in
        await cast_ballot(engine, handle.id, absent, ids[2], Choice.yes)

    await _act(env, handle.id, "close", SECRETARY)
    final = await handle.result()
    assert final.status is SessionStatus.closed, final.error
    with pytest.raises(BallotRefused):  # no later votes
        await cast_ballot(engine, handle.id, attendees[1], ids[2], Choice.yes)
    tallies = {t.workflow_id: t for t in final.tallies}
    assert tallies[ids[1]].eligible == 6 and tallies[ids[1]].yes == 3
    assert tallies[ids[1]].passed is False
    assert tallies[ids[2]].passed and tallies[ids[2]].yes == 7

    operation = await wait_for_operation(
        env.client, year, final.votes_operation or 0, timeout=timedelta(seconds=60)
    )
    assert operation.outcomes == {"result_publicity": 2, "not_passed": 1}, operation
    assert (await state(declarations[1])).stage is Stage.not_passed
    third = await state(declarations[2])
    assert third.stage is Stage.result_publicity
    round_now = await round_state(env.client, year)
    [recorded] = round_now.progress.sessions
    assert recorded.session_id == "01" and sorted(recorded.attending) == sorted(attendees)

    # the meeting record: archived, with the tallies and who voted, never how
    assert final.record_file is not None
    pdf = session_settings.archive_dir / final.record_file
    text = "".join("".join(page.extract_text().split()) for page in PdfReader(pdf).pages)
    assert "评审会议记录" in text and "评审专家1" in text
    assert "通过" in text and "未通过" in text
    assert (await session_state(env.client, handle.id)).record_file == final.record_file
    await keep_history(handle, "committee_session_closed")
    await keep_history(env.client.get_workflow_handle(f"round-{year}"), "round_drawn_session_votes")
