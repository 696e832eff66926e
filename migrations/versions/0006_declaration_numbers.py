"""declaration numbers (申报编号) and what the search reads from the projection

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 (store/declaration_numbers.py; store/tables.py: number,
competent_unit, next_deadline of the declarations projection)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "declaration_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "declaration_numbers",
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
        sa.UniqueConstraint("year", "number", name="uq_declaration_numbers_year_number"),
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("competent_unit", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_declarations_applicant_key", ["applicant_key"], unique=False)
        batch_op.create_index("ix_declarations_number", ["number"], unique=False)
        batch_op.create_index("ix_declarations_next_deadline", ["next_deadline"], unique=False)
    _fill_next_deadlines()


def _fill_next_deadlines() -> None:
    """The rows already there get their current stage's deadline from their deadlines, as
    the record activity now writes it (rules/overdue.py: pure, the same rule)."""
    from rules.overdue import current_deadline

    declarations = sa.table(
        "declarations",
        sa.column("workflow_id", sa.String()),
        sa.column("stage", sa.String()),
        sa.column("deadlines", sa.JSON()),
        sa.column("next_deadline", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(declarations.c.workflow_id, declarations.c.stage, declarations.c.deadlines)
    ).all()
    for workflow_id, stage, deadlines in rows:
        found = current_deadline(stage, deadlines or {})
        if found is not None:
            bind.execute(
                declarations.update()
                .where(declarations.c.workflow_id == workflow_id)
                .values(next_deadline=found[1].astimezone(UTC))
            )


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_declarations_next_deadline")
        batch_op.drop_index("ix_declarations_number")
        batch_op.drop_index("ix_declarations_applicant_key")
        batch_op.drop_column("next_deadline")
        batch_op.drop_column("competent_unit")
        batch_op.drop_column("number")
    op.drop_table("declaration_numbers")
    op.drop_table("declaration_counters")
