"""Workflow ids (DESIGN §3): no raw ID-card number ever appears in them."""

from __future__ import annotations

import hashlib


def applicant_key(id_card: str) -> str:
    """A stable pseudonym for an applicant: 16 hex chars of a prefixed SHA-256
    of the ID card. A pseudonym, not a secret: the ID-card space is small enough to enumerate."""
    digest = hashlib.sha256(f"zhicheng-applicant:{id_card.upper()}".encode()).hexdigest()
    return digest[:16]


def declaration_workflow_id(year: int, applicant_key: str) -> str:
    return f"decl-{year}-{applicant_key}"


def round_workflow_id(year: int) -> str:
    return f"round-{year}"
