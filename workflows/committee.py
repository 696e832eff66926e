"""The `CommitteeSession` workflow (`committee-{year}-{session_id}`): one sitting of the
evaluation committee, as 人社部令第40号 runs it (R20, R27).

Shape: the supervisor starts it (client/committee.py); it takes a snapshot of the expert pool
and draws the members and alternates with a seed from `workflow.random()` (recorded, so the
draw can be recomputed from the seed and the snapshot's digest: rules/committee.py); each
drawn expert is told to confirm; a member who declines is replaced by the next alternate in
drawn order. Members sign in (declaring any conflict), the secretary opens the session once
at least 2/3 have signed in, and the ballot box in the record database takes the ballots
(the portal writes them, not this workflow: 2,500 ballots would pass Temporal's update
limits). When the secretary closes it the box is closed and counted, each declaration's
tally is decided over its non-recused attendees, the Round is sent the votes (its
`committee_votes` operation moves the declarations on, R20), and the meeting record is
archived.

The workflow holds pool codes only, never an expert's name or contact."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.committee import (
        BallotRegister,
        BoxCount,
        ConflictReason,
        ExpertNotice,
        ExpertNotices,
        MeetingRecordRequest,
        PoolSnapshotRequest,
        Recusal,
        Seat,
        SeatAnswer,
        SeatResponse,
        SessionAction,
        SessionInput,
        SessionState,
        SessionStatus,
        SessionVotes,
        SignIn,
    )
    from models.common import Role
    from models.records import NotificationEvent
    from rules.actions import Refused
    from rules.committee import (
        DrawImpossible,
        answer_seat,
        declaration_tally,
        draw_seats,
        pool_recusals,
        required_share,
    )
    from workflows import calls
    from workflows.authentication import actor_refusal
    from workflows.refusals import invalid, refusal_error

SEED_BITS = 63  # a seed that fits a signed 64-bit integer, as JSON and the UI show it


def _refuse(kind: str, message: str) -> ApplicationError:
    return refusal_error(Refused(kind, message))


@workflow.defn(name="CommitteeSession")
class CommitteeSessionWorkflow:
    @workflow.init
    def __init__(self, session: SessionInput) -> None:
        self._in = session
        self._s = SessionState(
            year=session.year,
            session_id=session.session_id,
            workflow_id=workflow.info().workflow_id,
            committee_name=session.committee_name,
            status=SessionStatus.drawing,
            members_wanted=session.members,
            alternates_wanted=session.alternates,
            quorum_ratio=session.quorum_ratio,
            pass_ratio=session.pass_ratio,
            held_at=session.held_at,
            place=session.place,
            requested_by=session.requested_by,
            required_attendance=required_share(session.members, session.quorum_ratio),  # R20
        )

    @workflow.run
    async def run(self, session: SessionInput) -> SessionState:
        await self._draw()
        if self._s.status is SessionStatus.failed:
            return self._s
        await workflow.wait_condition(lambda: self._s.status is SessionStatus.closing)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._close()
        return self._s

    # --- the draw (R27) ---------------------------------------------------------------------

    async def _draw(self) -> None:
        snapshot = await calls.pool_snapshot(
            PoolSnapshotRequest(
                year=self._in.year,
                specialty=self._in.specialty,
                declarations=self._in.declarations,
                listing=self._in.listing,
            )
        )
        seed = workflow.random().getrandbits(SEED_BITS)
        self._s.seed = seed
        self._s.pool_sha256 = snapshot.sha256
        self._s.pool_size = len(snapshot.experts)
        self._s.declarations = sorted(snapshot.declarations)
        self._s.drawn_at = workflow.now()
        if not snapshot.declarations:
            self._fail(f"round {self._in.year} has no declaration waiting for the committee")
            return
        try:
            draw = draw_seats(
                snapshot, seed, self._in.members, self._in.alternates, self._in.max_conflict_share
            )
        except DrawImpossible as exc:
            self._fail(str(exc))
            return
        self._s.seats = draw.seats
        self._s.excluded = draw.excluded
        # every drawn expert's known conflicts: an alternate who steps in brings theirs
        self._s.recusals = pool_recusals(snapshot.conflicts, [s.code for s in draw.seats])
        self._s.status = SessionStatus.confirming
        self._details()
        await self._notify(NotificationEvent.committee_drawn, draw.seats)

    def _fail(self, message: str) -> None:
        self._s.status = SessionStatus.failed
        self._s.error = message
        self._details()

    async def _notify(self, event: NotificationEvent, seats: list[Seat]) -> None:
        if not seats:
            return
        await calls.notify_experts(
            ExpertNotices(
                session=self._s.workflow_id,
                year=self._s.year,
                committee_name=self._s.committee_name,
                held_at=self._s.held_at,
                place=self._s.place,
                notices=[
                    ExpertNotice(
                        code=seat.code, event=event.value, kind=seat.kind, position=seat.position
                    )
                    for seat in seats
                ],
            )
        )

    # --- closing: count, decide, send the votes, archive the record ---------------------------

    async def _close(self) -> None:
        counts = await calls.close_ballot_box(self._s.workflow_id)
        by_declaration = {count.workflow_id: count for count in counts.counts}
        # R20: of the members seated (a declined seat no alternate took stays empty)
        members = len(self._s.members)
        self._s.tallies = [
            declaration_tally(
                workflow_id,
                members,
                by_declaration.get(
                    workflow_id,
                    BoxCount(workflow_id=workflow_id, eligible=0, yes=0, no=0, abstain=0),
                ),
                self._s.quorum_ratio,
                self._s.pass_ratio,
            )
            for workflow_id in self._s.declarations
        ]
        try:
            sent = await calls.send_session_votes(
                SessionVotes(
                    year=self._s.year,
                    session=self._s.workflow_id,
                    session_id=self._s.session_id,
                    committee_name=self._s.committee_name,
                    members=sorted(seat.code for seat in self._s.members),
                    attending=sorted(seat.code for seat in self._s.signed_in),
                    tallies=self._s.tallies,
                    closed_by=self._s.closed_by or self._s.requested_by,
                )
            )
            self._s.votes_operation = sent.operation_id
        except ActivityError as exc:  # e.g. the Round has closed: the record says so
            self._s.error = f"the votes could not be sent to the round: {exc.cause or exc}"
        try:
            self._s.record_file = await calls.archive_meeting_record(
                MeetingRecordRequest(state=self._s)
            )
        except ActivityError as exc:  # the session stands; `committee record` retries it
            self._s.error = f"the meeting record could not be archived: {exc.cause or exc}"
        self._s.status = SessionStatus.closed
        self._details()

    def _details(self) -> None:
        """The session's progress for the Web UI; and the attendance a quorum needs, which
        follows the members seated (R20)."""
        s = self._s
        s.required_attendance = required_share(len(s.members), s.quorum_ratio)
        workflow.set_current_details(
            f"{s.status.value}: {len(s.members)} of {s.members_wanted} seats held, "
            f"{len(s.signed_in)} signed in ({s.required_attendance} needed), "
            f"{len(s.declarations)} declarations"
        )

    # --- checks -------------------------------------------------------------------------------

    def _authenticate(self, update: str, action: SessionAction, *roles: Role) -> None:
        refused = actor_refusal(update, action.actor, action.signature)
        if refused is not None:
            raise refusal_error(refused)
        if action.actor.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise _refuse(
                "WrongRole", f"this session action is for {allowed}, not {action.actor.role.value}"
            )

    def _status(self, *allowed: SessionStatus) -> None:
        if self._s.status not in allowed:
            raise _refuse(
                "WrongStage",
                f"session {self._s.session_id} is {self._s.status.value}, "
                f"not {' or '.join(a.value for a in allowed)}",
            )

    def _own_seat(self, action: SessionAction) -> Seat:
        seat = self._s.seat(action.actor.id)
        if seat is None:
            raise _refuse("WrongRole", f"{action.actor.id} was not drawn for this session")
        return seat

    # --- updates: the drawn experts ------------------------------------------------------------

    @workflow.update
    async def answer_seat(self, action: SeatAnswer) -> SessionState:
        """A drawn expert confirms, or declines (R27: the next alternate steps in)."""
        seat = self._check_answer(action)
        stepping_in = answer_seat(self._s.seats, seat.code, action.accept, workflow.now())
        self._details()
        if stepping_in is not None:
            await self._notify(NotificationEvent.committee_seated, [stepping_in])
        return self._s

    @answer_seat.validator
    def validate_answer_seat(self, action: SeatAnswer) -> None:
        self._authenticate("answer_seat", action, Role.expert)
        self._check_answer(action)

    def _check_answer(self, action: SeatAnswer) -> Seat:
        self._status(SessionStatus.confirming)
        seat = self._own_seat(action)
        if seat.response is SeatResponse.declined:
            raise invalid("this seat was declined already", "seat_declined")
        if seat.signed_in_at is not None and not action.accept:
            raise invalid("a member who signed in cannot decline", "signed_in")
        return seat

    @workflow.update
    async def sign_in(self, action: SignIn) -> SessionState:
        """A member signs in (R20 attendance), declaring any conflict of interest (R27)."""
        seat = self._check_sign_in(action)
        at = workflow.now()
        seat.signed_in_at = at
        if seat.response is SeatResponse.pending:
            seat.response = SeatResponse.confirmed
            seat.responded_at = at
        for workflow_id in sorted(set(action.conflicts)):
            if not self._s.recused(seat.code, workflow_id):
                self._s.recusals.append(
                    Recusal(workflow_id=workflow_id, code=seat.code, reason=ConflictReason.declared)
                )
        self._details()
        return self._s

    @sign_in.validator
    def validate_sign_in(self, action: SignIn) -> None:
        self._authenticate("sign_in", action, Role.expert)
        self._check_sign_in(action)

    def _check_sign_in(self, action: SignIn) -> Seat:
        self._status(SessionStatus.confirming)
        seat = self._own_seat(action)
        if not seat.seated:
            raise invalid(
                f"{seat.code} holds no member's seat (an alternate not seated)", "not_seated"
            )
        if seat.signed_in_at is not None:
            raise invalid(f"{seat.code} signed in already", "signed_in")
        unknown = sorted(set(action.conflicts) - set(self._s.declarations))
        if unknown:
            raise invalid(
                f"not declarations of this session: {', '.join(unknown)}", "unknown_declaration"
            )
        return seat

    # --- updates: the secretary ---------------------------------------------------------------

    @workflow.update
    async def open(self, action: SessionAction) -> SessionState:
        """R20: the session opens once at least 2/3 of its seats have signed in; the ballot
        box then takes the ballots of the signed-in members, each on the declarations they
        did not recuse from."""
        self._check_open(action)
        self._s.status = SessionStatus.open
        self._s.opened_by = action.actor
        self._s.opened_at = workflow.now()
        signed_in = sorted(seat.code for seat in self._s.signed_in)
        await calls.open_ballot_box(
            BallotRegister(
                session=self._s.workflow_id,
                voters={
                    workflow_id: [c for c in signed_in if not self._s.recused(c, workflow_id)]
                    for workflow_id in self._s.declarations
                },
            )
        )
        self._details()
        return self._s

    @open.validator
    def validate_open(self, action: SessionAction) -> None:
        self._authenticate("open", action, Role.committee)
        self._check_open(action)

    def _check_open(self, action: SessionAction) -> None:
        self._status(SessionStatus.confirming)
        signed_in = len(self._s.signed_in)
        if signed_in < self._s.required_attendance:
            raise invalid(
                f"{signed_in} of {len(self._s.members)} members signed in, "
                f"{self._s.required_attendance} needed for a valid session (R20)",
                "quorum_not_met",
                signed_in=str(signed_in),
                members=str(len(self._s.members)),
                required=str(self._s.required_attendance),
            )

    @workflow.update
    async def close(self, action: SessionAction) -> SessionState:
        """No ballot after this (R27: no later votes); the workflow then counts and sends."""
        self._check_close(action)
        self._s.status = SessionStatus.closing
        self._s.closed_by = action.actor
        self._s.closed_at = workflow.now()
        self._details()
        return self._s

    @close.validator
    def validate_close(self, action: SessionAction) -> None:
        self._authenticate("close", action, Role.committee)
        self._check_close(action)

    def _check_close(self, action: SessionAction) -> None:
        self._status(SessionStatus.open)

    @workflow.query
    def state(self) -> SessionState:
        return self._s
