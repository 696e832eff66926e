"""A round's configuration: its calendar, windows and the configurable readings of the notice."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

from pydantic import AwareDatetime, Field, model_validator

from models.calendar import WorkingCalendar
from models.common import Level, Strict


class Ratio(Strict):
    numerator: int = Field(ge=1)
    denominator: int = Field(ge=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> Ratio:
        if self.numerator > self.denominator:
            raise ValueError(f"ratio {self.numerator}/{self.denominator} is above 1")
        return self

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


TWO_THIRDS = Ratio(numerator=2, denominator=3)


class LevelCondition(Strict):
    """One row of the evaluation-conditions table (the platform's 职称评审条件).

    The notice leaves these to the platform (*interp.*), so they are configuration.
    """

    prerequisite: Level | None = None  # the title (or equivalent qualification, R5) needed
    min_years_at_prerequisite: int = Field(default=0, ge=0)
    min_achievements: int = Field(default=0, ge=0)  # R7: any achievement type counts


def default_conditions() -> dict[Level, LevelCondition]:
    # Documented defaults (README, "Evaluation conditions"); override per round.
    return {
        Level.junior: LevelCondition(prerequisite=None, min_years_at_prerequisite=0),
        Level.intermediate: LevelCondition(
            prerequisite=Level.junior, min_years_at_prerequisite=4, min_achievements=1
        ),
        Level.associate_senior: LevelCondition(
            prerequisite=Level.intermediate, min_years_at_prerequisite=5, min_achievements=2
        ),
    }


class RoundConfig(Strict):
    """Everything a declaration needs to know about its round. Instants are timezone-aware."""

    year: int = Field(ge=2000, le=2100)
    submission_opens_at: AwareDatetime  # R9
    submission_closes_at: AwareDatetime  # R9, R10
    review_opens_at: AwareDatetime  # R9
    review_closes_at: AwareDatetime  # R9
    payment_closes_at: AwareDatetime  # R17 (the notice defers it to a later notice)
    # R17/R9 (interp.): materials accepted late still leave this many days to pay.
    payment_grace_days: int = Field(default=7, ge=1)
    correction_hours: int = Field(default=48, ge=1)  # R15
    max_returns: int = Field(default=3, ge=0)  # R15: the (max_returns + 1)th return locks
    publicity_working_days: int = Field(default=5, ge=1)  # R13, R20
    recommendation_lead_days: int = Field(default=1, ge=0)  # round plan: time left to recommend
    quorum_ratio: Ratio = TWO_THIRDS  # R20
    pass_ratio: Ratio = TWO_THIRDS  # R20
    conditions: dict[Level, LevelCondition] = Field(default_factory=default_conditions)
    calendar: WorkingCalendar = Field(default_factory=WorkingCalendar)

    @model_validator(mode="after")
    def _ordered(self) -> RoundConfig:
        order: list[tuple[str, datetime]] = [
            ("submission_opens_at", self.submission_opens_at),
            ("submission_closes_at", self.submission_closes_at),
            ("review_opens_at", self.review_opens_at),
            ("review_closes_at", self.review_closes_at),
        ]
        for (a, ta), (b, tb) in pairwise(order):
            if ta > tb:
                raise ValueError(f"{a} ({ta.isoformat()}) is after {b} ({tb.isoformat()})")
        if self.payment_closes_at < self.review_opens_at:
            raise ValueError("payment_closes_at is before review_opens_at")
        return self
