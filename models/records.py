"""Arguments of the record and notify activities (the workflow → database boundary)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from models.common import Actor, Jurisdiction, Level, Role, Stage, Strict

# Activity names (activities/record.py, activities/notify.py): the workflows call them by name
# through workflows/calls.py. Names are in recorded histories: they never change.
RECORD_TRANSITION = "record_transition"
# The error type of a transition the record database refuses (bad data, a broken constraint):
# retrying the same write cannot succeed until someone fixes the cause, so it is not retried
# by Temporal; the Declaration shows it and tries again on its own timer (docs/operations.md).
RECORD_REJECTED = "RecordRejected"
QUEUE_NOTIFICATION = "queue_notification"


class NotificationEvent(StrEnum):
    """Each event the notice says is notified (R16, R18) or that ends a declaration."""

    ineligible = "ineligible"
    employer_returned = "employer_returned"  # R12
    publicity_started = "publicity_started"  # R13
    objection_upheld = "objection_upheld"  # R13, R20
    returned_for_correction = "returned_for_correction"  # R15
    abandoned = "abandoned"  # R15
    locked = "locked"  # R15
    materials_accepted = "materials_accepted"  # R16, R17
    unpaid = "unpaid"  # R17
    payment_confirmed = "payment_confirmed"  # R17
    defense_arranged = "defense_arranged"  # R18
    result_publicity_started = "result_publicity_started"  # R20
    not_passed = "not_passed"  # R20
    approved = "approved"  # R21
    not_submitted = "not_submitted"  # R10
    withdrawn = "withdrawn"
    review_overdue = "review_overdue"  # R9: to the evaluation body and the supervisor
    revoked = "revoked"  # R22, R8: a granted title revoked after a spot check
    # Work arriving, and the applicant's receipts (docs/delivery.md, "Who is told what")
    submitted = "submitted"  # R11, R15: the applicant's receipt of a submission
    declaration_submitted = "declaration_submitted"  # R12: to the employer
    publicity_ended = "publicity_ended"  # R13, R14: to the employer: recommend now
    recommended = "recommended"  # R14: to the applicant
    recommendation_received = "recommendation_received"  # R14: to the competent unit
    recommendation_returned = "recommendation_returned"  # R14: to the employer
    declaration_arrived = "declaration_arrived"  # R9, R15: to the evaluation body, blind
    committee_arrived = "committee_arrived"  # R20: to the committee secretary, blind
    # Reminders before a deadline (rules/reminders.py)
    correction_reminder = "correction_reminder"  # R15: 24 h and 4 h before, to the applicant
    payment_reminder = "payment_reminder"  # R17: 3 days before, to the applicant
    review_closing = "review_closing"  # R9: 3 days before, to the evaluation body, blind
    submission_closing = "submission_closing"  # R10: 3 days before, employer / competent unit
    evaluation_digest = "evaluation_digest"  # the evaluation body's daily digest, blind
    # An applicant's own account (portal/verification.py): a code to the mobile or e-mail,
    # written by the portal, not by a declaration's transition
    registration_code = "registration_code"
    password_reset_code = "password_reset_code"
    # A committee session's messages to its experts (R27), by pool code: no declaration named
    committee_drawn = "committee_drawn"  # drawn as a member or an alternate: confirm
    committee_seated = "committee_seated"  # an alternate seated for a member who declined


# The messages of an account, not of a declaration: no round, no declaration id.
ACCOUNT_EVENTS = frozenset(
    {NotificationEvent.registration_code, NotificationEvent.password_reset_code}
)

# The messages of a committee session to its experts (activities/committee.py): no
# declaration, no applicant; the context is the session's.
SESSION_EVENTS = frozenset({NotificationEvent.committee_drawn, NotificationEvent.committee_seated})

# R11: who reviews blind. Their messages name neither the applicant nor the employer, nor the
# declaration's id (workflows/records.py common_context; their e-mail's headers carry a digest
# of the key: delivery/email.py).
BLIND_ROLES = frozenset({Role.evaluation_body, Role.committee})
# The evaluation body's messages per declaration that the daily digest sums up: with
# `digest` set for it in the recipients file they are recorded without an address
# (delivery/recipients.py), and only the digest is delivered.
DIGESTED_EVENTS = frozenset(
    {NotificationEvent.declaration_arrived, NotificationEvent.review_closing}
)
EVALUATION_BODY_NAME = "评审机构"  # how its messages address it (the recipients file may name it)

# Each role's page in the portal (portal/routers/): where it lands after the login, and what
# a message links to (delivery/outbox.py, ZHICHENG_PORTAL_URL in front).
ROLE_HOME = {
    Role.applicant: "/applicant",
    Role.employer: "/employer",
    Role.competent_unit: "/competent-unit",
    Role.evaluation_body: "/evaluation",
    Role.committee: "/committee",
    Role.supervisor: "/supervisor",
    Role.expert: "/expert",
    Role.observer: "/supervisor",  # the supervisor's pages, read only (R26)
}
# The roles whose portal has a page per declaration under its workflow id: the others' is
# their home (the applicant has one declaration a round; the blind reviewers' pages go by
# an anonymous code that needs the portal's secret, R11; the supervisor searches).
DECLARATION_PAGE_ROLES = frozenset({Role.employer, Role.competent_unit})


def message_path(role: Role, workflow_id: str) -> str:
    """The portal page a message to `role` about `workflow_id` links to."""
    home = ROLE_HOME.get(role, "/")
    if role in DECLARATION_PAGE_ROLES and workflow_id.startswith("decl-"):
        return f"{home}/{workflow_id}"
    return home


class NotificationRequest(Strict):
    """A message to render (template per event) and put in the outbox, once per `key`."""

    key: str  # f"{workflow_id}/{seq}/{event}/{recipient_role}"
    workflow_id: str
    event: NotificationEvent
    recipient_role: Role
    recipient_name: str
    # The recipient organisation's key in the recipients file (models/recipients.py): the
    # employer's USCC, the competent unit's name; None for the applicant (whose addresses
    # follow) and for the evaluation body and the supervisor (one entry each).
    organisation: str | None = Field(default=None, max_length=200)
    mobile: str | None = None
    email: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)


class TransitionRecord(Strict):
    """One transition of one declaration: becomes an audit event, refreshes the projection and
    queues its notifications, all in one database transaction.

    (workflow_id, seq) identifies it; recording it twice writes nothing the second time.
    """

    workflow_id: str
    seq: int = Field(ge=1)
    at: datetime
    actor: Actor
    action: str
    from_stage: Stage
    to_stage: Stage
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    # projection of the declaration after this transition
    round_year: int
    applicant_key: str
    applicant_name: str
    employer_uscc: str
    employer_name: str
    level: Level
    jurisdiction: Jurisdiction
    return_count: int
    deadlines: dict[str, str] = Field(default_factory=dict)
    notifications: list[NotificationRequest] = Field(default_factory=list)
    # 申报编号 (DeclarationInput.number); None for a declaration started without one
    number: str | None = None
    # the employer's competent unit, '' when it has none; None in records built before it was
    # carried (the projection keeps NULL: not known)
    competent_unit: str | None = None
    # R26: the assignee (its actor id, `role:username`) of the organisation holding the
    # declaration after this transition (rules/actions.py HOLDERS), None when it has none
    # (the projection's `assignee`, the organisations' "assigned to me")
    assignee: str | None = None
