"""The yearly Schedule that starts each round: every year on month/day hour:minute
Asia/Shanghai it starts a `RoundLauncher`, which starts `round-{year}` for the scheduled year."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)

from models.common import Strict
from models.round import ListingSource, RoundLaunch
from rules.schedule import (
    DEFAULT_DAY,
    DEFAULT_HOUR,
    DEFAULT_MINUTE,
    DEFAULT_MONTH,
    SCHEDULE_ID,
    SCHEDULE_TIME_ZONE,
)
from rules.timezone import shanghai_iso
from workflows.round import RoundLauncherWorkflow


def round_schedule(
    task_queue: str,
    *,
    month: int = DEFAULT_MONTH,
    day: int = DEFAULT_DAY,
    hour: int = DEFAULT_HOUR,
    minute: int = DEFAULT_MINUTE,
    listing: ListingSource = ListingSource.visibility,
    paused: bool = False,
) -> Schedule:
    """Every year on month/day hour:minute Asia/Shanghai, start a `RoundLauncher`, which
    starts `round-{year}` for the scheduled time's year. Overlap SKIP: a launcher still
    running is never doubled."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RoundLauncherWorkflow.run,
            RoundLaunch(listing=listing),
            id="round-launcher",  # the server appends the scheduled time
            task_queue=task_queue,
            static_summary="starts round-{year} for the scheduled year",
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    month=[ScheduleRange(month)],
                    day_of_month=[ScheduleRange(day)],
                    hour=[ScheduleRange(hour)],
                    minute=[ScheduleRange(minute)],
                    comment="the yearly 职称评审 round",
                )
            ],
            time_zone_name=SCHEDULE_TIME_ZONE,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=7)),
        state=ScheduleState(
            paused=paused,
            note="zhicheng: the yearly round (starter.py schedule ...)",
        ),
    )


async def create_round_schedule(
    client: Client, task_queue: str, schedule_id: str = SCHEDULE_ID, **spec: Any
) -> ScheduleHandle:
    """Raises ScheduleAlreadyRunningError when it exists."""
    return await client.create_schedule(schedule_id, round_schedule(task_queue, **spec))


class ScheduleView(Strict):
    schedule_id: str
    paused: bool
    note: str | None
    calendar: str
    time_zone: str | None
    overlap: str
    workflow_type: str
    task_queue: str | None
    next_runs: list[str]
    recent_runs: list[dict[str, str]]
    runs_total: int
    # the next run's year has no working-day calendar (rules/schedule.py calendar_warning)
    calendar_warning: str | None = None


async def describe_round_schedule(client: Client, schedule_id: str = SCHEDULE_ID) -> ScheduleView:
    description = await client.get_schedule_handle(schedule_id).describe()
    schedule, info = description.schedule, description.info
    action = schedule.action
    calendars = schedule.spec.calendars
    calendar = "; ".join(
        f"{c.month[0].start:02d}-{c.day_of_month[0].start:02d} "
        f"{c.hour[0].start:02d}:{c.minute[0].start:02d}"
        for c in calendars
    )
    return ScheduleView(
        schedule_id=schedule_id,
        paused=schedule.state.paused,
        note=schedule.state.note,
        calendar=calendar or "(none)",
        time_zone=schedule.spec.time_zone_name,
        overlap=schedule.policy.overlap.name,
        workflow_type=getattr(action, "workflow", "?"),
        task_queue=getattr(action, "task_queue", None),
        next_runs=[shanghai_iso(at) for at in info.next_action_times[:3]],
        recent_runs=[
            {
                "scheduled_at": shanghai_iso(run.scheduled_at),
                "workflow_id": getattr(run.action, "workflow_id", "?"),
            }
            for run in info.recent_actions
        ],
        runs_total=info.num_actions,
    )
