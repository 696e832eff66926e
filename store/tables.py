"""The record (SQLAlchemy 2.x): the declarations projection, the audit trail, the outbox.

Portable between SQLite (embedded default) and PostgreSQL (production).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so without this it would hand back naive datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: an instant needs its offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Every mapping here is a Table (by __tablename__); DeclarativeBase types it FromClause.
    __table__: ClassVar[Table]
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        # JSONB on PostgreSQL (comparable, indexable); JSON text elsewhere
        dict[str, Any]: JSON().with_variant(JSONB(), "postgresql"),
        dict[str, str]: JSON().with_variant(JSONB(), "postgresql"),
    }


class DeclarationRow(Base):
    """The projection: one row per declaration, as of its newest recorded transition."""

    __tablename__ = "declarations"
    __table_args__ = (
        Index("ix_declarations_round_stage", "round_year", "stage"),
        Index("ix_declarations_employer", "employer_uscc"),
        Index("ix_declarations_applicant_key", "applicant_key"),
        Index("ix_declarations_number", "number"),
        Index("ix_declarations_next_deadline", "next_deadline"),
        Index("ix_declarations_assignee", "assignee"),
    )

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    round_year: Mapped[int]
    applicant_key: Mapped[str] = mapped_column(String(64))
    applicant_name: Mapped[str] = mapped_column(String(100))
    employer_uscc: Mapped[str] = mapped_column(String(18))
    employer_name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(32))
    return_count: Mapped[int]
    deadlines: Mapped[dict[str, str]]
    last_seq: Mapped[int]  # the guard: only a newer seq may overwrite the row
    updated_at: Mapped[datetime]  # the time of that transition (workflow time)
    # 申报编号 (store/declaration_numbers.py); NULL for a declaration started without one
    # (before numbers existed, or by start_declaration as it is: tests, benchmarks)
    number: Mapped[str | None] = mapped_column(String(20))
    # The employer's competent unit (R14) as its name, '' when it has none; NULL on a row
    # last written before the column existed (its next transition fills it in)
    competent_unit: Mapped[str | None] = mapped_column(String(200))
    # The instant the current stage waits for (rules/overdue.py current_deadline), NULL when
    # it waits for none: the search sorts by it and finds the overdue by it
    next_deadline: Mapped[datetime | None]
    # R26 (转办): the account (`role:username`) the organisation holding the declaration now
    # handed it to, NULL when it has not (or on a row last written before the column
    # existed): the organisations' lists show it and filter "assigned to me" by it
    assignee: Mapped[str | None] = mapped_column(String(200))


class DeclarationCounter(Base):
    """The last 申报编号 given out in a round year (store/declaration_numbers.py)."""

    __tablename__ = "declaration_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class DeclarationNumber(Base):
    """A declaration's number, allocated once per workflow id: (year, number) is never given
    to two declarations."""

    __tablename__ = "declaration_numbers"
    __table_args__ = (
        UniqueConstraint("year", "number", name="uq_declaration_numbers_year_number"),
    )

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    year: Mapped[int]
    number: Mapped[int]
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Append-only: one row per transition; (workflow_id, seq) is the idempotency key."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("workflow_id", "seq", name="uq_audit_events_workflow_seq"),)

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    workflow_id: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)  # wall clock of the write


class OutboxStatus(StrEnum):
    """A message's status over its channels (activities/delivery.py keeps it up to date)."""

    pending = "pending"
    sent = "sent"  # every channel it has an address for accepted it
    failed = "failed"  # a channel failed for good (reasons in last_error)
    sending = "sending"  # a channel is being sent now
    uncertain = "uncertain"  # a channel may have been sent; not resent automatically
    skipped = "skipped"  # nothing to send: no address, or every channel of it is off


class OutboxMessage(Base):
    """A rendered notification waiting to be sent (R16: every notification is recorded)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        Index("ix_notification_outbox_status", "status", "created_at"),
        # the in-portal inbox (store/inbox.py): an organisation's messages, newest first
        Index("ix_notification_outbox_recipient", "recipient_role", "organisation", "created_at"),
    )

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # the idempotency key
    workflow_id: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    recipient_name: Mapped[str] = mapped_column(String(200))
    # The recipient organisation's key (NotificationRequest.organisation): the employer's
    # USCC, the competent unit's name; NULL for the applicant (their declaration's rows tell)
    # and for the evaluation body, the committee and the supervisor (one each). The inbox
    # (store/inbox.py) shows an organisation's account the rows with its key.
    organisation: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(16), default=OutboxStatus.pending.value, server_default=OutboxStatus.pending.value
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the message was made: its transition's moment (the workflow's clock, so a
    # reminder's row says when it fell due); the write's wall clock for the others.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # The notification's template context (JSON): fills the WeChat template fields
    # (config/wechat_templates.json). NULL on rows written before it existed.
    context: Mapped[dict[str, Any] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=True
    )


class IntegrityArchiveEntry(Base):
    """R8 诚信档案: a person whose title was revoked for fraud (R22) cannot apply for a higher
    title until `blocked_until`. Keyed by the applicant key (no ID-card number is stored)."""

    __tablename__ = "integrity_archive"
    __table_args__ = (Index("ix_integrity_archive_applicant", "applicant_key", "blocked_until"),)

    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the revoked one
    applicant_key: Mapped[str] = mapped_column(String(64))
    applicant_name: Mapped[str] = mapped_column(String(100))
    round_year: Mapped[int]
    level: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime]
    blocked_until: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(200))  # "role:id"
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundEvent(Base):
    """Append-only: what a round decided (window changes, committee sessions, batches, spot
    checks with their seeds, revocations). (chain_id, seq) is the idempotency key; chain_id is
    the round's first run id, so continue-as-new keeps numbering on."""

    __tablename__ = "round_events"
    __table_args__ = (UniqueConstraint("chain_id", "seq", name="uq_round_events_chain_seq"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    chain_id: Mapped[str] = mapped_column(String(64))
    round_year: Mapped[int] = mapped_column(index=True)
    seq: Mapped[int]
    at: Mapped[datetime]
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One channel of one outbox message: the delivery's record of intent and outcome.

    The `Delivery` workflow (workflows/delivery.py) writes `sending` (and the attempt) before
    it sends, and `sent` after; a retry that finds `sending` knows the previous attempt may
    have sent it (activities/delivery.py decides per channel: WeChat resends with the same
    client_msg_id, e-mail becomes `uncertain`).
    """

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_status", "status"),)

    key: Mapped[str] = mapped_column(
        String(300), ForeignKey("notification_outbox.key"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # models.delivery.Channel
    address: Mapped[str] = mapped_column(String(320))  # the e-mail address, or the E.164 mobile
    status: Mapped[str] = mapped_column(String(16))  # models.delivery.DeliveryStatus
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    resends: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # by an operator
    error: Mapped[str | None] = mapped_column(Text)  # the last error, or why it failed/is uncertain
    attempted_at: Mapped[datetime | None]  # when the latest attempt recorded its intent
    # the earliest moment an unconfirmed attempt may have been accepted (a lost reply, a
    # worker gone between send and record); cleared by a resend
    maybe_sent_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(200))  # Message-ID / WeChat msgid
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
