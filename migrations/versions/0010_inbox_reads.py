"""the in-portal inbox: who read which message, and the outbox row's organisation

Revision ID: 0010_inbox_reads
Revises: 0006
Create Date: 2026-12-02 (store/inbox.py: inbox_reads; store/tables.py: the organisation of
notification_outbox, the recipients file's key of an employer's or a competent unit's message)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_inbox_reads"
down_revision: str | None = "0009_assignees"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "ix_notification_outbox_recipient",
            ["recipient_role", "organisation", "created_at"],
            unique=False,
        )
    op.create_table(
        "inbox_reads",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_key"], ["notification_outbox.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "message_key"),
    )
    _fill_organisations()


def _fill_organisations() -> None:
    """The rows already there: an employer's message gets its declaration's employer USCC,
    a competent unit's its competent unit's name (as the record activity now writes them:
    workflows/records.py recipient)."""
    outbox = sa.table(
        "notification_outbox",
        sa.column("workflow_id", sa.String()),
        sa.column("recipient_role", sa.String()),
        sa.column("organisation", sa.String()),
    )
    declarations = sa.table(
        "declarations",
        sa.column("workflow_id", sa.String()),
        sa.column("employer_uscc", sa.String()),
        sa.column("competent_unit", sa.String()),
    )
    for role, column in (
        ("employer", declarations.c.employer_uscc),
        ("competent_unit", declarations.c.competent_unit),
    ):
        of_declaration = (
            sa.select(column)
            .where(declarations.c.workflow_id == outbox.c.workflow_id)
            .scalar_subquery()
        )
        op.get_bind().execute(
            outbox.update()
            .where(outbox.c.recipient_role == role, outbox.c.organisation.is_(None))
            .values(organisation=of_declaration)
        )


def downgrade() -> None:
    op.drop_table("inbox_reads")
    with op.batch_alter_table("notification_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_outbox_recipient")
        batch_op.drop_column("organisation")
