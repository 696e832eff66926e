"""A whole committee session on the time-skipping server with the real activities (R20, R27):
the expert pool in the record database, the draw with an alternate stepping in, sign-in with
a declared conflict, the quorum, secret ballots by 7 experts over 3 declarations through the
ballot box, the close, the tallies sent to the declarations through the Round (result
publicity for the passed, not passed for the others), and the meeting record archived."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from pypdf import PdfReader
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.committee import cast_ballot, round_sessions, session_state, start_session
from client.rounds import round_state, wait_for_operation
from models.committee import Choice, SeatKind, SessionInput, SessionStatus
from models.common import Stage
from models.round import ListingSource
from settings import Settings
from store.ballots import BallotRefused
from store.db import get_engine
from tests.helpers.committee_support import (
    ID_CARDS,
    SECRETARY,
    SUPERVISOR,
    committee_round,
    expert_pool,
    session_until,
    session_update,
    to_committee,
)
from tests.helpers.declaration_support import keep_history, state

pytestmark = pytest.mark.asyncio(loop_scope="session")

YEARS = itertools.count(2065)  # one year per round of this module (2061–2064: the e2e walk)
SPECIALTY = "pv-session"  # this module's own pool


async def test_a_whole_session_from_the_pool_to_the_result_publicity(
    time_env: WorkflowEnvironment, time_worker: Worker, session_settings: Settings
) -> None:
    env, secret = time_env, session_settings.applicant_key_secret
    round_input = await committee_round(env, time_worker, next(YEARS))
    year = round_input.year
    declarations = await to_committee(env, time_worker, round_input, secret)
    ids = [handle.id for handle in declarations]
    pool = await expert_pool(secret, SPECIALTY, related_to=ID_CARDS[0])

    handle = await start_session(
        env.client,
        get_engine(),
        SessionInput(
            year=year,
            session_id="01",
            members=9,
            alternates=2,
            minimum_members=9,
            specialty=SPECIALTY,
            place="甘泉堡经济技术开发区人力资源服务中心第一会议室",
            listing=ListingSource.record,
            requested_by=SUPERVISOR,
        ),
        time_worker.task_queue,
    )
    drawn = await session_until(handle, SessionStatus.confirming, SessionStatus.failed)
    assert drawn.status is SessionStatus.confirming, drawn.error
    assert sorted(drawn.declarations) == sorted(ids)
    assert drawn.pool_size == len(pool)
    [listed] = await round_sessions(env.client, get_engine(), year)
    assert listed.workflow_id == handle.id
    members = [s.code for s in drawn.seats if s.kind is SeatKind.member]
    alternates = [s.code for s in drawn.seats if s.kind is SeatKind.alternate]

    # one member declines; the first alternate is seated
    declined = members[0]
    current = await session_update(
        env, handle.id, "answer_seat", {"role": "expert", "id": declined}, accept=False
    )
    seated = [s.code for s in current.members]
    assert alternates[0] in seated and declined not in seated
    for code in seated[:3]:
        await session_update(
            env, handle.id, "answer_seat", {"role": "expert", "id": code}, accept=True
        )
    # 7 of 9 sign in; the last declares a conflict with the second declaration
    attendees = seated[:7]
    for code in attendees[:-1]:
        await session_update(env, handle.id, "sign_in", {"role": "expert", "id": code})
    await session_update(
        env, handle.id, "sign_in", {"role": "expert", "id": attendees[-1]}, conflicts=[ids[1]]
    )
    # a ballot before the session opens is refused
    with pytest.raises(BallotRefused):
        await cast_ballot(get_engine(), handle.id, attendees[0], ids[0], Choice.yes)
    opened = await session_update(env, handle.id, "open", SECRETARY)
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

    await session_update(env, handle.id, "close", SECRETARY)
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
    await keep_history(handle, "documents_committee_session_closed")
    await keep_history(
        env.client.get_workflow_handle(f"round-{year}"), "documents_round_drawn_session_votes"
    )
