"""A round's figures for the HR service centre (issue 17: statistics at a glance): counts and
rates per stage, level, jurisdiction and employer. Built by rules/statistics.py from the
record database's facts (store/statistics.py)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from models.common import Strict


class Dimension(StrEnum):
    level = "level"
    jurisdiction = "jurisdiction"
    employer = "employer"


class DeclarationFacts(Strict):
    """What the figures need of one declaration: where it is and what it went through."""

    stage: str
    level: str
    jurisdiction: str
    employer: str  # the employer's name (a key of the employer breakdown)
    returns: int = 0  # returns for correction (R15)
    recommended: bool = False  # reached the competent unit or the evaluation body (R14)
    passed: bool = False  # passed the committee's vote (R20)
    overdue: bool = False  # past its current deadline (rules/overdue.py)


class Figures(Strict):
    """One group's counts; the rates are of `declared` (None when it is 0)."""

    declared: int = 0
    recommended: int = 0
    returned: int = 0  # declarations returned at least once
    returns: int = 0  # returns in all
    abandoned: int = 0
    locked: int = 0
    passed: int = 0
    approved: int = 0
    revoked: int = 0
    overdue: int = 0
    in_progress: int = 0

    def rate(self, count: int) -> float | None:
        return None if not self.declared else round(count / self.declared, 4)


class RoundFigures(Strict):
    year: int
    as_of: datetime
    total: Figures
    by_stage: dict[str, int] = Field(default_factory=dict)
    by: dict[Dimension, dict[str, Figures]] = Field(default_factory=dict)
