"""Workflow ids (docs/requirements.md, "Contracts"): no raw ID-card number ever appears in them."""

from __future__ import annotations

import hashlib
import hmac


def applicant_key(id_card: str, secret: str) -> str:
    """A stable pseudonym for an applicant: 16 hex chars of HMAC-SHA256 of the ID card under
    the deployment's secret. Keyed, because the ID-card space is small enough to enumerate a
    plain hash; stable, because it makes the workflow id (one declaration per round): keep
    the secret for the life of the deployment."""
    if not secret:
        raise ValueError("the applicant-key secret is empty (ZHICHENG_APPLICANT_KEY_SECRET)")
    mac = hmac.new(secret.encode(), id_card.upper().encode(), hashlib.sha256)
    return mac.hexdigest()[:16]


def declaration_workflow_id(year: int, applicant_key: str) -> str:
    return f"decl-{year}-{applicant_key}"


def round_workflow_id(year: int) -> str:
    return f"round-{year}"
