"""The record of documents (SQLAlchemy, same `Base` as store.tables): the per-year document
number counter (R21) and the state of every publication (R21, R23).

store/schema.py registers them with every other table (the migrations' target).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class DocumentCounter(Base):
    """The last document number given out, per number prefix and year (甘经开人社〔2025〕N号)."""

    __tablename__ = "document_counters"

    prefix: Mapped[str] = mapped_column(String(50), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class DocumentNumber(Base):
    """A document number, allocated once per document key: a retry gets the same number, and
    (prefix, year, number) is never given to two documents."""

    __tablename__ = "document_numbers"
    __table_args__ = (
        UniqueConstraint("prefix", "year", "number", name="uq_document_numbers_prefix_year_number"),
    )

    key: Mapped[str] = mapped_column(String(300), primary_key=True)  # PublishRequest.key
    prefix: Mapped[str] = mapped_column(String(50))
    year: Mapped[int]
    number: Mapped[int]
    allocated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentPublication(Base):
    """Every publication attempt's outcome, one row per document key: `published` with where
    it is, or `failed` with the last error and the request, so that an operator can see what
    failed (`starter.py documents failed`) and publish it again once fixed."""

    __tablename__ = "document_publications"
    __table_args__ = (Index("ix_document_publications_status", "status", "updated_at"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(150), index=True)
    status: Mapped[str] = mapped_column(String(16))  # published | failed
    title: Mapped[str | None] = mapped_column(String(300))
    document_number: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str | None] = mapped_column(String(400))
    sha256: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any]]  # the PublishRequest, as JSON
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
