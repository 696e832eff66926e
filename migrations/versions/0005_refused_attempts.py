"""refused attempts (append-only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 (store/refused_attempts.py: refused actions on the record)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "refused_attempts is append-only"


def upgrade() -> None:
    op.create_table(
        "refused_attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("refused_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_refused_attempts_at", ["at"], unique=False)

    # Append-only in the database too: an UPDATE or a DELETE of a row is refused.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION refused_attempts_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER refused_attempts_append_only BEFORE UPDATE OR DELETE "
            "ON refused_attempts FOR EACH ROW EXECUTE FUNCTION refused_attempts_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER refused_attempts_no_{event.lower()} BEFORE {event} "
                f"ON refused_attempts BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS refused_attempts_append_only ON refused_attempts")
        op.execute("DROP FUNCTION IF EXISTS refused_attempts_append_only()")
    else:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS refused_attempts_no_{event}")
    with op.batch_alter_table("refused_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_refused_attempts_at")
    op.drop_table("refused_attempts")
