"""The CommitteeSession workflow (R20, R27) against fake activities registered under the real
names: the draw from the snapshot and the recorded seed, alternates stepping in, sign-in with
declared conflicts, the quorum before opening, the register handed to the ballot box, the
tallies over each declaration's non-recused attendees, the votes sent to the Round. The real
activities (record database, Round, declarations, meeting record) are in
tests/integration/test_committee_session.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.committee import (
    ARCHIVE_MEETING_RECORD,
    CLOSE_BALLOT_BOX,
    NOTIFY_EXPERTS,
    OPEN_BALLOT_BOX,
    POOL_SNAPSHOT,
    SEND_SESSION_VOTES,
    BallotRegister,
    BoxCount,
    BoxCounts,
    ConflictReason,
    ExpertNotices,
    MeetingRecordRequest,
    PoolConflict,
    PoolSnapshot,
    PoolSnapshotRequest,
    SeatKind,
    SessionInput,
    SessionState,
    SessionStatus,
    SessionVotes,
    SessionVotesSent,
)
from models.round import Ratio
from rules.committee import draw_seats, pool_digest
from tests.helpers.signing import signed
from worker import workflow_runner
from workflows.committee import CommitteeSessionWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

DECLARATIONS = [f"decl-2026-{i:016x}" for i in range(1, 4)]
POOL = [f"E{i:04d}" for i in range(1, 16)]
# E0001 worked for the first declaration's employer: if drawn, it recuses from it
CONFLICTS = [
    PoolConflict(code="E0001", workflow_id=DECLARATIONS[0], reason=ConflictReason.employer)
]


@dataclass
class Fakes:
    snapshots: list[PoolSnapshotRequest] = field(default_factory=list)
    notices: list[ExpertNotices] = field(default_factory=list)
    registers: list[BallotRegister] = field(default_factory=list)
    ballots: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # declaration -> code -> choice
    sent: list[SessionVotes] = field(default_factory=list)
    records: list[MeetingRecordRequest] = field(default_factory=list)

    @activity.defn(name=POOL_SNAPSHOT)
    async def pool_snapshot(self, request: PoolSnapshotRequest) -> PoolSnapshot:
        self.snapshots.append(request)
        return PoolSnapshot(
            declarations=DECLARATIONS,
            experts=POOL,
            conflicts=CONFLICTS,
            sha256=pool_digest(DECLARATIONS, POOL, CONFLICTS),
        )

    @activity.defn(name=NOTIFY_EXPERTS)
    async def notify_experts(self, notices: ExpertNotices) -> None:
        self.notices.append(notices)

    @activity.defn(name=OPEN_BALLOT_BOX)
    async def open_ballot_box(self, register: BallotRegister) -> None:
        self.registers.append(register)

    @activity.defn(name=CLOSE_BALLOT_BOX)
    async def close_ballot_box(self, session: str) -> BoxCounts:
        voters = self.registers[-1].voters
        counts = []
        for workflow_id, codes in voters.items():
            cast = self.ballots.get(workflow_id, {})
            assert set(cast) <= set(codes), "a ballot from someone not registered"
            choices = list(cast.values())
            counts.append(
                BoxCount(
                    workflow_id=workflow_id,
                    eligible=len(codes),
                    yes=choices.count("yes"),
                    no=choices.count("no"),
                    abstain=choices.count("abstain"),
                )
            )
        return BoxCounts(session=session, counts=counts)

    @activity.defn(name=SEND_SESSION_VOTES)
    async def send_session_votes(self, votes: SessionVotes) -> SessionVotesSent:
        self.sent.append(votes)
        return SessionVotesSent(operation_id=7)

    @activity.defn(name=ARCHIVE_MEETING_RECORD)
    async def archive_meeting_record(self, request: MeetingRecordRequest) -> str:
        self.records.append(request)
        return f"{request.state.workflow_id}-meeting-record.pdf"


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest_asyncio.fixture
async def worker(time_env: WorkflowEnvironment, fakes: Fakes) -> AsyncIterator[Worker]:
    async with Worker(
        time_env.client,
        task_queue=f"committee-{uuid.uuid4().hex[:8]}",
        workflows=[CommitteeSessionWorkflow],
        activities=[
            fakes.pool_snapshot,
            fakes.notify_experts,
            fakes.open_ballot_box,
            fakes.close_ballot_box,
            fakes.send_session_votes,
            fakes.archive_meeting_record,
        ],
        workflow_runner=workflow_runner(),
    ) as worker:
        yield worker


async def _start(
    env: WorkflowEnvironment, worker: Worker, **fields: Any
) -> WorkflowHandle[Any, Any]:
    session_id = f"t{uuid.uuid4().hex[:8]}"
    session = SessionInput(
        year=2026,
        session_id=session_id,
        members=fields.pop("members", 9),
        alternates=fields.pop("alternates", 2),
        minimum_members=fields.pop("minimum_members", 9),
        max_conflict_share=Ratio(numerator=1, denominator=3),
        requested_by={"role": "supervisor", "id": "supervisor-1"},
        **fields,
    )
    return await env.client.start_workflow(
        CommitteeSessionWorkflow.run,
        session,
        id=f"committee-2026-{session_id}",
        task_queue=worker.task_queue,
    )


async def _drawn(handle: WorkflowHandle[Any, Any]) -> SessionState:
    for _ in range(200):
        state = await handle.query("state", result_type=SessionState)
        if state.status is not SessionStatus.drawing:
            return state
    raise AssertionError("the draw did not finish")


async def _act(
    handle: WorkflowHandle[Any, Any], update: str, role: str, actor_id: str, **fields: Any
) -> SessionState:
    payload = {"actor": {"role": role, "id": actor_id}, **fields}
    return await handle.execute_update(
        update, await signed(handle, update, payload), result_type=SessionState
    )


async def _refusal(
    handle: WorkflowHandle[Any, Any], update: str, role: str, actor_id: str, **fields: Any
) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await _act(handle, update, role, actor_id, **fields)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_whole_session_with_a_declined_seat_a_recusal_and_a_quorum(
    time_env: WorkflowEnvironment, worker: Worker, fakes: Fakes
) -> None:
    handle = await _start(time_env, worker)
    state = await _drawn(handle)
    assert state.status is SessionStatus.confirming
    # the draw is the rule's, from the recorded seed over the recorded snapshot
    assert state.seed is not None and state.pool_sha256 == pool_digest(
        DECLARATIONS, POOL, CONFLICTS
    )
    snapshot = PoolSnapshot(
        declarations=DECLARATIONS, experts=POOL, conflicts=CONFLICTS, sha256=state.pool_sha256
    )
    redrawn = draw_seats(snapshot, state.seed, 9, 2, Ratio(numerator=1, denominator=3))
    assert [s.code for s in redrawn.seats] == [s.code for s in state.seats]
    # every drawn expert is told (members and alternates), by code
    assert [n.code for n in fakes.notices[0].notices] == [s.code for s in state.seats]

    members = [s.code for s in state.seats if s.kind is SeatKind.member]
    alternates = [s.code for s in state.seats if s.kind is SeatKind.alternate]
    outsider = next(code for code in POOL if code not in members + alternates)

    # a member declines: the first alternate is seated and told
    state = await _act(handle, "answer_seat", "expert", members[0], accept=False)
    seated = state.seat(alternates[0])
    assert seated is not None and seated.seated and seated.replaces == members[0]
    assert fakes.notices[-1].notices[0].code == alternates[0]
    assert (
        await _refusal(handle, "answer_seat", "expert", outsider, accept=True)
    ).type == "WrongRole"
    assert (await _refusal(handle, "sign_in", "expert", members[0])).type == "Invalid"  # declined
    assert (
        await _refusal(handle, "sign_in", "expert", alternates[1])
    ).type == "Invalid"  # not seated
    assert (await _refusal(handle, "open", "expert", members[1])).type == "WrongRole"

    seated_now = [alternates[0], *members[1:]]  # 9 seats held
    # five sign in: not a valid session yet (R20: 6 of 9 needed)
    for code in seated_now[:5]:
        await _act(handle, "sign_in", "expert", code)
    refused = await _refusal(handle, "open", "committee", "committee-1")
    assert refused.type == "Invalid" and "5 of 9 members signed in, 6 needed" in refused.message
    assert (await _refusal(handle, "sign_in", "expert", seated_now[0])).type == "Invalid"  # twice
    # two more: one declares a conflict with the second declaration
    await _act(handle, "sign_in", "expert", seated_now[5])
    await _act(handle, "sign_in", "expert", seated_now[6], conflicts=[DECLARATIONS[1]])
    unknown = await _refusal(
        handle, "sign_in", "expert", seated_now[7], conflicts=["decl-2026-ffffffffffffffff"]
    )
    assert unknown.type == "Invalid"
    assert (await _refusal(handle, "close", "committee", "committee-1")).type == "WrongStage"

    state = await _act(handle, "open", "committee", "committee-1")
    assert state.status is SessionStatus.open
    voters = fakes.registers[0].voters
    attendees = sorted(seated_now[:7])
    assert voters[DECLARATIONS[1]] == [c for c in attendees if c != seated_now[6]]
    expected_first = [c for c in attendees if c != "E0001"]
    assert voters[DECLARATIONS[0]] == expected_first
    assert voters[DECLARATIONS[2]] == attendees
    assert (
        await _refusal(handle, "sign_in", "expert", seated_now[7])
    ).type == "WrongStage"  # too late

    # the ballots (in the product: the portal writes them to the record database)
    fakes.ballots = {
        DECLARATIONS[1]: dict(
            zip(voters[DECLARATIONS[1]], ["yes"] * 4 + ["no", "abstain"], strict=True)
        ),
        DECLARATIONS[2]: dict(zip(voters[DECLARATIONS[2]], ["yes"] * 4 + ["no"] * 3, strict=True)),
        DECLARATIONS[0]: {c: "yes" for c in voters[DECLARATIONS[0]]},
    }
    await _act(handle, "close", "committee", "committee-1")
    final = await handle.result()
    assert final.status is SessionStatus.closed
    tallies = {t.workflow_id: t for t in final.tallies}
    # 9 seats, 7 signed in, 1 recused: 6 count, 4 yes pass
    second = tallies[DECLARATIONS[1]]
    assert (second.eligible, second.yes, second.required_yes, second.voted, second.passed) == (
        6,
        4,
        4,
        True,
        True,
    )
    third = tallies[DECLARATIONS[2]]
    assert (third.eligible, third.yes, third.required_yes, third.passed) == (7, 4, 5, False)
    sent = fakes.sent[0]
    assert sent.attending == attendees and len(sent.members) == 9
    assert sent.closed_by.role.value == "committee"
    assert final.votes_operation == 7 and final.record_file is not None
    assert fakes.records[0].state.tallies == final.tallies


async def test_a_pool_too_small_fails_the_session_with_the_reason(
    time_env: WorkflowEnvironment, worker: Worker
) -> None:
    handle = await _start(time_env, worker, members=15, alternates=2, minimum_members=11)
    final = await handle.result()
    assert final.status is SessionStatus.failed
    assert final.error is not None and "17 wanted" in final.error


async def test_a_committee_has_an_odd_number_of_members_at_least_the_minimum() -> None:
    base: dict[str, Any] = {
        "year": 2026,
        "session_id": "2026-01",
        "requested_by": {"role": "supervisor", "id": "s"},
    }
    with pytest.raises(ValueError, match="odd number"):
        SessionInput(members=10, minimum_members=9, **base)
    with pytest.raises(ValueError, match="at least 11 members"):
        SessionInput(members=9, **base)
