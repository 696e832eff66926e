"""Portal accounts: who may log in, in which role, bound to what.

An employer account is bound to one employer by its unified social credit code; an applicant
account to one applicant by the applicant key (rules.identity: no ID-card number is stored)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id (portal.security)
    role: Mapped[str] = mapped_column(String(32))  # models.common.Role, never "system"
    display_name: Mapped[str] = mapped_column(String(100), default="")
    employer_uscc: Mapped[str | None] = mapped_column(String(18))  # employer accounts only
    applicant_key: Mapped[str | None] = mapped_column(String(64))  # applicant accounts only
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
