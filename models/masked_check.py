"""The masked-copy check (R11): OCR of a material's masked copy looks for what identifies the
applicant; its verdict goes with the material into `submit`/`resubmit`
(models.declaration.Material.check), and the Declaration workflow refuses a submission whose
materials are not all `clean`.

A finding names the kind, the page and the place, and the box to outline — never the text
found (these travel in workflow histories and the record database)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from models.common import Strict

MAX_FINDINGS = 100  # a bound on the payload: the first ones are enough to re-mask by

# rules.blind_review.IdentityKind's values (models stay below rules)
FindingKind = Literal["name", "id_card", "mobile", "email", "employer"]


class CheckStatus(StrEnum):
    pending = "pending"  # started, pages still to read
    clean = "clean"  # every page read: nothing identifying
    found = "found"  # identifying text on a page: the applicant re-masks


class CheckFinding(Strict):
    kind: FindingKind
    page: int = Field(ge=1)  # 1-based
    place: str = Field(max_length=20)  # 上部偏左 (rules.blind_review.place_on_page)
    box: tuple[int, int, int, int]  # x, y, w, h in the page image's pixels


class MaskedCheck(Strict):
    """A masked copy's check as the record database holds it, and as a material carries it."""

    status: CheckStatus
    pages_done: int = Field(default=0, ge=0)
    pages: int = Field(default=0, ge=0)
    findings: list[CheckFinding] = Field(default_factory=list, max_length=MAX_FINDINGS)


MASKED_COPY_CHECK_WORKFLOW_TYPE = "MaskedCopyCheck"  # workflows/masked_copy_check.py
CHECK_MASKED_COPY = "check_masked_copy"  # its activity (activities/masked_copy.py)
