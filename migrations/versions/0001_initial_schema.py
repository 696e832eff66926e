"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 (the schema create_all made from store/tables.py, document_tables.py)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_stage", sa.String(length=32), nullable=False),
        sa.Column("to_stage", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "seq", name="uq_audit_events_workflow_seq"),
    )
    op.create_table(
        "declarations",
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("round_year", sa.Integer(), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("employer_name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column(
            "deadlines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.create_index("ix_declarations_employer", ["employer_uscc"], unique=False)
        batch_op.create_index("ix_declarations_round_stage", ["round_year", "stage"], unique=False)

    op.create_table(
        "document_counters",
        sa.Column("prefix", sa.String(length=50), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("prefix", "year"),
    )
    op.create_table(
        "document_numbers",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("prefix", sa.String(length=50), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint(
            "prefix", "year", "number", name="uq_document_numbers_prefix_year_number"
        ),
    )
    op.create_table(
        "document_publications",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=150), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("document_number", sa.String(length=100), nullable=True),
        sa.Column("file_name", sa.String(length=400), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("document_publications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_publications_scope"), ["scope"], unique=False)
        batch_op.create_index(
            "ix_document_publications_status", ["status", "updated_at"], unique=False
        )

    op.create_table(
        "integrity_archive",
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("applicant_name", sa.String(length=100), nullable=False),
        sa.Column("round_year", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    with op.batch_alter_table("integrity_archive", schema=None) as batch_op:
        batch_op.create_index(
            "ix_integrity_archive_applicant", ["applicant_key", "blocked_until"], unique=False
        )

    op.create_table(
        "notification_outbox",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("recipient_role", sa.String(length=32), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_outbox_status", ["status", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notification_outbox_workflow_id"), ["workflow_id"], unique=False
        )

    op.create_table(
        "round_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("round_year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "seq", name="uq_round_events_chain_seq"),
    )
    with op.batch_alter_table("round_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_round_events_round_year"), ["round_year"], unique=False
        )

    op.create_table(
        "notification_deliveries",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("resends", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("maybe_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_id", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key"],
            ["notification_outbox.key"],
        ),
        sa.PrimaryKeyConstraint("key", "channel"),
    )
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notification_deliveries_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_deliveries_status")

    op.drop_table("notification_deliveries")
    with op.batch_alter_table("round_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_round_events_round_year"))

    op.drop_table("round_events")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_outbox_workflow_id"))
        batch_op.drop_index("ix_notification_outbox_status")

    op.drop_table("notification_outbox")
    with op.batch_alter_table("integrity_archive", schema=None) as batch_op:
        batch_op.drop_index("ix_integrity_archive_applicant")

    op.drop_table("integrity_archive")
    with op.batch_alter_table("document_publications", schema=None) as batch_op:
        batch_op.drop_index("ix_document_publications_status")
        batch_op.drop_index(batch_op.f("ix_document_publications_scope"))

    op.drop_table("document_publications")
    op.drop_table("document_numbers")
    op.drop_table("document_counters")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_declarations_round_stage")
        batch_op.drop_index("ix_declarations_employer")

    op.drop_table("declarations")
    op.drop_table("audit_events")
