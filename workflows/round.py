"""The `Round` workflow (`round-{year}`): what spans the declarations of one yearly round, and
the `RoundLauncher` the yearly Schedule starts.

Shape: update handlers check and decide at once and queue an operation (window change,
defense averages, committee votes, spot check, revocation); the main loop runs the queued
operations one page at a time through activities, records the round's events, refreshes
the statistics on a timer, and continues as new when the server suggests it, carrying
everything decided (`RoundProgress`) and the operation's cursor. Updates return at once
with the operation's id; the `state` query shows its progress.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from models.common import Actor, Role, Stage
    from models.coordination import (
        DeclarationBatch,
        DefenseScoresRequest,
        DigestRequest,
        PrepareRound,
        RevokeRequest,
        RoundEventRecord,
        SpotCheckDraw,
        StatisticsRequest,
        Target,
    )
    from models.documents import PublishedDocument
    from models.round import (
        WINDOW_FIELDS,
        CommitteeSession,
        CommitteeVotes,
        DrawSpotCheck,
        OpenSession,
        Operation,
        OperationAccepted,
        OperationKind,
        OperationStatus,
        ResultBatch,
        Revocation,
        RoundAction,
        RoundConfig,
        RoundInput,
        RoundLaunch,
        RoundLaunched,
        RoundProgress,
        RoundState,
        SetCommittee,
        SpotCheck,
        SpotCheckFinding,
        SpotCheckResult,
        WindowChange,
    )
    from rules.actions import Refused
    from rules.calendar import CalendarYearUnknown
    from rules.committee import tally_vote
    from rules.defense import defense_average
    from rules.identity import round_workflow_id
    from rules.reminders import DIGEST_PERIOD, next_digest
    from rules.round_plan import plan_round
    from rules.schedule import round_year_of
    from rules.timezone import shanghai_date, shanghai_iso
    from workflows import calls, patches
    from workflows import documents as docs
    from workflows.authentication import actor_refusal
    from workflows.records import round_event
    from workflows.refusals import invalid, refusal_error
    from workflows.round_checks import finding_check, votes_session
    from workflows.windows import boundary_refusal, changed_config

TEMPORAL_SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

KEPT_MESSAGES = 20
BATCH_END_SLACK = timedelta(minutes=1)  # let the declarations' own timers fire first


def _refuse(kind: str, message: str) -> ApplicationError:
    return refusal_error(Refused(kind, message))


def _require(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        allowed = ", ".join(role.value for role in roles)
        raise _refuse("WrongRole", f"this round action is for {allowed}, not {actor.role.value}")


def _activity_message(exc: ActivityError) -> str:
    cause = exc.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or exc)


def _vote_payload(vote: dict[str, Any]) -> dict[str, Any]:
    """One declaration's part of a votes operation: its yes votes, and, from a drawn session,
    its own attendance (its non-recused attendees, R27)."""
    payload = {"yes_votes": vote["yes_votes"]}
    if vote.get("attending") is not None:
        payload["attending"] = vote["attending"]
    return payload


@workflow.defn(name="Round")
class RoundWorkflow:
    @workflow.init
    def __init__(self, round_input: RoundInput) -> None:
        self._in = round_input
        self._config: RoundConfig = round_input.config
        self._p = round_input.carried or RoundProgress(committee=round_input.committee)
        self._events: list[RoundEventRecord] = []
        self._refresh_requested = True  # a first look at the statistics in every run
        self._statistics_due: datetime | None = None
        # The evaluation body's daily digest: the moments after this one are still to come
        # (a new run, after continue-as-new too, starts from its own start).
        self._digested_until = workflow.now()
        self._plan: dict[str, Any] = {}
        self._refused: str | None = None
        # The working-day calendar travels in the input: without the round year's data no
        # publicity of the round could be counted (R13, R20), so the round does not start.
        try:
            if self._config.year not in self._config.calendar.years:
                raise CalendarYearUnknown(self._config.year)
            self._plan = plan_round(self._config).model_dump(mode="json")
        except CalendarYearUnknown as exc:
            self._refused = f"round {self._config.year} not started: {exc}"

    @property
    def _year(self) -> int:
        return self._config.year

    @property
    def _system(self) -> Actor:
        return Actor(role=Role.system, id=round_workflow_id(self._year))

    # --- main loop -----------------------------------------------------------------------

    @workflow.run
    async def run(self, round_input: RoundInput) -> RoundProgress:
        if self._refused is not None:
            raise _refuse("CalendarUnknown", self._refused)
        if round_input.carried is None:
            self._event("round_started", self._system, {"plan": self._plan})
            if workflow.patched(patches.MATERIAL_REQUIREMENTS):
                requirements = docs.material_requirements(
                    self._config, round_workflow_id(self._year), workflow.now()
                )
                await self._publish_document(
                    calls.publish_document(requirements), "material_requirements", self._system
                )
        self._publish()
        while True:
            await self._write_events()
            if self._refresh_requested or self._statistics_overdue():
                await self._refresh_statistics()
            digest = self._next_digest()
            if digest is not None and digest <= workflow.now():
                await self._queue_digest(digest)
            operation = self._next_operation()
            if operation is not None:
                await self._step(operation)
            elif self._p.closing:
                break
            else:
                await self._wait_for_work()
            self._publish()
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._write_events()
                self._p.runs += 1
                workflow.continue_as_new(
                    round_input.model_copy(
                        update={
                            "config": self._config,
                            "committee": self._p.committee,
                            "carried": self._p,
                        }
                    )
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._event("round_closed", self._system, {})
        await self._write_events()
        return self._p

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._in.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    def _next_operation(self) -> Operation | None:
        return next(
            (
                op
                for op in self._p.operations
                if op.status in (OperationStatus.queued, OperationStatus.running)
            ),
            None,
        )

    def _has_work(self) -> bool:
        return self._refresh_requested or self._p.closing or self._next_operation() is not None

    def _next_timer(self) -> datetime | None:
        candidates = [
            batch.ends_at + BATCH_END_SLACK
            for batch in self._p.batches
            if not batch.ended and batch.ends_at is not None
        ]
        if self._statistics_due is not None:
            candidates.append(self._statistics_due)
        digest = self._next_digest()
        if digest is not None:
            candidates.append(digest)
        return min(candidates, default=None)

    async def _wait_for_work(self) -> None:
        timer = self._next_timer()
        now = workflow.now()
        if timer is None or timer > now:
            try:
                await workflow.wait_condition(
                    self._has_work,
                    timeout=None if timer is None else timer - now,
                    timeout_summary=None if timer is None else f"until {shanghai_iso(timer)}",
                )
                return
            except TimeoutError:
                pass
        self._on_timer()

    def _on_timer(self) -> None:
        now = workflow.now()
        for batch in self._p.batches:
            if (
                not batch.ended
                and batch.ends_at is not None
                and batch.ends_at + BATCH_END_SLACK <= now
            ):
                batch.ended = True  # R20: the batch's result publicity is over
                self._event(
                    "result_publicity_ended",
                    self._system,
                    {"session_id": batch.session_id, "ends_at": shanghai_iso(batch.ends_at)},
                )
                self._refresh_requested = True

    def _next_digest(self) -> datetime | None:
        """The next morning the evaluation body gets its digest (rules/reminders.py)."""
        if not workflow.patched(patches.EVALUATION_DIGEST):
            return None
        c = self._config
        return next_digest(
            self._digested_until, c.submission_opens_at, c.review_closes_at, c.digest_hour
        )

    async def _queue_digest(self, moment: datetime) -> None:
        """The day's declarations that reached the evaluation body, counted and queued as one
        blind message (none when nothing arrived); keyed by the day, so once."""
        self._digested_until = moment
        await calls.queue_evaluation_digest(
            DigestRequest(
                year=self._year,
                since=moment - DIGEST_PERIOD,
                until=moment,
                review_closes_at=self._config.review_closes_at,
            )
        )

    def _statistics_overdue(self) -> bool:
        return self._statistics_due is not None and self._statistics_due <= workflow.now()

    async def _refresh_statistics(self) -> None:
        self._refresh_requested = False
        self._p.statistics = await calls.round_statistics(StatisticsRequest(year=self._year))
        self._statistics_due = workflow.now() + timedelta(hours=self._in.statistics_refresh_hours)

    # --- round events (the record database) ----------------------------------------------

    def _event(self, action: str, actor: Actor, details: dict[str, Any]) -> None:
        self._p.seq += 1
        self._events.append(
            round_event(
                workflow.info().first_execution_run_id,
                self._year,
                self._p.seq,
                workflow.now(),
                actor,
                action,
                details,
            )
        )

    async def _write_events(self) -> None:
        while self._events:
            await calls.record_round_event(self._events[0])
            self._events.pop(0)

    # --- operations ----------------------------------------------------------------------

    def _queue(
        self, kind: OperationKind, actor: Actor, payload: dict[str, Any]
    ) -> OperationAccepted:
        operation = Operation(
            id=self._p.next_operation_id,
            kind=kind,
            requested_by=actor,
            requested_at=workflow.now(),
            payload=payload,
        )
        self._p.next_operation_id += 1
        self._p.operations.append(operation)
        self._publish()
        return OperationAccepted(
            operation_id=operation.id, kind=operation.kind, status=operation.status
        )

    def _operation(self, operation_id: int) -> Operation:
        return next(op for op in self._p.operations if op.id == operation_id)

    async def _step(self, op: Operation) -> None:
        """One step of an operation: one page, or its one activity."""
        op.status = OperationStatus.running
        try:
            if op.kind is OperationKind.change_windows:
                await self._page(op, "change_windows", op.payload, open_only=True)
            elif op.kind is OperationKind.defense_average:
                await self._defense_step(op)
            elif op.kind is OperationKind.committee_votes:
                await self._votes_step(op)
            elif op.kind is OperationKind.spot_check:
                await self._spot_check_step(op)
            elif op.kind is OperationKind.revoke:
                await self._revoke_step(op)
            else:
                self._finish(op)
        except ActivityError as exc:
            op.status = OperationStatus.failed
            op.error = _activity_message(exc)
            op.finished_at = workflow.now()
            self._event(
                "operation_failed", op.requested_by, {"operation": op.id, "error": op.error}
            )

    def _finish(self, op: Operation) -> None:
        op.status = OperationStatus.done
        op.finished_at = workflow.now()
        self._refresh_requested = True
        self._event(
            f"{op.kind.value}_done",
            op.requested_by,
            {
                "operation": op.id,
                "done": op.done,
                "skipped": op.skipped,
                "failed": op.failed,
                "outcomes": op.outcomes,
                **op.result,
            },
        )

    async def _page(
        self,
        op: Operation,
        update: str,
        payload: dict[str, Any],
        *,
        stages: list[Stage] | None = None,
        open_only: bool = False,
        targets: list[Target] | None = None,
    ) -> None:
        result = await calls.act_on_declarations(
            DeclarationBatch(
                year=self._year,
                update=update,
                payload=payload,
                listing=self._in.listing,
                stages=stages,
                open_only=open_only,
                targets=targets,
                cursor=op.cursor,
                page_size=self._in.page_size,
            )
        )
        op.pages += 1
        op.listed += result.listed
        op.done += result.done
        op.skipped += result.skipped
        op.failed += result.failed
        for stage, count in result.outcomes.items():
            op.outcomes[stage] = op.outcomes.get(stage, 0) + count
        op.failures = (op.failures + result.failures + result.skips)[:KEPT_MESSAGES]
        for name, at in result.latest.items():
            key = f"latest_{name}"
            if at > op.result.get(key, ""):
                op.result[key] = at
        if targets is not None:
            op.offset += len(targets)
        else:
            op.cursor = result.cursor
            if result.cursor is None:
                self._finish(op)

    async def _defense_step(self, op: Operation) -> None:
        """R19: the average of the round's on-site defenses, then each village-stationed
        declaration waiting in `defense` receives it (the others refuse: skipped)."""
        if "average" not in op.result:
            scores = await calls.defense_scores(DefenseScoresRequest(year=self._year))
            if not scores.count:
                op.status = OperationStatus.failed
                op.error = f"no on-site defense score recorded in round {self._year} yet (R19)"
                op.finished_at = workflow.now()
                return
            op.result["average"] = defense_average(scores.scores)
            op.result["on_site_defenses"] = scores.count
            op.result["specialty"] = self._in.specialty
            return
        payload = {
            "actor": self._system.model_dump(mode="json"),
            "score": op.result["average"],
            "note": (
                f"R19: average of {op.result['on_site_defenses']} on-site defenses "
                f"({self._in.specialty}, round {self._year})"
            ),
        }
        await self._page(op, "supply_defense_average", payload, stages=[Stage.defense])

    async def _votes_step(self, op: Operation) -> None:
        votes = op.payload["votes"]
        if op.offset >= len(votes):
            batch = self._result_batch(op)
            await self._publish_result_list(op, batch)  # done means publicized too
            self._finish(op)
            return
        page = votes[op.offset : op.offset + self._in.page_size]
        targets = [
            Target(workflow_id=vote["workflow_id"], payload=_vote_payload(vote)) for vote in page
        ]
        common = {key: value for key, value in op.payload.items() if key != "votes"}
        await self._page(op, "committee_vote", common, targets=targets)

    async def _publish_document(
        self,
        publishing: Awaitable[PublishedDocument | None],
        what: str,
        actor: Actor,
        details: dict[str, Any] | None = None,
    ) -> str | None:
        """Publish one of the round's documents (`publishing`: a workflows/calls.py helper's
        call); a failure is an event of the round (`starter.py documents retry` once
        fixed), never a stop. Returns the PDF's file name (None: failed, or nothing to
        publish)."""
        try:
            published = await publishing
        except ActivityError as exc:
            error = {"error": _activity_message(exc)}
            self._event(f"{what}_failed", actor, (details or {}) | error)
            return None
        file_name = published.file_name if published else None
        self._event(f"{what}_published", actor, (details or {}) | {"file_name": file_name})
        return file_name

    async def _publish_result_list(self, op: Operation, batch: ResultBatch) -> None:
        """R20: the batch's result-publicity list; the declarations' publicity goes on
        whether or not it could be published."""
        votes = [vote["workflow_id"] for vote in op.payload["votes"]]
        request = docs.result_list_request(self._config, batch, votes, workflow.now())
        if request is None or not workflow.patched(patches.RESULT_LIST):
            return
        batch.document = await self._publish_document(
            calls.publish_result_list(request), "result_list", op.requested_by, {"operation": op.id}
        )

    def _result_batch(self, op: Operation) -> ResultBatch:
        """R20: the passed declarations of one session are publicized together."""
        ends = op.result.get("latest_result_publicity_ends_at")
        batch = ResultBatch(
            session_id=op.payload["session_id"],
            operation_id=op.id,
            started_at=op.requested_at,
            ends_at=datetime.fromisoformat(ends) if ends else None,
            passed=op.outcomes.get(Stage.result_publicity.value, 0),
            not_passed=op.outcomes.get(Stage.not_passed.value, 0),
            ended=not ends,
        )
        self._p.batches.append(batch)
        self._event("result_publicity_started", op.requested_by, batch.model_dump(mode="json"))
        return batch

    async def _spot_check_step(self, op: Operation) -> None:
        check = next(c for c in self._p.spot_checks if c.operation_id == op.id)
        sample = await calls.draw_spot_check(
            SpotCheckDraw(
                year=self._year,
                seed=check.seed,
                ratio=check.ratio,
                minimum=check.minimum,
                listing=self._in.listing,
            )
        )
        check.population = sample.population
        check.population_sha256 = sample.population_sha256
        check.sample = sample.sample
        op.result = {
            "check_id": check.check_id,
            "seed": check.seed,
            "population": sample.population,
            "population_sha256": sample.population_sha256,
            "sample": sample.sample,
        }
        op.done = len(sample.sample)
        self._finish(op)

    async def _revoke_step(self, op: Operation) -> None:
        result = await calls.revoke_declaration(
            RevokeRequest(
                year=self._year,
                workflow_id=op.payload["workflow_id"],
                actor=op.requested_by,
                reason=op.payload["reason"],
                revoked_at=op.requested_at,
                integrity_years=self._in.integrity_years,
            )
        )
        if not result.already_revoked:
            self._p.revocations.append(
                Revocation(
                    workflow_id=result.workflow_id,
                    applicant_key=result.applicant_key,
                    level=result.level,
                    revoked_at=op.requested_at,
                    blocked_until=result.blocked_until,
                    reason=op.payload["reason"],
                )
            )
        op.done = 1
        op.outcomes = {Stage.revoked.value: 1}
        op.result = {
            "workflow_id": result.workflow_id,
            "blocked_until": result.blocked_until.isoformat(),
        }
        self._finish(op)

    # --- checks ---------------------------------------------------------------------------
    # As in the Declaration workflow: each validator (never run on replay) authenticates the
    # actor first, then makes the update's checks, which its handler repeats.

    def _authenticate(self, update: str, action: RoundAction) -> None:
        """The actor must be signed for round-{year} and this update (rules/actor_signature.py,
        rules/actor_keys.py): else `Unauthenticated`, and nothing is recorded."""
        refused = actor_refusal(update, action.actor, action.signature)
        if refused is not None:
            raise refusal_error(refused)

    def _check_open(self) -> None:
        if self._refused is not None:
            raise _refuse("CalendarUnknown", self._refused)
        if self._p.closing:
            raise _refuse("Closed", f"round {self._year} is closing; it takes no more actions")

    # --- updates: windows ----------------------------------------------------------------

    @workflow.update
    async def change_windows(self, change: WindowChange) -> OperationAccepted:
        """R9: move the round's windows; every open declaration's timers follow."""
        new_config = self._windows_changed(change)
        changes = change.changes()
        self._config = new_config
        self._plan = plan_round(new_config).model_dump(mode="json")
        shown = {name: shanghai_iso(at) for name, at in changes.items()}
        self._p.window_changes.append(
            {"at": shanghai_iso(workflow.now()), "reason": change.reason, **shown}
        )
        self._event("change_windows", change.actor, {"reason": change.reason, **shown})
        payload = {
            "actor": self._system.model_dump(mode="json"),
            "reason": change.reason,
            **{name: at.isoformat() for name, at in changes.items()},
        }
        return self._queue(OperationKind.change_windows, change.actor, payload)

    @change_windows.validator
    def validate_change_windows(self, change: WindowChange) -> None:
        self._authenticate("change_windows", change)
        self._windows_changed(change)

    def _windows_changed(self, change: WindowChange) -> RoundConfig:
        self._check_open()
        _require(change.actor, Role.supervisor)
        changes = change.changes()
        if not changes:
            raise _refuse("Invalid", f"no window given; any of: {', '.join(WINDOW_FIELDS)}")
        refused = boundary_refusal(self._config, changes, workflow.now())
        if refused is not None:
            raise refusal_error(refused)
        changed = changed_config(self._config, changes)
        if isinstance(changed, Refused):
            raise refusal_error(changed)
        return changed

    # --- updates: R19 --------------------------------------------------------------------

    @workflow.update
    async def supply_defense_averages(self, action: RoundAction) -> OperationAccepted:
        """R19: once the on-site defenses are scored, give their average to every
        village-stationed declaration waiting in `defense`."""
        self._check_supply_defense_averages(action)
        self._event("supply_defense_averages", action.actor, {"note": action.note})
        return self._queue(OperationKind.defense_average, action.actor, {})

    @supply_defense_averages.validator
    def validate_supply_defense_averages(self, action: RoundAction) -> None:
        self._authenticate("supply_defense_averages", action)
        self._check_supply_defense_averages(action)

    def _check_supply_defense_averages(self, action: RoundAction) -> None:
        self._check_open()
        _require(action.actor, Role.evaluation_body)

    # --- updates: committee (R20) --------------------------------------------------------

    @workflow.update
    async def set_committee(self, action: SetCommittee) -> RoundState:
        self._check_set_committee(action)
        self._p.committee = action.committee
        self._event("set_committee", action.actor, action.committee.model_dump(mode="json"))
        self._publish()
        return self._state()

    @set_committee.validator
    def validate_set_committee(self, action: SetCommittee) -> None:
        self._authenticate("set_committee", action)
        self._check_set_committee(action)

    def _check_set_committee(self, action: SetCommittee) -> None:
        self._check_open()
        _require(action.actor, Role.supervisor, Role.evaluation_body)

    @workflow.update
    async def open_session(self, action: OpenSession) -> CommitteeSession:
        """R20: the session's composition and attendance, recorded once. A session without
        2/3 of the members attending is recorded as not valid and takes no votes."""
        members, committee_name = self._check_open_session(action)
        tally = tally_vote(
            len(members),
            len(action.attending),
            0,
            self._config.quorum_ratio,
            self._config.pass_ratio,
        )
        session = CommitteeSession(
            session_id=action.session_id,
            held_at=workflow.now(),
            recorded_by=action.actor,
            committee_name=committee_name,
            members=members,
            attending=sorted(action.attending),
            required_attendance=tally.required_attendance,
            valid=tally.quorum_met,
        )
        self._p.sessions.append(session)
        self._event("open_session", action.actor, session.model_dump(mode="json"))
        self._publish()
        return session

    @open_session.validator
    def validate_open_session(self, action: OpenSession) -> None:
        self._authenticate("open_session", action)
        self._check_open_session(action)

    def _check_open_session(self, action: OpenSession) -> tuple[list[str], str]:
        """The session's members and committee name, or the refusal. A drawn session
        (workflows/committee.py, as the system) brings its own composition; a session the
        secretary records by hand is of the round's committee (`set_committee`)."""
        self._check_open()
        if action.drawn is not None:
            _require(action.actor, Role.system)
            members, committee_name = action.drawn.members, action.drawn.committee_name
        else:
            _require(action.actor, Role.committee)
            if self._p.committee is None:
                raise _refuse("Invalid", "no committee composition yet: set_committee first")
            members = [member.id for member in self._p.committee.members]
            committee_name = self._p.committee.name
        if any(s.session_id == action.session_id for s in self._p.sessions):
            message = f"session {action.session_id} is already recorded"
            raise invalid(message, "session_recorded", session_id=action.session_id)
        unknown = sorted(set(action.attending) - set(members))
        if unknown:
            raise _refuse("Invalid", f"not committee members: {', '.join(unknown)}")
        if len(set(action.attending)) != len(action.attending):
            raise _refuse("Invalid", "a member is listed twice in attending")
        return members, committee_name

    @workflow.update
    async def committee_votes(self, action: CommitteeVotes) -> OperationAccepted:
        """R20: the votes of a valid session, one per declaration (at most 1000 per call)."""
        session = self._votes_session(action)
        session.votes_operations.append(self._p.next_operation_id)
        payload = {
            "actor": action.actor.model_dump(mode="json"),
            "session_id": session.session_id,
            "members": len(session.members),
            "attending": len(session.attending),
            "votes": [vote.model_dump(mode="json") for vote in action.votes],
        }
        return self._queue(OperationKind.committee_votes, action.actor, payload)

    @committee_votes.validator
    def validate_committee_votes(self, action: CommitteeVotes) -> None:
        self._authenticate("committee_votes", action)
        self._votes_session(action)

    def _votes_session(self, action: CommitteeVotes) -> CommitteeSession:
        """The session the votes are for (workflows/round_checks.py), or the refusal."""
        self._check_open()
        _require(action.actor, Role.committee)
        session = votes_session(self._p.sessions, self._year, action)
        if isinstance(session, Refused):
            raise refusal_error(session)
        return session

    # --- updates: R22 --------------------------------------------------------------------

    @workflow.update
    async def draw_spot_check(self, action: DrawSpotCheck) -> OperationAccepted:
        """R22: a random sample of the approved declarations; the seed is recorded, so the
        same population redraws the same sample."""
        self._check_draw_spot_check(action)
        seed = workflow.random().getrandbits(63)
        check = SpotCheck(
            check_id=len(self._p.spot_checks) + 1,
            seed=seed,
            ratio=action.ratio or self._in.spot_check_ratio,
            minimum=self._in.spot_check_minimum if action.minimum is None else action.minimum,
            requested_by=action.actor,
            requested_at=workflow.now(),
            operation_id=self._p.next_operation_id,
        )
        self._p.spot_checks.append(check)
        return self._queue(OperationKind.spot_check, action.actor, {"check_id": check.check_id})

    @draw_spot_check.validator
    def validate_draw_spot_check(self, action: DrawSpotCheck) -> None:
        self._authenticate("draw_spot_check", action)
        self._check_draw_spot_check(action)

    def _check_draw_spot_check(self, action: DrawSpotCheck) -> None:
        self._check_open()
        _require(action.actor, Role.supervisor)
        if not any(batch.ended for batch in self._p.batches):
            raise _refuse(
                "WrongStage",
                "no result publicity has ended yet: "
                "spot checks follow the publicized results (R22)",
            )

    @workflow.update
    async def record_spot_check_result(self, action: SpotCheckResult) -> SpotCheckFinding:
        """R22: a finding on one declaration; fraud revokes the title and writes the
        integrity archive (R8). Fraud found outside the sample counts as well."""
        check = self._finding_check(action)
        finding = SpotCheckFinding(
            workflow_id=action.workflow_id,
            fraud=action.fraud,
            finding=action.finding,
            recorded_by=action.actor,
            recorded_at=workflow.now(),
            in_sample=action.workflow_id in check.sample,
        )
        check.findings.append(finding)
        self._event("spot_check_finding", action.actor, finding.model_dump(mode="json"))
        if action.fraud:
            accepted = self._queue(
                OperationKind.revoke,
                action.actor,
                {"workflow_id": action.workflow_id, "reason": action.finding},
            )
            finding.revocation_operation = accepted.operation_id
        self._publish()
        return finding

    @record_spot_check_result.validator
    def validate_record_spot_check_result(self, action: SpotCheckResult) -> None:
        self._authenticate("record_spot_check_result", action)
        self._finding_check(action)

    def _finding_check(self, action: SpotCheckResult) -> SpotCheck:
        """The spot check the finding belongs to (workflows/round_checks.py), or the refusal."""
        self._check_open()
        _require(action.actor, Role.supervisor)
        check = finding_check(self._p.spot_checks, self._year, action)
        if isinstance(check, Refused):
            raise refusal_error(check)
        return check

    # --- updates: housekeeping -----------------------------------------------------------

    @workflow.update
    async def refresh_statistics(self, action: RoundAction) -> OperationAccepted:
        self._check_refresh_statistics(action)
        return self._queue(OperationKind.refresh_statistics, action.actor, {})

    @refresh_statistics.validator
    def validate_refresh_statistics(self, action: RoundAction) -> None:
        self._authenticate("refresh_statistics", action)
        self._check_refresh_statistics(action)

    def _check_refresh_statistics(self, action: RoundAction) -> None:
        self._check_open()

    @workflow.update
    async def close(self, action: RoundAction) -> RoundState:
        """End the round once its queued operations are done (revocations after that are
        a new round's, or an operator's, business)."""
        self._check_close(action)
        self._p.closing = True
        self._event("close", action.actor, {"note": action.note})
        self._publish()
        return self._state()

    @close.validator
    def validate_close(self, action: RoundAction) -> None:
        self._authenticate("close", action)
        self._check_close(action)

    def _check_close(self, action: RoundAction) -> None:
        self._check_open()
        _require(action.actor, Role.supervisor)

    # --- query and UI --------------------------------------------------------------------

    @workflow.query
    def state(self) -> RoundState:
        return self._state()

    def _state(self) -> RoundState:
        return RoundState(
            workflow_id=workflow.info().workflow_id,
            year=self._year,
            specialty=self._in.specialty,
            document_number_prefix=self._in.document_number_prefix,
            listing=self._in.listing,
            config=self._config,
            plan=self._plan,
            progress=self._p,
            history_length=workflow.info().get_current_history_length(),
            refused=self._refused,
        )

    def _phase(self) -> str:
        now, c = workflow.now(), self._config
        if now < c.submission_opens_at:
            return f"before submission (opens {shanghai_iso(c.submission_opens_at)})"
        if now < c.submission_closes_at:
            return f"submission open until {shanghai_iso(c.submission_closes_at)}"
        if now < c.review_opens_at:
            return f"between windows (review opens {shanghai_iso(c.review_opens_at)})"
        if now < c.review_closes_at:
            return f"review open until {shanghai_iso(c.review_closes_at)}"
        if now < c.payment_closes_at:
            return f"payment open until {shanghai_iso(c.payment_closes_at)}"
        return "windows closed: defense, committee, results, spot checks"

    def _publish(self) -> None:
        statistics = self._p.statistics
        counts = (
            ", ".join(f"{stage} {count}" for stage, count in statistics.by_stage.items())
            if statistics
            else "not read yet"
        )
        running = self._next_operation()
        doing = (
            f"operation {running.id} {running.kind.value}: {running.status.value}, "
            f"{running.done} done, {running.skipped} skipped, {running.failed} failed"
            if running
            else "waiting for round actions"
        )
        c = self._config
        as_of = f" as of {shanghai_iso(statistics.as_of)}" if statistics else ""
        workflow.set_current_details(
            f"round {self._year}: {self._phase()}\n"
            # the windows now (the static summary keeps those the round started with)
            f"windows: submission {_days(c.submission_opens_at, c.submission_closes_at)}, "
            f"review {_days(c.review_opens_at, c.review_closes_at)}, payment until "
            f"{shanghai_iso(c.payment_closes_at)}\n"
            f"declarations{as_of}: {statistics.total if statistics else '?'} ({counts})\n"
            f"now: {doing}\n"
            f"sessions {len(self._p.sessions)}, result batches {len(self._p.batches)}, "
            f"spot checks {len(self._p.spot_checks)}, revocations {len(self._p.revocations)}, "
            f"run {self._p.runs}"
        )


@workflow.defn(name="RoundLauncher")
class RoundLauncherWorkflow:
    """Started by the yearly Schedule with a fixed argument: derives the year from the
    scheduled time (`TemporalScheduledStartTime`, Asia/Shanghai) and starts `round-{year}`
    unless it already runs (overlap SKIP covers the Schedule itself; this covers a round
    started by hand)."""

    @workflow.run
    async def run(self, launch: RoundLaunch) -> RoundLaunched:
        scheduled = workflow.info().typed_search_attributes.get(TEMPORAL_SCHEDULED_START_TIME)
        at = scheduled or workflow.now()
        year = launch.year or round_year_of(at)
        round_input = await calls.prepare_round(PrepareRound(year=year, listing=launch.listing))
        round_id = round_workflow_id(year)
        try:
            await workflow.start_child_workflow(
                RoundWorkflow.run,
                round_input,
                id=round_id,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                static_summary=round_summary(round_input),
            )
        except WorkflowAlreadyStartedError:
            return RoundLaunched(year=year, workflow_id=round_id, started=False, scheduled_at=at)
        return RoundLaunched(year=year, workflow_id=round_id, started=True, scheduled_at=at)


def round_summary(round_input: RoundInput) -> str:
    """The static summary the UI shows for a round: fixed when it starts, so it says the
    windows it started with; its current details follow every change."""
    c = round_input.config
    return (
        f"{c.year} round ({round_input.specialty}), as started: "
        f"submission {_days(c.submission_opens_at, c.submission_closes_at)}, "
        f"review {_days(c.review_opens_at, c.review_closes_at)} (Asia/Shanghai)"
    )


def _days(opens_at: datetime, closes_at: datetime) -> str:
    """A window as its first and last day: one closing at 00:00 ends the day before."""
    last = shanghai_date(closes_at - timedelta(microseconds=1))
    return f"{shanghai_date(opens_at).isoformat()} – {last.isoformat()}"
