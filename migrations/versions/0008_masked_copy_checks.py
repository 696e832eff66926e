"""masked-copy checks: OCR of each masked copy (R11)

Revision ID: 0008_masked_copy_checks
Revises: 0006
Create Date: 2026-12-02 (store/masked_checks.py; another branch adds 0007, the revisions are
chained at merge)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_masked_copy_checks"
down_revision: str | None = "0007_registration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "masked_copy_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("masked_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "masked_sha256", name="uq_masked_copy_checks_copy"),
    )


def downgrade() -> None:
    op.drop_table("masked_copy_checks")
