"""the assignee (转办, R26) of the declarations projection

Revision ID: 0009_assignees
Revises: 0006
Create Date: 2026-12-02 (store/tables.py: DeclarationRow.assignee; workflows/declaration.py
`assign`)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_assignees"
down_revision: str | None = "0008_masked_copy_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on every row already there: no declaration was assigned before `assign` existed
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_declarations_assignee", ["assignee"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_declarations_assignee")
        batch_op.drop_column("assignee")
