"""The floor workflow's shapes (bench/floor.py): its input, update and state, and the happy
path's shape. A module of their own, passed through the workflow sandbox like the system's
models, so a floor run does not rebuild them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

FLOOR_WORKFLOW_TYPE = "BenchFloor"
LONG = 86_400.0  # a stage's deadline that an update always beats: its timer is cancelled
DRILL = -1.0  # placeholder for the run's drill publicity (FloorInput.drill_seconds)


class FloorStage(BaseModel):
    name: str
    entered_by: Literal["start", "update", "timer"]
    activities: int = Field(ge=0)
    timeout_seconds: float | None  # the stage's timer; None: it waits without one


class FloorInput(BaseModel):
    stages: list[FloorStage]


class FloorAction(BaseModel):
    stage: str  # the stage this update moves to


class FloorState(BaseModel):
    stage: str
    seq: int
    deadline: datetime | None


def happy_path(drill_seconds: float) -> FloorInput:
    """The declaration happy path's shape (workflows/declaration.py, an intermediate
    declaration): the stages it passes, what enters each, the activities each transition
    schedules and the timer each stage waits on."""
    stages = [
        ("draft", "start", 1, LONG),  # record; waits for submission close
        ("employer_review", "update", 1, LONG),  # submit
        ("publicity", "update", 2, DRILL),  # start_publicity: record + attachment 2
        ("recommendation", "timer", 2, LONG),  # publicity ended: record + attachment 3
        ("evaluation_review", "update", 1, LONG),  # recommend; waits for review close
        ("payment", "update", 1, LONG),  # accept_materials; waits for the payment due
        ("defense", "update", 1, None),  # confirm_payment
        ("defense_arranged", "update", 1, None),  # arrange_defense
        ("committee", "update", 1, None),  # record_defense_score
        ("result_publicity", "update", 1, DRILL),  # committee_vote
        ("approved", "timer", 2, None),  # result publicity ended: record + approval document
    ]
    return FloorInput(
        stages=[
            FloorStage(
                name=name,
                entered_by=entered_by,
                activities=activities,
                timeout_seconds=drill_seconds if timeout == DRILL else timeout,
            )
            for name, entered_by, activities, timeout in stages
        ]
    )
