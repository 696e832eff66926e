"""uploads and declaration materials

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 (store/uploads.py: uploads and the masking tool)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("owner_account_id", sa.Integer(), nullable=False),
        sa.Column("declared_name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("masked_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner_account_id", "sha256", name="uq_uploads_owner_sha256"),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index("ix_uploads_sha256", ["sha256"], unique=False)
        batch_op.create_index("ix_uploads_masked_sha256", ["masked_sha256"], unique=False)

    op.create_table(
        "declaration_materials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "upload_id", name="uq_declaration_materials_upload"),
    )
    with op.batch_alter_table("declaration_materials", schema=None) as batch_op:
        batch_op.create_index("ix_declaration_materials_workflow", ["workflow_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("declaration_materials", schema=None) as batch_op:
        batch_op.drop_index("ix_declaration_materials_workflow")
    op.drop_table("declaration_materials")
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_uploads_masked_sha256")
        batch_op.drop_index("ix_uploads_sha256")
    op.drop_table("uploads")
