"""the observer's page views (R26: each page a discipline inspector opens is logged)

Revision ID: 0012_observer_views
Revises: 0011_committee
Create Date: 2026-12-02 (store/observer_views.py: every page the observer role opens, R26)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_observer_views"
down_revision: str | None = "0011_committee"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "observer_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("observer_views", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observer_views_viewed_at"), ["viewed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("observer_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observer_views_viewed_at"))

    op.drop_table("observer_views")
