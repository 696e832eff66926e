"""The expert pool (R27): experts with their employer, specialty, title, contact, an active
flag and their declared conflicts (employers of the last 3 years, related persons by a keyed
hash of the ID card, never the number), and an audit row for every change.

An expert is known everywhere outside this table by the pool code (`E0001`): the committee
session's workflow, its history and its search attributes hold codes only. Names and
contacts are shown to the supervisor and the committee secretary, and to other roles only
once the session they sit in is open (portal/routers/committee.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class Expert(Base):
    __tablename__ = "experts"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # E0001
    name: Mapped[str] = mapped_column(String(100))
    employer_uscc: Mapped[str] = mapped_column(String(18))  # the current employer
    employer_name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100))  # e.g. 正高级工程师
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExpertEmployer(Base):
    """An earlier employer (R27: a conflict with its staff for 3 years after `left_on`)."""

    __tablename__ = "expert_employers"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(
        String(16), ForeignKey("experts.code", ondelete="CASCADE"), index=True
    )
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    left_on: Mapped[date] = mapped_column(Date)


class ExpertRelation(Base):
    """A person the expert declared a relation to: the applicant key of their ID card
    (rules.identity.applicant_key), so a declaration of theirs is found without the number."""

    __tablename__ = "expert_relations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(
        String(16), ForeignKey("experts.code", ondelete="CASCADE"), index=True
    )
    applicant_key: Mapped[str] = mapped_column(String(64), index=True)
    relation: Mapped[str] = mapped_column(String(50))  # e.g. 配偶, 近亲属, 师生


class ExpertChange(Base):
    """The audit of the pool: who changed which expert, which fields (never their values)."""

    __tablename__ = "expert_changes"
    __table_args__ = (Index("ix_expert_changes_code_at", "code", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # created, updated, deactivated, ...
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
