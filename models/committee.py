"""The committee session (R20, R27): the expert pool as the draw sees it, the drawn seats,
the recusals, the ballots' tallies, and the `CommitteeSession` workflow's input, actions and
state.

The workflow never holds an expert's name or contact: experts are known by their pool code
(`E0001`, not derived from personal data); names live in the record database
(store/experts.py) and reach only the pages and documents of roles that may see them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from models.common import Actor, ActorSignature, Strict
from models.round import TWO_THIRDS, ListingSource, Ratio

ExpertCode = Annotated[str, Field(pattern=r"^E[0-9]{4,6}$")]
# A session's own name within its round, e.g. "2026-01": the workflow id is
# `committee-{year}-{session_id}` (rules/identity.py committee_session_workflow_id)
SessionId = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z-]{0,39}$")]
DeclarationId = Annotated[str, Field(min_length=1, max_length=200)]

MAX_SESSION_SEATS = 200
MAX_SESSION_DECLARATIONS = 1000
MAX_POOL = 5000


# --- the pool, as the draw sees it -----------------------------------------------------------


class PoolExpert(Strict):
    """One candidate: its code and the session's declarations it has a conflict with (R27:
    an employer it worked for in the last 3 years, or a declared relation to the applicant)."""

    code: ExpertCode
    conflicts: list[DeclarationId] = Field(
        default_factory=list, max_length=MAX_SESSION_DECLARATIONS
    )


class ConflictReason(StrEnum):
    employer = "employer"  # the applicant's employer is the expert's, now or in the last 3 years
    relation = "relation"  # the expert declared a relation to the applicant (by ID card)
    declared = "declared"  # the member declared a conflict at sign-in


class PoolConflict(Strict):
    code: ExpertCode
    workflow_id: DeclarationId
    reason: ConflictReason


class PoolSnapshot(Strict):
    """What the draw was made from (activities/committee.py pool_snapshot): the active experts
    of the specialty, each conflict, and the session's declarations; `sha256` (rules/committee
    pool_digest) lets anyone recompute the draw from the recorded seed."""

    declarations: list[DeclarationId] = Field(max_length=MAX_SESSION_DECLARATIONS)
    experts: list[ExpertCode] = Field(max_length=MAX_POOL)
    conflicts: list[PoolConflict] = Field(default_factory=list)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class PoolSnapshotRequest(Strict):
    year: int
    specialty: str | None = Field(default=None, max_length=100)
    declarations: list[DeclarationId] | None = Field(
        default=None, max_length=MAX_SESSION_DECLARATIONS
    )
    listing: ListingSource = ListingSource.visibility


# --- the session ------------------------------------------------------------------------------


class SeatKind(StrEnum):
    member = "member"
    alternate = "alternate"


class SeatResponse(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    declined = "declined"


class Seat(Strict):
    """One drawn expert, in drawn order: a member, or an alternate who steps in (in order) for
    a member who declines."""

    code: ExpertCode
    position: int = Field(ge=1)  # 1-based, the order of the draw
    kind: SeatKind
    response: SeatResponse = SeatResponse.pending
    responded_at: datetime | None = None
    replaces: ExpertCode | None = None  # an alternate seated for this declined member
    signed_in_at: datetime | None = None

    @property
    def seated(self) -> bool:
        """A member now: drawn as one, or an alternate stepped in; and not declined."""
        return self.kind is SeatKind.member and self.response is not SeatResponse.declined


class Recusal(Strict):
    workflow_id: DeclarationId
    code: ExpertCode
    reason: ConflictReason


class DeclarationTally(Strict):
    """R20 per declaration, over its non-recused attendees (interp.: a recused member is
    not an attendee of that declaration; docs/committee.md)."""

    workflow_id: DeclarationId
    members: int
    eligible: int  # the signed-in members who did not recuse from it
    yes: int = 0
    no: int = 0
    abstain: int = 0
    not_cast: int = 0
    required_attendance: int
    required_yes: int
    voted: bool  # False: too few non-recused attendees; the declaration stays in `committee`
    passed: bool = False


class SessionStatus(StrEnum):
    drawing = "drawing"
    confirming = "confirming"  # drawn; members confirm and sign in
    open = "open"  # ballots are cast (the record database's ballot box)
    closing = "closing"
    closed = "closed"
    failed = "failed"  # the draw could not be made; nothing to vote


class SessionInput(Strict):
    """The one argument of the `CommitteeSession` workflow (`committee-{year}-{session_id}`)."""

    year: int = Field(ge=2000, le=2100)
    session_id: SessionId
    committee_name: str = Field(
        default="工程系列光伏硅基专业职称评审委员会", min_length=1, max_length=200
    )
    members: int = Field(ge=1, le=MAX_SESSION_SEATS)  # R27: odd, at least `minimum_members`
    alternates: int = Field(default=0, ge=0, le=MAX_SESSION_SEATS)
    minimum_members: int = Field(default=11, ge=1, le=MAX_SESSION_SEATS)  # R27 (configurable)
    # An expert with a conflict with more than this share of the session's declarations is
    # not drawn (interp.: they would recuse too often to sit)
    max_conflict_share: Ratio = Ratio(numerator=1, denominator=3)
    quorum_ratio: Ratio = TWO_THIRDS  # R20
    pass_ratio: Ratio = TWO_THIRDS  # R20
    specialty: str | None = Field(default=None, max_length=100)
    # None: every declaration of the round in `committee` when the draw is made
    declarations: list[DeclarationId] | None = Field(
        default=None, max_length=MAX_SESSION_DECLARATIONS
    )
    held_at: AwareDatetime | None = None  # when and where the meeting is held (for the notices)
    place: str | None = Field(default=None, max_length=200)
    listing: ListingSource = ListingSource.visibility
    # Who asked for the session (the supervisor): the client that starts it checks the role;
    # the workflow records it
    requested_by: Actor

    @model_validator(mode="after")
    def _composition(self) -> SessionInput:
        if self.members % 2 == 0:
            raise ValueError(
                f"members: a committee has an odd number of members (R27), got {self.members}"
            )
        if self.members < self.minimum_members:
            raise ValueError(
                f"members: at least {self.minimum_members} members (R27), got {self.members}"
            )
        return self


class SessionAction(Strict):
    actor: Actor
    note: str | None = Field(default=None, max_length=2000)
    signature: ActorSignature | None = None


class SeatAnswer(SessionAction):
    """A drawn expert confirms or declines (the actor is the expert's own account)."""

    accept: bool


class SignIn(SessionAction):
    """A member signs in, declaring any conflict with the session's declarations (R27)."""

    conflicts: list[DeclarationId] = Field(
        default_factory=list, max_length=MAX_SESSION_DECLARATIONS
    )


class SessionState(Strict):
    year: int
    session_id: str
    workflow_id: str
    committee_name: str
    status: SessionStatus
    members_wanted: int
    alternates_wanted: int
    quorum_ratio: Ratio
    pass_ratio: Ratio
    held_at: datetime | None = None
    place: str | None = None
    requested_by: Actor
    drawn_at: datetime | None = None
    seed: int | None = None
    pool_sha256: str | None = None
    pool_size: int = 0
    excluded: list[ExpertCode] = Field(default_factory=list)  # too many conflicts to sit
    seats: list[Seat] = Field(default_factory=list)
    declarations: list[str] = Field(default_factory=list)
    recusals: list[Recusal] = Field(default_factory=list)
    required_attendance: int = 0
    opened_by: Actor | None = None
    opened_at: datetime | None = None
    closed_by: Actor | None = None
    closed_at: datetime | None = None
    tallies: list[DeclarationTally] = Field(default_factory=list)
    votes_operation: int | None = None  # the Round's committee_votes operation
    record_file: str | None = None  # the archived meeting record (评审会议记录)
    error: str | None = None

    @property
    def members(self) -> list[Seat]:
        return [seat for seat in self.seats if seat.seated]

    @property
    def signed_in(self) -> list[Seat]:
        return [seat for seat in self.members if seat.signed_in_at is not None]

    def seat(self, code: str) -> Seat | None:
        return next((seat for seat in self.seats if seat.code == code), None)

    def recused(self, code: str, workflow_id: str) -> bool:
        return any(r.code == code and r.workflow_id == workflow_id for r in self.recusals)


# --- the session's activities (activities/committee.py; workflows/calls.py calls them) -------

POOL_SNAPSHOT = "committee_pool_snapshot"
NOTIFY_EXPERTS = "committee_notify_experts"
OPEN_BALLOT_BOX = "committee_open_ballot_box"
CLOSE_BALLOT_BOX = "committee_close_ballot_box"
SEND_SESSION_VOTES = "committee_send_session_votes"
ARCHIVE_MEETING_RECORD = "committee_archive_meeting_record"


class ExpertNotice(Strict):
    code: ExpertCode
    event: str  # models.records.NotificationEvent (committee_drawn, committee_seated)
    kind: SeatKind
    position: int


class ExpertNotices(Strict):
    """Messages to drawn experts, once each (the outbox key: session, code, event)."""

    session: str  # the session's workflow id
    year: int
    committee_name: str
    held_at: datetime | None = None
    place: str | None = None
    notices: list[ExpertNotice] = Field(max_length=MAX_SESSION_SEATS)


class SessionVotes(Strict):
    """What a closed session sends the Round: its composition and attendance
    (`open_session`), then one vote per voted declaration (`committee_votes`), each counted
    over that declaration's non-recused attendees."""

    year: int
    session: str  # the session's workflow id
    session_id: str
    committee_name: str
    members: list[ExpertCode]
    attending: list[ExpertCode]
    tallies: list[DeclarationTally]
    closed_by: Actor  # the secretary: the declarations' votes name them (R26)


class SessionVotesSent(Strict):
    operation_id: int | None  # None: no declaration could be voted


class MeetingRecordRequest(Strict):
    """The closed session's state; the activity adds the names and who voted (not how) from
    the record database, renders the 评审会议记录 and archives it."""

    state: SessionState


# --- the ballot box (the record database, through the portal) ----------------------------------


class Choice(StrEnum):
    yes = "yes"
    no = "no"
    abstain = "abstain"


class BallotRegister(Strict):
    """Written when the session opens: who may vote on which declaration."""

    session: str  # the session's workflow id
    voters: dict[DeclarationId, list[ExpertCode]]


class BoxCount(Strict):
    """The ballot box's count of one declaration when the session closes."""

    workflow_id: DeclarationId
    eligible: int
    yes: int
    no: int
    abstain: int


class BoxCounts(Strict):
    session: str
    counts: list[BoxCount]
