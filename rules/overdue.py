"""Overdue items for the supervisor: a declaration still in a stage whose deadline has passed.

Each stage that waits for a deadline waits for the one(s) named in STAGE_DEADLINES (the same
ones the Declaration workflow's timer uses, workflows/declaration.py `_next_deadline`); the
earliest of them that the declaration has is its current deadline. A declaration past it is
overdue:

- the evaluation body has not finished its review by the review window's close (R9: the
  workflow flags it and keeps it open, so it stays here until the reviewer acts);
- a result publicity held open by an objection nobody has resolved (R20);
- a correction, payment, publicity or pre-submission stage past its deadline: the workflow's
  own timer ends or moves these at once, so one listed here means the worker is behind (or
  down) and the item has not moved yet — exactly what a supervisor wants to see.

Pure: deadlines come as the ISO 8601 strings of the `state` query / the projection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from models.common import Stage

# stage -> the deadlines it waits for (the earliest one present is the current deadline)
STAGE_DEADLINES: Mapping[Stage, tuple[str, ...]] = {
    Stage.draft: ("submission_closes_at",),  # R10
    Stage.employer_review: ("submission_closes_at",),  # R10
    Stage.publicity: ("publicity_ends_at", "submission_closes_at"),  # R13, R10
    Stage.recommendation: ("submission_closes_at",),  # R10, R14
    Stage.competent_unit_review: ("submission_closes_at",),  # R10, R14
    Stage.evaluation_review: ("review_closes_at",),  # R9
    Stage.correction: ("correction_deadline",),  # R15
    Stage.payment: ("payment_due_at",),  # R17
    Stage.result_publicity: ("result_publicity_ends_at",),  # R20
}


@dataclass(frozen=True)
class PassedDeadline:
    """The deadline a declaration's current stage waits for, passed `overdue_by` ago."""

    stage: Stage
    deadline: str  # its name, a key of the state's `deadlines`
    due_at: datetime
    overdue_by: timedelta


def current_deadline(
    stage: Stage | str, deadlines: Mapping[str, str]
) -> tuple[str, datetime] | None:
    """The deadline the stage waits for (name, instant), or None when it waits for none
    (an ending, defense, committee) or the declaration has none of them yet."""
    names = STAGE_DEADLINES.get(Stage(stage), ())
    present = [
        (name, datetime.fromisoformat(deadlines[name])) for name in names if deadlines.get(name)
    ]
    return min(present, key=lambda item: item[1]) if present else None


def passed_stage_deadline(
    stage: Stage | str, deadlines: Mapping[str, str], now: datetime
) -> PassedDeadline | None:
    """The current stage's deadline if it is at or before `now` (aware), else None."""
    if now.utcoffset() is None:
        raise ValueError(f"naive datetime {now.isoformat()}: an instant needs its offset")
    found = current_deadline(stage, deadlines)
    if found is None:
        return None
    name, due_at = found
    if due_at > now:
        return None
    return PassedDeadline(stage=Stage(stage), deadline=name, due_at=due_at, overdue_by=now - due_at)


T = TypeVar("T")


def overdue_items(
    items: Iterable[T],
    now: datetime,
    stage_of: Callable[[T], str],
    deadlines_of: Callable[[T], Mapping[str, str]],
) -> list[tuple[T, PassedDeadline]]:
    """The items past their current stage's deadline, longest overdue first."""
    found = []
    for item in items:
        passed = passed_stage_deadline(stage_of(item), deadlines_of(item), now)
        if passed is not None:
            found.append((item, passed))
    found.sort(key=lambda pair: pair[1].overdue_by, reverse=True)
    return found
