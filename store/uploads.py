"""Uploaded files (portal/uploads.py) and an applicant's materials list (portal/applicant.py).

An upload's bytes live in the upload store, content-addressed by SHA-256 (one file per
content, however often it is uploaded); a row here says who uploaded it, under which name, what
it is (checked by content: PDF, PNG or JPEG) and, for a material, its masked copy (R11).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class Upload(Base):
    """One account's upload of one content (the same account uploading it again: same row)."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("owner_account_id", "sha256", name="uq_uploads_owner_sha256"),
        Index("ix_uploads_sha256", "sha256"),
        Index("ix_uploads_masked_sha256", "masked_sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64))  # the content, and its file in the store
    owner_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    declared_name: Mapped[str] = mapped_column(String(200))  # the file name as uploaded
    media_type: Mapped[str] = mapped_column(String(50))  # application/pdf, image/png, image/jpeg
    size: Mapped[int]  # bytes
    pages: Mapped[int]  # 1 for an image
    # R11: the masked copy (itself an upload of the same owner), once the applicant made it
    masked_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeclarationMaterial(Base):
    """The applicant's materials list of one declaration, as it is being prepared: what the
    next `submit` or `resubmit` sends (each masked copy's hash, models.declaration.Material).
    What the evaluation body downloads is what the workflow accepted (portal/materials.py)."""

    __tablename__ = "declaration_materials"
    __table_args__ = (
        UniqueConstraint("workflow_id", "upload_id", name="uq_declaration_materials_upload"),
        Index("ix_declaration_materials_workflow", "workflow_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"))
    title: Mapped[str] = mapped_column(String(200))  # 学历证书, 专利证书 ... (no name, R11)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
