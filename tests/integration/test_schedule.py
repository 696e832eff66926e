"""On the real dev server: the yearly Schedule is created, described and triggered, and the
triggered run is `round-{year}` with that year's dates; a round started by hand lists its
declarations by search attributes (`RoundYear = Y AND ...`) and changes their windows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import (
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from client.rounds import round_act, start_round, wait_for_operation
from client.rounds import round_state as query_round_state
from client.schedule import create_round_schedule, describe_round_schedule
from models.calendar import YearCalendar
from models.round import ListingSource, OperationStatus, RoundInput, RoundLaunched
from rules.calendar_source import build_calendar
from rules.timezone import SHANGHAI, shanghai_iso
from rules.update_ids import cli_update_id
from settings import load_settings
from store.config_files import calendar_year_info
from tests.helpers.declaration_support import round_around, start, state
from tests.helpers.signing import TEST_SIGNER

pytestmark = pytest.mark.asyncio(loop_scope="session")


def started_workflow_id(result: ScheduleActionResult) -> str:
    """The workflow a schedule's action started (the only kind of action a round's has)."""
    assert isinstance(result.action, ScheduleActionExecutionStartWorkflow), result.action
    return result.action.workflow_id


async def launched(env: WorkflowEnvironment, schedule_id: str, count: int) -> list[RoundLaunched]:
    """The results of the schedule's first `count` launcher runs, once they have finished."""
    for _ in range(200):
        description = await env.client.get_schedule_handle(schedule_id).describe()
        ids = [started_workflow_id(action) for action in description.info.recent_actions]
        if len(ids) >= count:
            results = []
            for workflow_id in ids[:count]:
                handle = env.client.get_workflow_handle(workflow_id, result_type=RoundLaunched)
                results.append(await handle.result())
            return results
        await asyncio.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} did not run {count} time(s)")


async def calendar_warned(
    year: int,
    schedule_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`schedule describe` warns while the next run's year has no working-day calendar, and
    not once `calendar import` has loaded it (an empty override table, so only the package
    knows years; a year the package knows is never warned about)."""
    table = tmp_path / "calendar_overrides.json"
    monkeypatch.setenv("ZHICHENG_CALENDAR_OVERRIDES", str(table))
    known = calendar_year_info(year, load_settings()).calendar is not None
    assert await starter.run(["schedule", "describe", "--id", schedule_id]) == 0
    warning = f"WARNING: no working-day calendar for {year} is loaded"
    assert (warning in capsys.readouterr().out) is not known
    notice = tmp_path / f"{year}.json"
    days = [{"name": "元旦", "date": f"{year}-01-01", "isOffDay": True}]
    notice.write_text(json.dumps({"year": year, "days": days}), encoding="utf-8")
    assert await starter.run(["calendar", "import", str(notice), "--replace"]) == 0
    assert await starter.run(["schedule", "describe", "--id", schedule_id]) == 0
    assert warning not in capsys.readouterr().out


async def test_schedule_starts_the_years_round(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    # The worker's prepare_round reads the round files: none here, so the notice's pattern.
    monkeypatch.setenv("ZHICHENG_ROUNDS_DIR", str(tmp_path))
    client = dev_env.client
    schedule_id = f"zhicheng-yearly-round-{uuid.uuid4().hex[:6]}"
    handle = await create_round_schedule(client, dev_worker.task_queue, schedule_id)
    year = datetime.now(SHANGHAI).year
    try:
        view = await describe_round_schedule(client, schedule_id)
        assert (view.calendar, view.time_zone, view.overlap) == (
            "08-28 09:00",
            "Asia/Shanghai",
            "SKIP",
        )
        assert (view.workflow_type, view.task_queue, view.paused) == (
            "RoundLauncher",
            dev_worker.task_queue,
            False,
        )
        now = datetime.now(SHANGHAI)
        next_run = datetime.fromisoformat(view.next_runs[0])
        assert (next_run.month, next_run.day, next_run.hour, next_run.minute) == (8, 28, 9, 0)
        assert next_run.utcoffset() == timedelta(hours=8) and next_run > now

        # Triggered now: the year of the scheduled time (Asia/Shanghai) names the round.
        await handle.trigger()
        [first] = await launched(dev_env, schedule_id, 1)
        year = first.scheduled_at.astimezone(SHANGHAI).year
        assert (first.year, first.workflow_id, first.started) == (year, f"round-{year}", True)
        round_state = await query_round_state(client, year)
        assert round_state.workflow_id == f"round-{year}"
        assert round_state.plan["submission_opens_at"] == f"{year}-09-01T00:00:00+08:00"
        assert round_state.plan["submission_closes_at"] == f"{year}-09-30T00:00:00+08:00"
        assert round_state.plan["review_closes_at"] == f"{year}-10-31T00:00:00+08:00"
        description = await client.get_workflow_handle(f"round-{year}").describe()
        assert description.workflow_type == "Round"
        summary = await description.static_summary()
        assert summary is not None and f"{year}-09-01 – {year}-09-29" in summary

        by_schedule = f"TemporalScheduledById = '{schedule_id}'"
        for _ in range(50):  # visibility is eventually consistent
            types = [w.workflow_type async for w in client.list_workflows(by_schedule)]
            if types:
                break
            await asyncio.sleep(0.1)
        assert types == ["RoundLauncher"]

        # Triggered again: the round already runs, so the launcher starts nothing.
        await handle.trigger()
        [_, second] = await launched(dev_env, schedule_id, 2)
        assert (second.year, second.started) == (year, False)

        # The command line reads the same schedule, pauses and unpauses it.
        monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
        capsys.readouterr()
        assert await starter.run(["schedule", "describe", "--id", schedule_id]) == 0
        out = capsys.readouterr().out
        assert "every year at 08-28 09:00 (Asia/Shanghai), overlap SKIP" in out
        assert "round-launcher" in out
        await calendar_warned(next_run.year, schedule_id, tmp_path, monkeypatch, capsys)
        assert await starter.run(["schedule", "pause", "--id", schedule_id, "--note", "t"]) == 0
        assert "PAUSED" in capsys.readouterr().out
        assert await starter.run(["schedule", "unpause", "--id", schedule_id]) == 0
        assert await starter.run(["round", "state", str(year)]) == 0
        out = capsys.readouterr().out
        assert f"round-{year}" in out and f"{year}-09-01T00:00:00+08:00" in out
    finally:
        await handle.delete()
        round_handle = client.get_workflow_handle(f"round-{year}")
        with contextlib.suppress(RPCError):
            if (await round_handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await round_handle.terminate("test over")


async def test_round_lists_declarations_by_search_attributes(
    dev_env: WorkflowEnvironment, dev_worker: Worker
):
    client = dev_env.client
    now = await dev_env.get_current_time()
    year = 2098  # a year of its own on this server
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    config = round_around(now, year=year, calendar=build_calendar(years, years))
    handles = [await start(dev_env, dev_worker, config) for _ in range(3)]
    query = f"WorkflowType = 'Declaration' AND RoundYear = {year} AND ExecutionStatus = 'Running'"
    for _ in range(100):  # visibility is eventually consistent
        if len([w async for w in client.list_workflows(query)]) == 3:
            break
        await asyncio.sleep(0.1)
    round_input = RoundInput(config=config, listing=ListingSource.visibility, page_size=2)
    await start_round(client, round_input, dev_worker.task_queue)
    new_close = config.submission_closes_at + timedelta(days=2)
    accepted = await round_act(
        client,
        year,
        "change_windows",
        {
            "actor": {"role": "supervisor", "id": "hr-centre"},
            "reason": "延长申报",
            "submission_closes_at": new_close.isoformat(),
            "review_opens_at": new_close.isoformat(),
        },
        signer=TEST_SIGNER,
        update_id=cli_update_id("supervisor:hr-centre", f"round-{year}", "change_windows", "r1"),
    )
    operation = await wait_for_operation(client, year, accepted["operation_id"])
    assert operation.status is OperationStatus.done, operation
    assert (operation.done, operation.pages) == (3, 2)
    for handle in handles:
        deadlines = (await state(handle)).deadlines
        assert deadlines["submission_closes_at"] == shanghai_iso(new_close)
    await client.get_workflow_handle(f"round-{year}").terminate("test over")


async def test_round_commands(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
):
    overrides = tmp_path / "calendar_overrides.json"
    monkeypatch.setenv("ZHICHENG_CALENDAR_OVERRIDES", str(overrides))
    monkeypatch.setenv("ZHICHENG_ROUNDS_DIR", str(tmp_path))
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", dev_worker.task_queue)
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)

    # An unknown calendar year: refused before anything starts, naming the year and the file.
    capsys.readouterr()
    assert await starter.run(["round", "start", "2031"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "working-day calendar for 2031 is not loaded" in err
    assert "config/calendar_overrides.json" in err

    overrides.write_text('{"2031": {"holidays": ["2031-10-01"], "workdays": []}}')
    assert await starter.run(["round", "start", "2031", "--listing", "record"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("round-2031\n")
    assert "submission 2031-09-01 – 2031-09-29" in out
    assert await starter.run(["round", "start", "2031"]) == 3
    assert "refused (AlreadyStarted): round-2031 already exists" in capsys.readouterr().err
    code = await starter.run(
        ["round", "act", "2031", "refresh_statistics", "--role", "supervisor",
         "--actor-id", "hr-centre", "--wait"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "(refresh_statistics): done" in out and out.startswith("operation ")
    assert "{" not in out  # JSON only with --json
    # repeated with its request id: the same operation, not a second one
    refresh = ["round", "act", "2031", "refresh_statistics", "--role", "supervisor",
               "--actor-id", "hr-centre"]  # fmt: skip
    assert await starter.run(refresh) == 0
    first, err = capsys.readouterr()
    request_id = err.removeprefix("request id: ").strip()
    assert await starter.run([*refresh, "--request-id", request_id]) == 0
    assert capsys.readouterr() == (first, err)
    kinds = [
        op.kind.value for op in (await query_round_state(dev_env.client, 2031)).progress.operations
    ]
    assert kinds.count("refresh_statistics") == 2  # the --wait one and this one
    code = await starter.run(
        ["round", "act", "2031", "close", "--role", "employer", "--actor-id", "hr-01"]
    )
    assert code == 3
    assert "is for supervisor, not employer" in capsys.readouterr().err
    assert await starter.run(["round", "state", "2031", "--json"]) == 0
    assert '"year": 2031' in capsys.readouterr().out
    await dev_env.client.get_workflow_handle("round-2031").terminate("test over")
