"""The `Declaration` workflow: one applicant's declaration in one round, R9–R20.

Shape: update handlers decide and change the state at once (no await between the check
and the change), then queue what must be written; the main loop is the single writer that
records each transition (audit, projection and its notifications, in one activity), in
order; a handler returns to the reviewer once its own transition is recorded. Every deadline is the
timeout of one `wait_condition`, i.e. a durable timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.common import STAGE_NAMES_ZH, Actor, Role, Stage
    from models.declaration import (
        Action,
        AllowedAction,
        AssignAction,
        CommitteeVoteAction,
        CompetentUnitOpinionAction,
        CorrectionReturnAction,
        DeclarationInput,
        DeclarationState,
        DefenseArrangementAction,
        DefenseScoreAction,
        Objection,
        ObjectionAction,
        PaymentAction,
        RecommendAction,
        ResolveObjectionAction,
        ReturnAction,
        SubmitAction,
        TimelineEntry,
        WindowChangeAction,
    )
    from models.documents import (
        DeclarationDocument,
        DocumentContent,
        DocumentKind,
        DocumentPerson,
        PublishRequest,
    )
    from models.records import NotificationEvent, TransitionRecord
    from models.round import WINDOW_FIELDS, RoundConfig, TallyDisclosure
    from models.search_attributes import (
        JURISDICTION,
        LEVEL,
        NEXT_DEADLINE,
        RECORD_FAILING,
        RETURN_COUNT,
        ROUND_YEAR,
        STAGE,
    )
    from rules.actions import HOLDERS, Refused, action_refusal, allowed_in
    from rules.assignment import assignment_refusal
    from rules.blind_review import first_identifying_title, masked_check_refusal
    from rules.calendar import CalendarYearUnknown
    from rules.committee import tally_vote
    from rules.deadlines import (
        correction_deadline,
        deadline_refusal,
        payment_deadline,
        window_refusal,
    )
    from rules.eligibility import check_eligibility, defense_exempt, defense_required
    from rules.publicity import round_publicity_ends_at
    from rules.recommendation import RECOMMENDATION_OPINION
    from rules.reminders import Reminder, next_reminder, reminder_leads, stage_reminders
    from rules.round_plan import late_publicity_refusal
    from rules.timezone import shanghai_date, shanghai_iso
    from workflows import calls, patches
    from workflows import documents as docs
    from workflows.authentication import actor_refusal
    from workflows.records import (
        Notice,
        notifications,
        record_rejection,
        record_retry_delay,
        reminder_notice,
        transition_record,
    )
    from workflows.refusals import invalid, refusal_error
    from workflows.windows import changed_config, window_changes


SYSTEM = Actor(role=Role.system, id="declaration-workflow")
EMPLOYER_NAME_ZH = "用人单位"
COMPETENT_UNIT_NAME_ZH = "主管单位"
EVALUATION_BODY_NAME_ZH = "评审机构"


# R10: stages that end as not_submitted when submission closes (publicity too, unless it ends
# first: it has its own timer).
BEFORE_EVALUATION_BODY = (
    Stage.draft,
    Stage.employer_review,
    Stage.recommendation,
    Stage.competent_unit_review,
)


_refuse, _invalid = refusal_error, invalid  # the short names the checks below use


@workflow.defn(name="Declaration")
class DeclarationWorkflow:
    @workflow.init
    def __init__(self, declaration: DeclarationInput) -> None:
        self._in = declaration
        self._round = declaration.round
        self._materials = list(declaration.materials)
        self._stage = Stage.draft
        self._return_count = 0  # R15
        self._masking_return_count = 0  # R11: returns because the masking was incomplete
        self._employer_return_count = 0  # R12
        self._objections: list[Objection] = []
        self._publicity_ends_at: datetime | None = None
        self._correction_deadline: datetime | None = None
        self._payment_due_at: datetime | None = None
        self._result_publicity_ends_at: datetime | None = None
        self._review_overdue = False
        self._defense_exempt = defense_exempt(declaration.eligibility)  # R19
        self._defense_score: float | None = None
        self._defense_starts_at: datetime | None = None  # R18: the latest arrangement's time
        self._committee_result: dict[str, Any] | None = None
        self._ending_reason: str | None = None
        self._timeline: list[TimelineEntry] = []
        self._documents: dict[DocumentKind, DeclarationDocument] = {}  # R21, R23
        self._publishing: list[asyncio.Task[None]] = []
        self._pending: list[TransitionRecord] = []  # written in order by the main loop
        self._seq = 0
        self._recorded_seq = 0
        self._record_failure: str | None = None  # why the database refuses _pending[0]
        self._stage_since = workflow.now()  # when the current stage was entered
        self._reminded: list[str] = []  # the reminders sent (Reminder.id), each once
        self._assignees: dict[Role, Actor] = {}  # R26: 转办, by the organisation's role
        # The start is decided here, not in run(): an update can arrive in the very first
        # workflow task, and its handler must find the declaration already started.
        refusals = check_eligibility(declaration, shanghai_date(workflow.now()))  # R1–R8
        if refusals:
            self._transition(
                Stage.ineligible,
                "check_eligibility",
                SYSTEM,
                reason="; ".join(f"{r.rule}: {r.reason}" for r in refusals),
                notify=NotificationEvent.ineligible,
                context={
                    "refusals": [{"rule": r.rule, "reason_zh": r.reason_zh} for r in refusals]
                },
            )
        else:
            self._transition(Stage.draft, "start", SYSTEM)

    # --- main loop -----------------------------------------------------------------------

    @workflow.run
    async def run(self, declaration: DeclarationInput) -> DeclarationState:
        while True:
            await self._write_pending()
            if self._stage.is_ending:
                break
            deadline = self._next_deadline()
            reminder = self._next_reminder(deadline)
            if reminder is not None:  # due first: a timer of its own
                if not await self._next_change_before(reminder.at):
                    self._remind(reminder)
            elif not await self._next_change_before(deadline):
                self._on_deadline()

        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._documents_settled()
        await self._write_pending()
        return self._state()

    async def _next_change_before(self, deadline: datetime | None) -> bool:
        """Wait for a transition (True) or for the deadline's durable timer (False)."""
        seq_before = self._seq
        if deadline is not None and deadline <= workflow.now():
            return False
        try:
            await workflow.wait_condition(
                lambda: self._seq != seq_before,
                timeout=None if deadline is None else deadline - workflow.now(),
                timeout_summary=None if deadline is None else f"until {shanghai_iso(deadline)}",
            )
        except TimeoutError:
            return False
        return True

    def _next_deadline(self) -> datetime | None:
        """The one instant the current stage waits for, if any."""
        r = self._round
        if self._stage in BEFORE_EVALUATION_BODY:
            return r.submission_closes_at  # R10
        if self._stage is Stage.publicity:
            assert self._publicity_ends_at is not None
            return min(self._publicity_ends_at, r.submission_closes_at)
        if self._stage is Stage.evaluation_review and not self._review_overdue:
            return r.review_closes_at  # R9
        if self._stage is Stage.correction:
            return self._correction_deadline  # R15
        if self._stage is Stage.payment:
            return self._payment_due_at  # R17
        if self._stage is Stage.result_publicity and not self._open_objections():
            return self._result_publicity_ends_at  # R20
        return None

    def _next_reminder(self, deadline: datetime | None) -> Reminder | None:
        """The reminder to send before the stage's deadline, if any (rules/reminders.py).
        The patch is asked for only in a stage that has reminders: a declaration's first
        workflow task (in draft) stays as it was."""
        r = self._round
        reminders = stage_reminders(
            self._stage,
            leads=reminder_leads(r),  # the round's; an older input's are the defaults
            submission_closes_at=r.submission_closes_at,
            review_closes_at=None if self._review_overdue else r.review_closes_at,
            correction_deadline=self._correction_deadline,
            payment_due_at=self._payment_due_at,
        )
        if not reminders or not workflow.patched(patches.REMINDERS):
            return None
        found = next_reminder(reminders, self._reminded, self._stage_since, workflow.now())
        if found is None or (deadline is not None and found.at >= deadline):
            return None
        return found

    def _remind(self, reminder: Reminder) -> None:
        """A same-stage transition with the reminder's message, once per reminder: recorded
        like any other (audit, outbox under its own key), so a retry sends nothing twice."""
        self._reminded.append(reminder.id)
        deadline = shanghai_iso(reminder.deadline)
        self._transition(
            self._stage,
            "reminder",
            SYSTEM,
            reason=f"{reminder.kind.value} reminder: the deadline is {deadline}",
            notices=[reminder_notice(reminder, self._stage)],
            details={"kind": reminder.kind.value, "to": reminder.to.value, "deadline": deadline},
        )

    def _on_deadline(self) -> None:
        now = workflow.now()
        stage = self._stage
        if stage in BEFORE_EVALUATION_BODY or (
            stage is Stage.publicity and now >= self._round.submission_closes_at
        ):
            # R10: not with the evaluation body by the close of submission.
            self._transition(
                Stage.not_submitted,
                "submission_closed",
                SYSTEM,
                reason=f"submission closed at {shanghai_iso(self._round.submission_closes_at)}",
                notify=NotificationEvent.not_submitted,
                context={"submission_closes_at": shanghai_iso(self._round.submission_closes_at)},
            )
        elif stage is Stage.publicity:
            self._transition(  # R13; the employer's to recommend now (R14)
                Stage.recommendation,
                "publicity_ended",
                SYSTEM,
                notices=[self._to_holder(NotificationEvent.publicity_ended)],
            )
            self._publish_publicity_result()  # attachment 3
        elif stage is Stage.evaluation_review:
            # R9 (interp.): the reviewer's delay is flagged, never held against the applicant.
            self._review_overdue = True
            context = {"review_closes_at": shanghai_iso(self._round.review_closes_at)}
            self._transition(
                Stage.evaluation_review,
                "review_overdue",
                SYSTEM,
                reason="the evaluation body has not finished the review by the window's close",
                notify=NotificationEvent.review_overdue,
                recipients=[Role.evaluation_body, Role.supervisor],
                context=context,
            )
        elif stage is Stage.correction:
            assert self._correction_deadline is not None
            deadline = shanghai_iso(self._correction_deadline)
            self._transition(
                Stage.abandoned,
                "correction_overdue",
                SYSTEM,
                reason=f"not corrected by {deadline}",  # R15
                notify=NotificationEvent.abandoned,
                context={"correction_deadline": deadline},
            )
        elif stage is Stage.payment:
            assert self._payment_due_at is not None
            due = shanghai_iso(self._payment_due_at)
            self._transition(
                Stage.unpaid,
                "payment_overdue",
                SYSTEM,
                reason=f"fee not paid by {due}",  # R17
                notify=NotificationEvent.unpaid,
                context={"payment_closes_at": due},
            )
        elif stage is Stage.result_publicity:
            self._transition(
                Stage.approved,
                "result_publicity_ended",
                SYSTEM,
                notify=NotificationEvent.approved,
            )  # R20 → R21
            self._publish_document(  # R21
                docs.approval_document(self._round.year, self._document_person())
            )

    # --- transitions and their effects ---------------------------------------------------

    def _transition(
        self,
        to: Stage,
        action: str,
        actor: Actor,
        *,
        reason: str | None = None,
        notify: NotificationEvent | None = None,
        recipients: list[Role] | None = None,
        context: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
        notices: Sequence[Notice] = (),
        assignee: Actor | None = None,
    ) -> int:
        """Change the stage now; queue the record and notifications: `notify` to each of
        `recipients` (default the applicant) with `context`, and the other `notices`;
        `assignee`: whom an `assign` handed the declaration to (R26). Returns the seq."""
        self._seq += 1
        from_stage, self._stage = self._stage, to
        if to is not from_stage:
            self._stage_since = workflow.now()  # reminders due before it are not sent
        if to.is_ending and self._ending_reason is None:
            self._ending_reason = reason
        workflow_id = workflow.info().workflow_id
        entry = TimelineEntry(
            seq=self._seq,
            at=workflow.now(),
            actor=actor,
            action=action,
            from_stage=from_stage,
            to_stage=to,
            reason=reason,
            assignee=assignee,
        )
        self._timeline.append(entry)
        if notify is not None:
            roles = recipients or [Role.applicant]
            notices = [*(Notice(notify, role, context) for role in roles), *notices]
        messages = notifications(
            self._in,
            notices,
            workflow_id=workflow_id,
            seq=self._seq,
            round_year=self._round.year,
        )
        record = transition_record(
            self._in,
            entry,
            workflow_id=workflow_id,
            round_year=self._round.year,
            return_count=self._return_count,
            deadlines=self._deadlines(),
            details=details,
            notifications=messages,
            assignee=self._holder_assignee(to),
        )
        self._pending.append(record)
        self._publish_progress()
        # Not logged on replay (the SDK's workflow logger); `stage` is a field of JSON logs.
        workflow.logger.info(
            "%s by %s: %s -> %s",
            action,
            actor.role.value,
            from_stage.value,
            to.value,
            extra={"stage": to.value, "seq": self._seq},
        )
        return self._seq

    def _holder_assignee(self, stage: Stage) -> str | None:
        """R26: the assignee of the organisation holding the declaration in `stage`, as the
        projection keeps it (its actor id, `role:username`)."""
        holder = HOLDERS.get(stage)
        assigned = self._assignees.get(holder) if holder is not None else None
        return assigned.id if assigned is not None else None

    # --- who is told that work arrived (docs/delivery.md, "Who is told what") ---------------

    def _receipt(self, to_zh: str, context: dict[str, Any]) -> Notice:
        """The applicant's receipt of a submission (R11) or a resubmission (R15)."""
        return Notice(NotificationEvent.submitted, Role.applicant, {"to_zh": to_zh, **context})

    def _to_holder(
        self,
        event: NotificationEvent,
        context: dict[str, Any] | None = None,
        role: Role = Role.employer,
    ) -> Notice:
        """Work for the employer (or the competent unit), to be done by the close of
        submission (R10)."""
        closes = shanghai_iso(self._round.submission_closes_at)
        return Notice(event, role, {"submission_closes_at": closes, **(context or {})})

    def _arrived(self, context: dict[str, Any] | None = None) -> Notice:
        """A declaration reached the evaluation body (blind, R11: no name, no id), with its
        review window (R9)."""
        r = self._round
        window = {
            "review_opens_at": shanghai_iso(r.review_opens_at),
            "review_closes_at": shanghai_iso(r.review_closes_at),
            "resubmission": False,
        }
        return Notice(
            NotificationEvent.declaration_arrived, Role.evaluation_body, window | (context or {})
        )

    def _recommended(self, by_zh: str, via_competent_unit: bool) -> list[Notice]:
        """R14: the applicant is told where the recommendation went; the competent unit or
        the evaluation body that it arrived."""
        to_zh = COMPETENT_UNIT_NAME_ZH if via_competent_unit else EVALUATION_BODY_NAME_ZH
        told = Notice(
            NotificationEvent.recommended, Role.applicant, {"by_zh": by_zh, "to_zh": to_zh}
        )
        if via_competent_unit:
            received = NotificationEvent.recommendation_received
            return [told, self._to_holder(received, role=Role.competent_unit)]
        return [told, self._arrived()]

    def _publish_progress(self) -> None:
        """Search attributes and UI details follow every transition."""
        deadline = None if self._stage.is_ending else self._next_deadline()
        updates: list[SearchAttributeUpdate[Any]] = [
            ROUND_YEAR.value_set(self._round.year),
            LEVEL.value_set(self._in.level.value),
            STAGE.value_set(self._stage.value),
            JURISDICTION.value_set(self._in.jurisdiction.value),
            RETURN_COUNT.value_set(self._return_count),
        ]
        if workflow.patched(patches.NEXT_DEADLINE):
            updates.append(
                NEXT_DEADLINE.value_set(deadline) if deadline else NEXT_DEADLINE.value_unset()
            )
        workflow.upsert_search_attributes(updates)
        waits_for = ", ".join(allowed_in(self._stage)) or "nothing"
        workflow.set_current_details(
            f"stage: {self._stage.value} ({STAGE_NAMES_ZH[self._stage]})\n"
            f"next deadline: {shanghai_iso(deadline) if deadline else 'none'}\n"
            f"waiting for: {waits_for}"
        )

    async def _write_pending(self) -> None:
        """Write queued transitions in order, each with its notifications (one activity). A
        transition the database refuses stays first in line: the state says why, and it is
        written again on a backing-off timer until the cause is fixed; deadlines that passed
        meanwhile are acted on as soon as it is written (the main loop waits here)."""
        failures = 0
        while self._pending:
            record = self._pending[0]
            locally = workflow.patched(patches.RECORD_LOCALLY)
            if not workflow.patched(patches.RECORD_FAILURES):
                self._pending.pop(0)
                await calls.record_transition(record, locally=locally)
                self._recorded_seq = record.seq
                continue
            try:
                await calls.record_transition(record, locally=locally)
            except (ActivityError, ApplicationError) as exc:  # a local activity's: the latter
                refusal = record_rejection(exc)
                if refusal is None:
                    raise
                failures += 1
                self._show_record_failure(refusal)
                await workflow.sleep(record_retry_delay(failures))
                continue
            self._pending.pop(0)
            self._recorded_seq = record.seq
            if self._record_failure is not None:
                self._show_record_failure(None)

    def _show_record_failure(self, refusal: str | None) -> None:
        """The refusal (or its end) in the state, the RecordFailing search attribute and the
        UI's details."""
        self._record_failure = refusal
        workflow.upsert_search_attributes(
            [RECORD_FAILING.value_set(True) if refusal else RECORD_FAILING.value_unset()]
        )
        if refusal:
            workflow.logger.error("Transition not recorded: %s", refusal)
            workflow.set_current_details(f"RECORD FAILING: {refusal}")
        else:
            self._publish_progress()

    async def _recorded(self, seq: int) -> DeclarationState:
        """Let the reviewer's update return once its transition is written, or, while the
        database refuses it, with the state saying so (the transition stands)."""
        await workflow.wait_condition(
            lambda: self._recorded_seq >= seq or self._record_failure is not None
        )
        return self._state()

    # --- documents (R21, R23) ------------------------------------------------------------
    # Published in the background: a document never holds up a transition, an update or a
    # deadline. Each kind once per declaration; `state.documents` shows how each went.

    def _publish_document(self, document: DocumentContent | None) -> None:
        if document is None:  # nothing to publish (builders in workflows/documents.py)
            return
        if document.kind in self._documents or not workflow.patched(patches.DOCUMENTS):
            return
        request = docs.publish_request(workflow.info().workflow_id, workflow.now(), document)
        self._documents[document.kind] = docs.publishing(document.kind)
        self._publishing.append(asyncio.create_task(self._publication(request)))

    async def _publication(self, request: PublishRequest) -> None:
        kind = request.document.kind
        try:
            done = await calls.publish_document(request)
        except ActivityError as exc:
            error = str(exc.cause or exc)
            workflow.logger.warning("Document %s not published: %s", kind.value, error)
            self._documents[kind] = docs.failed(kind, error)
            return
        self._documents[kind] = docs.published(kind, done)

    async def _documents_settled(self) -> None:
        """The workflow ends only after its documents (the approval document comes last)."""
        if self._publishing:
            await asyncio.gather(*self._publishing)

    def _document_person(self) -> DocumentPerson:
        return docs.document_person(self._in, workflow.info().workflow_id)

    def _publicity_started_at(self) -> datetime:
        return next(e.at for e in reversed(self._timeline) if e.action == "start_publicity")

    def _publish_publicity_result(self) -> None:
        """Attachment 3, when the publicity is over and none of its objections is open (an
        upheld one has ended the declaration)."""
        if self._stage is not Stage.recommendation:
            return
        assert self._publicity_ends_at is not None
        self._publish_document(
            docs.publicity_result(
                self._round,
                self._document_person(),
                self._publicity_started_at(),
                self._publicity_ends_at,
                self._objections,
            )
        )

    # --- checks shared by validators and handlers --------------------------------------
    # Each update's validator (`validate_<action>`, run by the SDK before the update is
    # accepted, never on replay) first authenticates the actor, then makes the action's
    # checks (`_check_<action>`: role, stage, window, input). The handler repeats only the
    # checks: it also runs on replay, where the old updates in the history are unsigned and
    # the clock is the recorded one.

    def _authenticate(self, update: str, action: Action) -> None:
        """The actor must be signed for this workflow and this update, recently, by a key the
        worker installed (rules/actor_signature.py, rules/actor_keys.py): else
        `Unauthenticated`, and nothing is recorded."""
        refused = actor_refusal(update, action.actor, action.signature)
        if refused is not None:
            raise _refuse(refused)

    def _check(self, action: str, actor: Actor) -> None:
        refused = action_refusal(action, actor.role, self._stage)
        if refused is not None:
            raise _refuse(refused)

    def _check_window(self, name: str, opens_at: datetime, closes_at: datetime) -> None:
        refused = window_refusal(name, workflow.now(), opens_at, closes_at)
        if refused is not None:
            raise _refuse(refused)

    def _check_submission_window(self) -> None:
        r = self._round  # R9, R10: everything before the evaluation body happens in it
        self._check_window("submission", r.submission_opens_at, r.submission_closes_at)

    def _check_before(self, deadline: datetime | None, name: str) -> None:
        assert deadline is not None
        refused = deadline_refusal(name, workflow.now(), deadline)
        if refused is not None:
            raise _refuse(refused)

    def _open_objections(self) -> list[Objection]:
        return [o for o in self._objections if o.upheld is None]

    # --- applicant ------------------------------------------------------------------------

    @workflow.update
    async def submit(self, action: SubmitAction) -> DeclarationState:
        self._check_submit(action)
        if action.materials is not None:
            self._materials = list(action.materials)
        again = {"resubmission": self._employer_return_count > 0}  # after an employer return
        seq = self._transition(
            Stage.employer_review,
            "submit",
            action.actor,
            reason=action.note,
            notices=[
                self._receipt(EMPLOYER_NAME_ZH, again),
                self._to_holder(NotificationEvent.declaration_submitted, again),  # R12
            ],
        )
        # attachment 5 (R4)
        self._publish_document(docs.exemption(self._in, self._round.year, self._document_person()))
        return await self._recorded(seq)

    @submit.validator
    def validate_submit(self, action: SubmitAction) -> None:
        self._authenticate("submit", action)
        self._check_submit(action)

    def _check_submit(self, action: SubmitAction) -> None:
        self._check("submit", action.actor)
        self._check_submission_window()
        self._check_materials(action)

    def _check_materials(self, action: SubmitAction) -> None:
        materials = self._materials if action.materials is None else action.materials
        if not materials:
            raise _invalid("no materials: upload at least one scanned material before submitting")
        unmasked = [m.name for m in materials if not m.masked]
        if unmasked:  # R11 blind review
            raise _invalid(
                "materials not masked (name and employer must be covered for blind review): "
                + ", ".join(unmasked)
            )
        if self._titles_checked():  # R11: titles are shown to the evaluation body
            found = first_identifying_title([m.name for m in materials], self._in.applicant)
            if found is not None:  # the kind found, never the value
                index, kind = found
                message = f"materials[{index}]: the title identifies the applicant ({kind})"
                raise _refuse(Refused("IdentifyingTitle", message))
        if self._in.masked_text_check and self._masked_copies_checked():
            refused = masked_check_refusal(materials)  # R11: OCR of each masked copy
            if refused is not None:
                raise _refuse(refused)

    def _masked_copies_checked(self) -> bool:
        """As `_titles_checked`, from its own patch: the OCR verdicts of masked copies."""
        return workflow.unsafe.is_read_only() or workflow.patched(patches.MASKED_TEXT_CHECK)

    def _titles_checked(self) -> bool:
        """Validators always check titles (they never run on replay); handlers from the
        patch on, so that the submissions of older histories replay as they ran."""
        return workflow.unsafe.is_read_only() or workflow.patched(patches.IDENTIFYING_TITLES)

    @workflow.update
    async def resubmit(self, action: SubmitAction) -> DeclarationState:
        self._check_resubmit(action)
        if action.materials is not None:
            self._materials = list(action.materials)
        self._correction_deadline = None
        corrected = {"resubmission": True}
        seq = self._transition(
            Stage.evaluation_review,
            "resubmit",
            action.actor,
            reason=action.note,
            notices=[self._receipt(EVALUATION_BODY_NAME_ZH, corrected), self._arrived(corrected)],
        )
        return await self._recorded(seq)

    @resubmit.validator
    def validate_resubmit(self, action: SubmitAction) -> None:
        self._authenticate("resubmit", action)
        self._check_resubmit(action)

    def _check_resubmit(self, action: SubmitAction) -> None:
        self._check("resubmit", action.actor)
        self._check_before(self._correction_deadline, "correction")  # R15
        self._check_materials(action)

    @workflow.update
    async def withdraw(self, action: Action) -> DeclarationState:
        self._check_withdraw(action)
        seq = self._transition(
            Stage.withdrawn,
            "withdraw",
            action.actor,
            reason=action.note or "withdrawn by the applicant",
            notify=NotificationEvent.withdrawn,
        )
        return await self._recorded(seq)

    @withdraw.validator
    def validate_withdraw(self, action: Action) -> None:
        self._authenticate("withdraw", action)
        self._check_withdraw(action)

    def _check_withdraw(self, action: Action) -> None:
        self._check("withdraw", action.actor)

    # --- employer -------------------------------------------------------------------------

    @workflow.update
    async def employer_return(self, action: ReturnAction) -> DeclarationState:
        self._check_employer_return(action)
        self._employer_return_count += 1  # R12: not counted toward R15
        seq = self._transition(
            Stage.draft,
            "employer_return",
            action.actor,
            reason=action.reason,
            notify=NotificationEvent.employer_returned,
            context={"reason": action.reason},
        )
        return await self._recorded(seq)

    @employer_return.validator
    def validate_employer_return(self, action: ReturnAction) -> None:
        self._authenticate("employer_return", action)
        self._check_employer_return(action)

    def _check_employer_return(self, action: ReturnAction) -> None:
        self._check("employer_return", action.actor)

    @workflow.update
    async def start_publicity(self, action: Action) -> DeclarationState:
        self._check_start_publicity(action)
        self._publicity_ends_at = self._publicity_end_from_now()
        ends = shanghai_iso(self._publicity_ends_at)
        seq = self._transition(
            Stage.publicity,
            "start_publicity",
            action.actor,
            reason=action.note,
            notify=NotificationEvent.publicity_started,
            context={"publicity_ends_at": ends},
            details={"publicity_ends_at": ends},
        )
        assert self._publicity_ends_at is not None
        self._publish_document(  # attachment 2 (R13)
            docs.employer_publicity(
                self._in,
                self._round,
                self._document_person(),
                self._publicity_started_at(),
                self._publicity_ends_at,
            )
        )
        return await self._recorded(seq)

    @start_publicity.validator
    def validate_start_publicity(self, action: Action) -> None:
        self._authenticate("start_publicity", action)
        self._check_start_publicity(action)

    def _check_start_publicity(self, action: Action) -> None:
        self._check("start_publicity", action.actor)
        self._check_submission_window()
        try:
            too_late = late_publicity_refusal(self._round, workflow.now())  # R10, R13
        except CalendarYearUnknown as exc:
            raise _refuse(Refused("CalendarUnknown", str(exc))) from None
        if too_late is not None:
            raise _refuse(too_late)

    def _publicity_end_from_now(self) -> datetime:
        try:
            return round_publicity_ends_at(self._round, workflow.now())  # R13
        except CalendarYearUnknown as exc:
            raise _refuse(Refused("CalendarUnknown", str(exc))) from None

    @workflow.update
    async def raise_objection(self, action: ObjectionAction) -> DeclarationState:
        self._check_raise_objection(action)
        objection = Objection(
            id=len(self._objections) + 1,
            during=self._stage,
            summary=action.summary,
            raised_at=workflow.now(),
            raised_by=action.actor,
        )
        self._objections.append(objection)
        seq = self._transition(
            self._stage,
            "raise_objection",
            action.actor,
            reason=action.summary,
            details={"objection_id": objection.id},
        )
        return await self._recorded(seq)

    @raise_objection.validator
    def validate_raise_objection(self, action: ObjectionAction) -> None:
        self._authenticate("raise_objection", action)
        self._check_raise_objection(action)

    def _check_raise_objection(self, action: ObjectionAction) -> None:
        self._check("raise_objection", action.actor)

    @workflow.update
    async def resolve_objection(self, action: ResolveObjectionAction) -> DeclarationState:
        self._check_resolve_objection(action)
        objection = self._objections[action.objection_id - 1]
        objection.upheld = action.upheld
        objection.resolution = action.resolution
        details = {"objection_id": objection.id, "upheld": action.upheld}
        if action.upheld:  # R13, R20: an upheld objection ends the declaration
            seq = self._transition(
                Stage.rejected,
                "resolve_objection",
                action.actor,
                reason=action.resolution,
                notify=NotificationEvent.objection_upheld,
                context={
                    "resolution": action.resolution,
                    "during_zh": STAGE_NAMES_ZH[objection.during],
                },
                details=details,
            )
        else:
            seq = self._transition(
                self._stage,
                "resolve_objection",
                action.actor,
                reason=action.resolution,
                details=details,
            )
            self._publish_publicity_result()  # attachment 3, once no objection is open
        return await self._recorded(seq)

    @resolve_objection.validator
    def validate_resolve_objection(self, action: ResolveObjectionAction) -> None:
        self._authenticate("resolve_objection", action)
        self._check_resolve_objection(action)

    def _check_resolve_objection(self, action: ResolveObjectionAction) -> None:
        self._check("resolve_objection", action.actor)
        open_ids = [o.id for o in self._open_objections()]
        if action.objection_id not in open_ids:
            raise _invalid(
                f"objection {action.objection_id} is not open; open objections: "
                f"{', '.join(map(str, open_ids)) or 'none'}"
            )

    @workflow.update
    async def recommend(self, action: RecommendAction) -> DeclarationState:
        self._check_recommend(action)
        via_competent_unit = self._in.applicant.employer.competent_unit is not None
        to = Stage.competent_unit_review if via_competent_unit else Stage.evaluation_review
        seq = self._transition(
            to,
            "recommend",
            action.actor,
            reason=action.opinion,
            notices=self._recommended(EMPLOYER_NAME_ZH, via_competent_unit),
            details={
                "publicity_original_ref": action.publicity_original_ref,
                "publicity_result_ref": action.publicity_result_ref,
            },
        )
        return await self._recorded(seq)

    @recommend.validator
    def validate_recommend(self, action: RecommendAction) -> None:
        self._authenticate("recommend", action)
        self._check_recommend(action)

    def _check_recommend(self, action: RecommendAction) -> None:
        self._check("recommend", action.actor)
        self._check_submission_window()
        if self._open_objections():  # R13
            ids = ", ".join(str(o.id) for o in self._open_objections())
            message = f"objections still open: {ids}; resolve them before recommending"
            raise _refuse(Refused("ObjectionsOpen", message))
        if action.opinion != RECOMMENDATION_OPINION:  # R14
            message = f"the opinion must read exactly 「{RECOMMENDATION_OPINION}」"
            raise _invalid(message, "opinion_wording", opinion=RECOMMENDATION_OPINION)

    # --- competent unit -------------------------------------------------------------------

    @workflow.update
    async def competent_unit_recommend(
        self, action: CompetentUnitOpinionAction
    ) -> DeclarationState:
        self._check_competent_unit_recommend(action)
        seq = self._transition(
            Stage.evaluation_review,
            "competent_unit_recommend",
            action.actor,
            reason=action.opinion,
            notices=self._recommended(COMPETENT_UNIT_NAME_ZH, via_competent_unit=False),
        )
        competent_unit = self._in.applicant.employer.competent_unit
        if competent_unit and workflow.patched(patches.COMPETENT_UNIT_OPINION):
            self._publish_document(  # attachment 4 (R14)
                docs.competent_unit_opinion(
                    self._round.year, self._document_person(), competent_unit, action.opinion
                )
            )
        return await self._recorded(seq)

    @competent_unit_recommend.validator
    def validate_competent_unit_recommend(self, action: CompetentUnitOpinionAction) -> None:
        self._authenticate("competent_unit_recommend", action)
        self._check_competent_unit_recommend(action)

    def _check_competent_unit_recommend(self, action: CompetentUnitOpinionAction) -> None:
        self._check("competent_unit_recommend", action.actor)
        self._check_submission_window()

    @workflow.update
    async def competent_unit_return(self, action: ReturnAction) -> DeclarationState:
        self._check_competent_unit_return(action)
        # The publicity stands; the employer mends its recommendation and sends it again.
        seq = self._transition(
            Stage.recommendation,
            "competent_unit_return",
            action.actor,
            reason=action.reason,
            notices=[
                self._to_holder(
                    NotificationEvent.recommendation_returned, {"reason": action.reason}
                )
            ],
        )
        return await self._recorded(seq)

    @competent_unit_return.validator
    def validate_competent_unit_return(self, action: ReturnAction) -> None:
        self._authenticate("competent_unit_return", action)
        self._check_competent_unit_return(action)

    def _check_competent_unit_return(self, action: ReturnAction) -> None:
        self._check("competent_unit_return", action.actor)

    # --- evaluation body ------------------------------------------------------------------

    def _check_review_open(self) -> None:
        # R9: not before the review window; after its close the review is overdue but still
        # allowed, so a late reviewer never ends a declaration against the applicant.
        r = self._round
        if workflow.now() < r.review_opens_at:
            self._check_window("review", r.review_opens_at, r.review_closes_at)

    @workflow.update
    async def accept_materials(self, action: Action) -> DeclarationState:
        self._check_accept_materials(action)
        now = workflow.now()
        self._payment_due_at = payment_deadline(self._round, now)  # R17
        due = shanghai_iso(self._payment_due_at)
        seq = self._transition(
            Stage.payment,
            "accept_materials",
            action.actor,
            reason=action.note,
            notify=NotificationEvent.materials_accepted,  # R16
            context={"payment_closes_at": due},
        )
        return await self._recorded(seq)

    @accept_materials.validator
    def validate_accept_materials(self, action: Action) -> None:
        self._authenticate("accept_materials", action)
        self._check_accept_materials(action)

    def _check_accept_materials(self, action: Action) -> None:
        self._check("accept_materials", action.actor)
        self._check_review_open()

    @workflow.update
    async def return_for_correction(self, action: CorrectionReturnAction) -> DeclarationState:
        self._check_return_for_correction(action)
        # R11: a return for incomplete masking counts toward R15 only where the round says so.
        # No patch: only an update carrying masking_incomplete (none before it existed) takes
        # the new branch; every other return is decided and recorded exactly as before.
        counted = not action.masking_incomplete or self._round.masking_return_counts
        masking: dict[str, Any] = {}
        if action.masking_incomplete:
            self._masking_return_count += 1
            masking = {"masking_incomplete": True, "counted": counted}
        if counted:
            self._return_count += 1
        if counted and self._return_count > self._round.max_returns:  # R15: the 4th locks
            seq = self._transition(
                Stage.locked,
                "return_for_correction",
                action.actor,
                reason=action.reason,
                notify=NotificationEvent.locked,
                context={"return_count": self._return_count, "reason": action.reason} | masking,
                details=masking or None,
            )
        else:
            self._correction_deadline = correction_deadline(
                workflow.now(), self._round.correction_hours
            )  # R15
            deadline = shanghai_iso(self._correction_deadline)
            seq = self._transition(
                Stage.correction,
                "return_for_correction",
                action.actor,
                reason=action.reason,
                notify=NotificationEvent.returned_for_correction,
                context={
                    "reason": action.reason,
                    "correction_deadline": deadline,
                    "return_count": self._return_count,
                    "max_returns": self._round.max_returns,
                }
                | masking,
                details={"correction_deadline": deadline} | masking,
            )
        return await self._recorded(seq)

    @return_for_correction.validator
    def validate_return_for_correction(self, action: CorrectionReturnAction) -> None:
        self._authenticate("return_for_correction", action)
        self._check_return_for_correction(action)

    def _check_return_for_correction(self, action: CorrectionReturnAction) -> None:
        self._check("return_for_correction", action.actor)
        self._check_review_open()

    @workflow.update
    async def confirm_payment(self, action: PaymentAction) -> DeclarationState:
        self._check_confirm_payment(action)
        needs_defense = defense_required(self._in.level)  # R18
        seq = self._transition(
            Stage.defense if needs_defense else Stage.committee,
            "confirm_payment",
            action.actor,
            reason=action.note,
            notify=NotificationEvent.payment_confirmed,
            context={"defense_required": needs_defense, "defense_exempt": self._defense_exempt},
            details={"receipt_no": action.receipt_no},
            notices=() if needs_defense else [self._to_committee(defended=False)],
        )
        return await self._recorded(seq)

    @confirm_payment.validator
    def validate_confirm_payment(self, action: PaymentAction) -> None:
        self._authenticate("confirm_payment", action)
        self._check_confirm_payment(action)

    def _check_confirm_payment(self, action: PaymentAction) -> None:
        self._check("confirm_payment", action.actor)
        self._check_before(self._payment_due_at, "payment")  # R17

    @workflow.update
    async def arrange_defense(self, action: DefenseArrangementAction) -> DeclarationState:
        self._check_arrange_defense(action)
        self._defense_starts_at = action.starts_at
        starts = shanghai_iso(action.starts_at)
        seq = self._transition(
            Stage.defense,
            "arrange_defense",
            action.actor,
            reason=action.note,
            notify=NotificationEvent.defense_arranged,  # R18
            context={"starts_at": starts, "place": action.place, "form": action.form},
            details={"starts_at": starts, "place": action.place, "form": action.form},
        )
        return await self._recorded(seq)

    @arrange_defense.validator
    def validate_arrange_defense(self, action: DefenseArrangementAction) -> None:
        self._authenticate("arrange_defense", action)
        self._check_arrange_defense(action)

    def _check_arrange_defense(self, action: DefenseArrangementAction) -> None:
        self._check("arrange_defense", action.actor)
        if self._defense_exempt:
            raise _invalid("this applicant is exempt from the on-site defense (R19)")
        if action.starts_at <= workflow.now():
            starts_at = shanghai_iso(action.starts_at)
            message = f"the defense time {starts_at} is in the past"
            raise _invalid(message, "defense_in_past", starts_at=starts_at)

    @workflow.update
    async def record_defense_score(self, action: DefenseScoreAction) -> DeclarationState:
        # a score before the arranged defense starts is refused since this patch; a score
        # recorded before it replays as it ran
        after_start = workflow.patched(patches.DEFENSE_SCORE_AFTER_START)
        self._check_record_defense_score(action, after_start=after_start)
        return await self._scored(action, "record_defense_score")

    @record_defense_score.validator
    def validate_record_defense_score(self, action: DefenseScoreAction) -> None:
        self._authenticate("record_defense_score", action)
        self._check_record_defense_score(action)

    def _check_record_defense_score(
        self, action: DefenseScoreAction, *, after_start: bool = True
    ) -> None:
        self._check("record_defense_score", action.actor)
        if self._defense_exempt:
            raise _invalid(
                "this applicant is exempt from the on-site defense (R19): "
                "their score is the average supplied by the round"
            )
        starts_at = self._defense_starts_at
        if after_start and starts_at is not None and workflow.now() < starts_at:  # R18
            starts = shanghai_iso(starts_at)
            message = f"the defense starts at {starts}: no score before it"
            facts = {"problem": "defense_not_started", "starts_at": starts}
            raise _refuse(Refused("OutsideWindow", message, facts))

    @workflow.update
    async def supply_defense_average(self, action: DefenseScoreAction) -> DeclarationState:
        self._check_supply_defense_average(action)
        return await self._scored(action, "supply_defense_average")

    @supply_defense_average.validator
    def validate_supply_defense_average(self, action: DefenseScoreAction) -> None:
        self._authenticate("supply_defense_average", action)
        self._check_supply_defense_average(action)

    def _check_supply_defense_average(self, action: DefenseScoreAction) -> None:
        self._check("supply_defense_average", action.actor)
        if not self._defense_exempt:
            raise _invalid("only a village-stationed applicant (R19) takes the average score")

    async def _scored(self, action: DefenseScoreAction, name: str) -> DeclarationState:
        self._defense_score = action.score
        seq = self._transition(
            Stage.committee,
            name,
            action.actor,
            reason=action.note,
            details={"score": action.score},
            notices=[self._to_committee(defended=True)],
        )
        return await self._recorded(seq)

    @staticmethod
    def _to_committee(*, defended: bool) -> Notice:
        """The committee secretary's notice that a declaration reached the committee (blind,
        R11: the level and the jurisdiction only; the portal shows it by its code)."""
        return Notice(NotificationEvent.committee_arrived, Role.committee, {"defended": defended})

    # --- committee ------------------------------------------------------------------------

    @workflow.update
    async def committee_vote(self, action: CommitteeVoteAction) -> DeclarationState:
        self._check_committee_vote(action)
        r = self._round
        tally = tally_vote(
            action.members, action.attending, action.yes_votes, r.quorum_ratio, r.pass_ratio
        )  # R20
        self._committee_result = {
            "session_id": action.session_id,
            "members": tally.members,
            "attending": tally.attending,
            "yes_votes": tally.yes_votes,
            "required_attendance": tally.required_attendance,
            "required_yes": tally.required_yes,
            "passed": tally.passed,
        }
        if tally.passed:
            self._result_publicity_ends_at = round_publicity_ends_at(r, workflow.now())
            ends = shanghai_iso(self._result_publicity_ends_at)
            seq = self._transition(
                Stage.result_publicity,
                "committee_vote",
                action.actor,
                reason=tally.describe(),
                notify=NotificationEvent.result_publicity_started,
                context={
                    "result_publicity_ends_at": ends,
                    "yes_votes": tally.yes_votes,
                    "attending": tally.attending,
                    "disclose_counts": r.tally_disclosure is TallyDisclosure.counts,  # R27
                },
                details=self._committee_result,
            )
        else:
            seq = self._transition(
                Stage.not_passed,
                "committee_vote",
                action.actor,
                reason=tally.describe(),
                notify=NotificationEvent.not_passed,
                context={
                    "yes_votes": tally.yes_votes,
                    "attending": tally.attending,
                    "required_yes": tally.required_yes,
                    "disclose_counts": r.tally_disclosure is TallyDisclosure.counts,  # R27
                },
                details=self._committee_result,
            )
        return await self._recorded(seq)

    @committee_vote.validator
    def validate_committee_vote(self, action: CommitteeVoteAction) -> None:
        self._authenticate("committee_vote", action)
        self._check_committee_vote(action)

    def _check_committee_vote(self, action: CommitteeVoteAction) -> None:
        self._check("committee_vote", action.actor)
        r = self._round
        try:
            tally = tally_vote(
                action.members, action.attending, action.yes_votes, r.quorum_ratio, r.pass_ratio
            )
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        if not tally.quorum_met:  # R20: no valid meeting, no vote
            raise _invalid(f"not a valid meeting: {tally.describe()}")
        # The result publicity's end must be computable before the vote is accepted.
        try:
            round_publicity_ends_at(r, workflow.now())
        except CalendarYearUnknown as exc:
            raise _refuse(Refused("CalendarUnknown", str(exc))) from None

    # --- 转办 (R26) ------------------------------------------------------------------------
    # A new update: no earlier history has one, so no patch. It changes no stage: a
    # same-stage transition, recorded like any other (audit event, projection's assignee).

    @workflow.update
    async def assign(self, action: AssignAction) -> DeclarationState:
        self._check_assign(action)
        self._assignees[action.actor.role] = action.assignee
        seq = self._transition(
            self._stage,
            "assign",
            action.actor,
            reason=action.note,
            details={"assignee": action.assignee.id},
            assignee=action.assignee,
        )
        return await self._recorded(seq)

    @assign.validator
    def validate_assign(self, action: AssignAction) -> None:
        self._authenticate("assign", action)
        self._check_assign(action)

    def _check_assign(self, action: AssignAction) -> None:
        self._check("assign", action.actor)  # the actor's organisation holds it now
        employer = self._in.applicant.employer
        refused = assignment_refusal(
            action.actor,
            action.assignee,
            action.assignee_unit,
            employer_uscc=employer.uscc,
            competent_unit=employer.competent_unit,
            current=self._assignees.get(action.actor.role),
        )
        if refused is not None:
            raise _refuse(refused)

    # --- the round ------------------------------------------------------------------------

    @workflow.update
    async def change_windows(self, action: WindowChangeAction) -> DeclarationState:
        self._check_change_windows(action)
        changes = self._window_changes(action)
        if not changes:  # already applied (the round may send a page twice)
            return self._state()
        self._round = self._changed_round(changes)
        if self._review_overdue and self._round.review_closes_at > workflow.now():
            self._review_overdue = False  # R9: the extended review window is open again
        if self._payment_due_at is not None and "payment_closes_at" in changes:
            # R17: an extension reaches a running payment deadline; a shortening never does.
            self._payment_due_at = max(self._payment_due_at, changes["payment_closes_at"])
        shown = {name: shanghai_iso(at) for name, at in changes.items()}
        # A transition in the same stage: the main loop wakes and waits for the new deadline.
        seq = self._transition(
            self._stage, "change_windows", action.actor, reason=action.reason, details=shown
        )
        return await self._recorded(seq)

    @change_windows.validator
    def validate_change_windows(self, action: WindowChangeAction) -> None:
        self._authenticate("change_windows", action)
        self._check_change_windows(action)

    def _check_change_windows(self, action: WindowChangeAction) -> None:
        self._check("change_windows", action.actor)
        changes = self._window_changes(action)
        if changes:
            self._changed_round(changes)

    def _window_changes(self, action: WindowChangeAction) -> dict[str, datetime]:
        return window_changes(self._round, {name: getattr(action, name) for name in WINDOW_FIELDS})

    def _changed_round(self, changes: dict[str, datetime]) -> RoundConfig:
        changed = changed_config(self._round, changes)
        if isinstance(changed, Refused):
            raise _refuse(changed)
        return changed

    # --- query ----------------------------------------------------------------------------

    @workflow.query
    def state(self) -> DeclarationState:
        return self._state()

    def _deadlines(self) -> dict[str, str]:
        r = self._round
        instants: dict[str, datetime | None] = {
            "submission_closes_at": r.submission_closes_at,
            "review_opens_at": r.review_opens_at,
            "review_closes_at": r.review_closes_at,
            "publicity_ends_at": self._publicity_ends_at,
            "correction_deadline": self._correction_deadline,
            "payment_due_at": self._payment_due_at,
            "result_publicity_ends_at": self._result_publicity_ends_at,
        }
        return {name: shanghai_iso(at) for name, at in instants.items() if at is not None}

    def _state(self) -> DeclarationState:
        allowed = [] if self._stage.is_ending else allowed_in(self._stage).items()
        return DeclarationState(
            workflow_id=workflow.info().workflow_id,
            round_year=self._round.year,
            stage=self._stage,
            level=self._in.level,
            jurisdiction=self._in.jurisdiction,
            return_count=self._return_count,
            employer_return_count=self._employer_return_count,
            deadlines=self._deadlines(),
            allowed_actions=[AllowedAction(action=a, roles=roles) for a, roles in allowed],
            objections=list(self._objections),
            review_overdue=self._review_overdue,
            defense_exempt=self._defense_exempt,
            defense_score=self._defense_score,
            committee_result=self._committee_result,
            ending_reason=self._ending_reason,
            timeline=list(self._timeline),
            documents=list(self._documents.values()),
            record_failure=self._record_failure,
            masking_return_count=self._masking_return_count,
            number=self._in.number,
            assignees=dict(self._assignees),
        )
