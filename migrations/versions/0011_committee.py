"""the committee: expert pool, ballot box

Revision ID: 0011_committee
Revises: 0010_inbox_reads
Create Date: 2026-12-02 (store/experts.py: the expert pool, its conflicts and audit (R27);
store/ballots.py: a session's ballot box, register and secret ballots (R20, R27); the expert
code of an expert's account)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_committee"
down_revision: str | None = "0010_inbox_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "committee_sessions",
        sa.Column("workflow_id", sa.String(length=100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    with op.batch_alter_table("committee_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committee_sessions_year"), ["year"], unique=False)

    op.create_table(
        "committee_ballot_boxes",
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session"),
    )
    op.create_table(
        "expert_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expert_changes", schema=None) as batch_op:
        batch_op.create_index("ix_expert_changes_code_at", ["code", "changed_at"], unique=False)

    op.create_table(
        "experts",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("employer_name", sa.String(length=200), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("mobile", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "committee_ballots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("choice", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["session"], ["committee_ballot_boxes.session"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("committee_ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committee_ballots_session"), ["session"], unique=False)

    op.create_table(
        "committee_voters",
        sa.Column("session", sa.String(length=100), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("voted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session"], ["committee_ballot_boxes.session"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session", "workflow_id", "code"),
    )
    op.create_table(
        "expert_employers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["experts.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expert_employers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_employers_code"), ["code"], unique=False)

    op.create_table(
        "expert_relations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("relation", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["experts.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("expert_relations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_expert_relations_applicant_key"), ["applicant_key"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_expert_relations_code"), ["code"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expert_code", sa.String(length=16), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("expert_code")

    with op.batch_alter_table("expert_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_relations_code"))
        batch_op.drop_index(batch_op.f("ix_expert_relations_applicant_key"))

    op.drop_table("expert_relations")
    with op.batch_alter_table("expert_employers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_employers_code"))

    op.drop_table("expert_employers")
    op.drop_table("committee_voters")
    with op.batch_alter_table("committee_ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_ballots_session"))

    op.drop_table("committee_ballots")
    op.drop_table("experts")
    with op.batch_alter_table("expert_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_expert_changes_code_at")

    op.drop_table("expert_changes")
    op.drop_table("committee_ballot_boxes")
    with op.batch_alter_table("committee_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_sessions_year"))
    op.drop_table("committee_sessions")
