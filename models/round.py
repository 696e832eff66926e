"""A round's configuration: its calendar, windows and the configurable readings of the notice."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, model_validator

from models.calendar import WorkingCalendar
from models.common import Actor, ActorSignature, Level, Strict, VocationalSkillLevel


class Ratio(Strict):
    numerator: int = Field(ge=1)
    denominator: int = Field(ge=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> Ratio:
        if self.numerator > self.denominator:
            raise ValueError(f"ratio {self.numerator}/{self.denominator} is above 1")
        return self

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


TWO_THIRDS = Ratio(numerator=2, denominator=3)


class TallyDisclosure(StrEnum):
    result = "result"  # 通过 / 未通过 only (the default, interp.)
    counts = "counts"  # the yes votes and the attending members as well


class LevelCondition(Strict):
    """One row of the evaluation-conditions table (the platform's 职称评审条件).

    The notice leaves these to the platform (*interp.*), so they are configuration.
    """

    prerequisite: Level | None = None  # the title (or equivalent qualification, R5) needed
    min_years_at_prerequisite: int = Field(default=0, ge=0)
    min_achievements: int = Field(default=0, ge=0)  # R7: any achievement type counts


def default_skill_level_equivalents() -> dict[VocationalSkillLevel, Level]:
    """R25 (interp., documented in docs/requirements.md): 高级工 -> junior, 技师 ->
    intermediate, 高级技师 -> associate senior; a round may configure its own."""
    return {
        VocationalSkillLevel.senior_worker: Level.junior,
        VocationalSkillLevel.technician: Level.intermediate,
        VocationalSkillLevel.senior_technician: Level.associate_senior,
    }


def default_conditions() -> dict[Level, LevelCondition]:
    # Documented defaults (README, "Evaluation conditions"); override per round.
    return {
        Level.junior: LevelCondition(prerequisite=None, min_years_at_prerequisite=0),
        Level.intermediate: LevelCondition(
            prerequisite=Level.junior, min_years_at_prerequisite=4, min_achievements=1
        ),
        Level.associate_senior: LevelCondition(
            prerequisite=Level.intermediate, min_years_at_prerequisite=5, min_achievements=2
        ),
    }


class RoundConfig(Strict):
    """Everything a declaration needs to know about its round. Instants are timezone-aware."""

    year: int = Field(ge=2000, le=2100)
    submission_opens_at: AwareDatetime  # R9
    submission_closes_at: AwareDatetime  # R9, R10
    review_opens_at: AwareDatetime  # R9
    review_closes_at: AwareDatetime  # R9
    payment_closes_at: AwareDatetime  # R17 (the notice defers it to a later notice)
    # R17/R9 (interp.): materials accepted late still leave this many days to pay.
    payment_grace_days: int = Field(default=7, ge=1)
    correction_hours: int = Field(default=48, ge=1)  # R15
    max_returns: int = Field(default=3, ge=0)  # R15: the (max_returns + 1)th return locks
    # R11, R15 (interp.): whether a return because the masking is incomplete counts toward
    # max_returns; by default it does not (the applicant re-masks, nothing else was wrong).
    masking_return_counts: bool = False
    publicity_working_days: int = Field(default=5, ge=1)  # R13, R20
    # Drill only (rehearsals, bench/run.py): a publicity lasts this many seconds instead of
    # `publicity_working_days`. Absent (None) in every real round: the working-day rule holds.
    drill_publicity_seconds: int | None = Field(default=None, ge=1)
    recommendation_lead_days: int = Field(default=1, ge=0)  # round plan: time left to recommend
    # Reminders before a deadline (rules/reminders.py reminder_leads): how long before the
    # correction deadline (R15: the first and the last reminder, in hours; one not under
    # `correction_hours` is never sent), the payment deadline (R17), the review window's
    # close (R9) and the submission close (R10), in days. The defaults are the reminders as
    # they first came (a round input recorded before these fields has them).
    correction_first_reminder_hours: int = Field(default=24, ge=1, le=168)
    correction_last_reminder_hours: int = Field(default=4, ge=1, le=168)
    payment_reminder_days: int = Field(default=3, ge=1, le=30)
    review_closing_reminder_days: int = Field(default=3, ge=1, le=30)
    submission_closing_reminder_days: int = Field(default=3, ge=1, le=30)
    # The hour (Beijing time, 0-23) of the evaluation body's daily digest (rules/reminders.py
    # next_digest)
    digest_hour: int = Field(default=9, ge=0, le=23)
    quorum_ratio: Ratio = TWO_THIRDS  # R20
    pass_ratio: Ratio = TWO_THIRDS  # R20
    # R27 (interp.): the fewest members a session may draw (commonly 25, or 11 for a committee
    # of one specialty), and what an applicant is told of the tally: only the result, or the
    # counts too
    committee_minimum_members: int = Field(default=11, ge=1, le=200)
    tally_disclosure: TallyDisclosure = TallyDisclosure.result
    conditions: dict[Level, LevelCondition] = Field(
        default_factory=default_conditions, max_length=len(Level)
    )
    calendar: WorkingCalendar = Field(default_factory=WorkingCalendar)
    # R25: the title level each vocational skill level counts as (a skill level left out
    # counts as none)
    skill_level_equivalents: dict[VocationalSkillLevel, Level] = Field(
        default_factory=default_skill_level_equivalents, max_length=len(VocationalSkillLevel)
    )

    @model_validator(mode="after")
    def _ordered(self) -> RoundConfig:
        order: list[tuple[str, datetime]] = [
            ("submission_opens_at", self.submission_opens_at),
            ("submission_closes_at", self.submission_closes_at),
            ("review_opens_at", self.review_opens_at),
            ("review_closes_at", self.review_closes_at),
        ]
        for (a, ta), (b, tb) in pairwise(order):
            if ta > tb:
                raise ValueError(f"{a} ({ta.isoformat()}) is after {b} ({tb.isoformat()})")
        if self.payment_closes_at < self.review_opens_at:
            raise ValueError("payment_closes_at is before review_opens_at")
        first, last = self.correction_first_reminder_hours, self.correction_last_reminder_hours
        if last >= first:
            raise ValueError(
                f"correction_last_reminder_hours ({last}) is not less than "
                f"correction_first_reminder_hours ({first})"
            )
        return self


# --- the Round workflow: its input, its actions, its state -------------------------


MAX_COMMITTEE_MEMBERS = 200
MemberId = Annotated[str, Field(min_length=1, max_length=64)]


class CommitteeMember(Strict):
    id: MemberId
    name: str = Field(min_length=1, max_length=100)


class Committee(Strict):
    """R20: the evaluation committee; a session's attendance is checked against it."""

    name: str = Field(default="工程系列光伏硅基专业职称评审委员会", min_length=1, max_length=200)
    members: list[CommitteeMember] = Field(min_length=1, max_length=MAX_COMMITTEE_MEMBERS)

    @model_validator(mode="after")
    def _unique_ids(self) -> Committee:
        ids = [m.id for m in self.members]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"committee member ids must be unique: {', '.join(duplicates)}")
        return self


class ListingSource(StrEnum):
    """Where the round finds the declarations it acts on.

    `visibility`: Temporal's search attributes (`RoundYear = Y AND Stage = '...'`), the
    production choice. `record`: the record database's `declarations` projection (same
    filter), for servers without advanced visibility (the time-skipping test server)."""

    visibility = "visibility"
    record = "record"


class RoundInput(Strict):
    """The one argument of the `Round` workflow (`round-{year}`)."""

    config: RoundConfig  # windows, payment deadline, readings, the working-day calendar
    # R1, R19: the specialty whose defenses are averaged
    specialty: str = Field(default="pv_silicon", max_length=100)
    committee: Committee | None = None  # R20: may also be set later (`set_committee`)
    document_number_prefix: str = Field(default="乌人社职称", min_length=1, max_length=50)  # R21
    defense_opens_at: AwareDatetime | None = None  # R18: the defense period, when announced
    defense_closes_at: AwareDatetime | None = None
    spot_check_ratio: Ratio = Ratio(numerator=1, denominator=20)  # R22 (interp.): 5 %
    spot_check_minimum: int = Field(default=1, ge=0)
    integrity_years: int = Field(default=3, ge=1)  # R8
    listing: ListingSource = ListingSource.visibility
    page_size: int = Field(default=200, ge=1, le=1000)
    statistics_refresh_hours: int = Field(default=6, ge=1)
    # Continue-as-new when the server suggests it, or (tests, demos) past this many events.
    continue_as_new_after_events: int | None = Field(default=None, ge=100)
    carried: RoundProgress | None = None  # set only by continue-as-new

    @property
    def year(self) -> int:
        return self.config.year


class OperationKind(StrEnum):
    change_windows = "change_windows"
    defense_average = "defense_average"  # R19
    committee_votes = "committee_votes"  # R20
    spot_check = "spot_check"  # R22
    revoke = "revoke"  # R22, R8
    refresh_statistics = "refresh_statistics"


class OperationStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Operation(Strict):
    """Work the round does on many declarations, page by page; it survives continue-as-new."""

    id: int
    kind: OperationKind
    requested_by: Actor
    requested_at: datetime
    status: OperationStatus = OperationStatus.queued
    payload: dict[str, Any] = Field(default_factory=dict)
    cursor: str | None = None  # the next page of the listing
    offset: int = 0  # the next page of an explicit target list
    pages: int = 0
    listed: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)  # stage after the action -> count
    failures: list[str] = Field(default_factory=list)  # the first few, "id: message"
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    finished_at: datetime | None = None


class CommitteeSession(Strict):
    """R20: one sitting of the committee, recorded once: composition, attendance, quorum."""

    session_id: str
    held_at: datetime
    recorded_by: Actor
    committee_name: str
    members: list[str]
    attending: list[str]
    required_attendance: int
    valid: bool
    votes_operations: list[int] = Field(default_factory=list)


class ResultBatch(Strict):
    """R20: the result publicity of one session's passed declarations (5 working days)."""

    session_id: str
    operation_id: int
    started_at: datetime
    ends_at: datetime | None  # the latest end among the batch's declarations
    passed: int
    not_passed: int
    ended: bool = False
    document: str | None = None  # the published result-publicity list (its PDF's file name)


class SpotCheckFinding(Strict):
    workflow_id: str
    fraud: bool
    finding: str
    recorded_by: Actor
    recorded_at: datetime
    in_sample: bool
    revocation_operation: int | None = None


class SpotCheck(Strict):
    """R22: a reproducible sample: the same seed over the same sorted population draws the
    same declarations (rules.spot_check.draw_sample)."""

    check_id: int
    seed: int
    ratio: Ratio
    minimum: int
    requested_by: Actor
    requested_at: datetime
    operation_id: int
    population: int | None = None
    population_sha256: str | None = None
    sample: list[str] = Field(default_factory=list)
    findings: list[SpotCheckFinding] = Field(default_factory=list)


class Revocation(Strict):
    workflow_id: str
    applicant_key: str
    level: str
    revoked_at: datetime
    blocked_until: date  # R8
    reason: str


class RoundStatistics(Strict):
    """Declarations of the round per stage, level and jurisdiction (the record database)."""

    as_of: datetime
    total: int = 0
    by_stage: dict[str, int] = Field(default_factory=dict)
    by_level: dict[str, int] = Field(default_factory=dict)
    by_jurisdiction: dict[str, int] = Field(default_factory=dict)


class RoundProgress(Strict):
    """Everything the round has decided so far: carried across continue-as-new."""

    runs: int = 1
    seq: int = 0  # round events written to the record database
    next_operation_id: int = 1
    committee: Committee | None = None
    operations: list[Operation] = Field(default_factory=list)
    sessions: list[CommitteeSession] = Field(default_factory=list)
    batches: list[ResultBatch] = Field(default_factory=list)
    spot_checks: list[SpotCheck] = Field(default_factory=list)
    revocations: list[Revocation] = Field(default_factory=list)
    window_changes: list[dict[str, Any]] = Field(default_factory=list)
    statistics: RoundStatistics | None = None
    closing: bool = False


class RoundState(Strict):
    """The `state` query of `Round`. Instants in `plan` are ISO 8601 at +08:00."""

    workflow_id: str
    year: int
    specialty: str
    document_number_prefix: str
    listing: ListingSource
    config: RoundConfig
    plan: dict[str, Any]  # rules.round_plan.RoundPlan
    progress: RoundProgress
    history_length: int
    refused: str | None = None  # why the round did not start (an unknown calendar year)


# --- the Round's update arguments (each with its actor) ------------------------------------


class RoundAction(Strict):
    actor: Actor
    note: str | None = Field(default=None, max_length=2000)
    signature: ActorSignature | None = None  # as models.declaration.Action's


class WindowChange(RoundAction):
    """R9: an extension (or correction) of the round's windows, announced mid-round."""

    reason: str = Field(min_length=1, max_length=2000)
    submission_opens_at: AwareDatetime | None = None
    submission_closes_at: AwareDatetime | None = None
    review_opens_at: AwareDatetime | None = None
    review_closes_at: AwareDatetime | None = None
    payment_closes_at: AwareDatetime | None = None

    def changes(self) -> dict[str, datetime]:
        return {name: getattr(self, name) for name in WINDOW_FIELDS if getattr(self, name)}


WINDOW_FIELDS = (
    "submission_opens_at",
    "submission_closes_at",
    "review_opens_at",
    "review_closes_at",
    "payment_closes_at",
)


class SetCommittee(RoundAction):
    committee: Committee


class DrawnComposition(Strict):
    """A drawn session's members (pool codes), sent by its CommitteeSession workflow."""

    committee_name: str = Field(min_length=1, max_length=200)
    members: list[MemberId] = Field(min_length=1, max_length=MAX_COMMITTEE_MEMBERS)


class OpenSession(RoundAction):
    session_id: str = Field(min_length=1, max_length=100)
    attending: list[MemberId] = Field(max_length=MAX_COMMITTEE_MEMBERS)
    drawn: DrawnComposition | None = None  # None: the round's committee (`set_committee`)


class Vote(Strict):
    workflow_id: str = Field(min_length=1, max_length=200)
    yes_votes: int = Field(ge=0, le=MAX_COMMITTEE_MEMBERS)
    # A drawn session's count of this declaration's non-recused attendees (R27); None: every
    # member attending the session
    attending: int | None = Field(default=None, ge=0, le=MAX_COMMITTEE_MEMBERS)


class CommitteeVotes(RoundAction):
    session_id: str = Field(min_length=1, max_length=100)
    votes: list[Vote] = Field(min_length=1, max_length=1000)


class DrawSpotCheck(RoundAction):
    ratio: Ratio | None = None  # default: the round's spot_check_ratio
    minimum: int | None = Field(default=None, ge=0)


class SpotCheckResult(RoundAction):
    check_id: int = Field(ge=1)
    workflow_id: str = Field(min_length=1, max_length=200)
    fraud: bool
    finding: str = Field(min_length=1, max_length=2000)


class OperationAccepted(Strict):
    """What a coordination update returns: the operation runs on in the round."""

    operation_id: int
    kind: OperationKind
    status: OperationStatus


class RoundLaunch(Strict):
    """The `RoundLauncher` workflow's argument: the Schedule passes it unchanged every year,
    so the year comes from the scheduled time unless given."""

    year: int | None = None
    listing: ListingSource = ListingSource.visibility


class RoundLaunched(Strict):
    year: int
    workflow_id: str
    started: bool  # False: round-{year} already existed (started by hand, or a re-run)
    scheduled_at: datetime


RoundInput.model_rebuild()
