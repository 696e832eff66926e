"""The record (SQLAlchemy 2.x): the declarations projection, the audit trail, the outbox.

Portable between SQLite (embedded default) and PostgreSQL (production).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
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
    pending = "pending"
    sent = "sent"
    failed = "failed"


class OutboxMessage(Base):
    """A rendered notification waiting to be sent (R16: every notification is recorded)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_status", "status", "created_at"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # the idempotency key
    workflow_id: Mapped[str] = mapped_column(String(200), index=True)
    event: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    recipient_name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(16), default=OutboxStatus.pending.value, server_default=OutboxStatus.pending.value
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
