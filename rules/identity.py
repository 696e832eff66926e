"""Workflow ids (docs/requirements.md, "Contracts"): no raw ID-card number ever appears in them;
and the declarations' human numbers (申报编号), which are not made from personal data either."""

from __future__ import annotations

import hashlib
import hmac
import re


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


def committee_session_workflow_id(year: int, session_id: str) -> str:
    """The `CommitteeSession` of one sitting (R20, R27): the round's year and the session's own
    name (models.committee.SessionId)."""
    return f"committee-{year}-{session_id}"


def masked_check_workflow_id(declaration_id: str, masked_sha256: str) -> str:
    """The `MaskedCopyCheck` of one masked copy in one declaration: the declaration's id (a
    keyed hash, no personal data) and the copy's hash (R11)."""
    return f"maskcheck-{declaration_id}-{masked_sha256}"


def ocr_task_queue(task_queue: str) -> str:
    """The OCR activity's own task queue beside the worker's (one activity slot, worker.py)."""
    return f"{task_queue}-ocr"


# 申报编号: a declaration's human number, per round and sequential, allocated when it is opened
# (store/declaration_numbers.py); never derived from personal data. Its shape is
# models/declaration.py NUMBER_PATTERN.
NUMBER_DIGITS = 6
_NUMBER = re.compile(r"([0-9]{4})-([0-9]{1,9})")


def declaration_number(year: int, number: int) -> str:
    """The 申报编号 of the `number`-th declaration opened in round `year`: `2026-000123`."""
    if number < 1:
        raise ValueError(f"a declaration number starts at 1, not {number}")
    return f"{year}-{number:0{NUMBER_DIGITS}d}"


def parse_declaration_number(text: str) -> tuple[int, int] | None:
    """(year, number) of a 申报编号 as a person types it (`2026-000123`, `2026-123`, blanks
    around it ignored); None when `text` is not one."""
    found = _NUMBER.fullmatch(text.strip())
    if found is None or int(found.group(2)) < 1:
        return None
    return int(found.group(1)), int(found.group(2))
