"""Populate a running Temporal server with one round and a dozen declarations spread over
the early stages (draft, employer_review, publicity), to look at in the Web UI
(docs/ui-declarations-by-stage.png was taken from it).

    temporal server start-dev --ui-port 8233 --search-attribute RoundYear=Int \\
        --search-attribute Level=Keyword --search-attribute Stage=Keyword \\
        --search-attribute Jurisdiction=Keyword --search-attribute ReturnCount=Int
    .venv/bin/python -m bench.ui_demo --address localhost:7233

(or with `scripts/run.sh` running: `.venv/bin/python -m bench.ui_demo --no-worker`). The
round uses this year's number with windows open from today (like `starter.py round try-out`).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from temporalio.client import Client

from bench.common import declaration
from client.connection import data_converter
from client.declarations import start_declaration
from client.rounds import start_round
from client.signing import ActorSigner
from models.round import RoundConfig, RoundInput
from rules.calendar_source import load_overrides
from rules.round_plan import try_out_round_dates
from settings import load_settings
from store.config_files import round_calendar
from store.db import ensure_schema
from worker import build_worker


async def populate(client: Client, task_queue: str, count: int) -> None:
    settings = load_settings()
    now = datetime.now(UTC)
    year = now.year
    calendar = round_calendar(year, load_overrides(settings.calendar_overrides))
    config = RoundConfig.model_validate(
        {"year": year, **try_out_round_dates(now), "calendar": calendar}
    )
    round_input = RoundInput(config=config)
    try:
        await start_round(client, round_input, task_queue)
        print(f"started round-{year}")
    except Exception as exc:  # already there from an earlier run
        print(f"round-{year}: {exc}")
    actor = {"actor": {"role": "applicant", "id": "demo"}}
    employer = {"actor": {"role": "employer", "id": "hr-01"}}
    signer = ActorSigner.from_settings(settings)  # the worker's key: as the portal signs
    for n in range(count):
        handle = await start_declaration(client, declaration(config, n), task_queue)
        if n % 3 >= 1:
            await handle.execute_update(
                "submit", await signer.signed(client, handle.id, "submit", actor)
            )
        if n % 3 == 2:
            await handle.execute_update(
                "start_publicity",
                await signer.signed(client, handle.id, "start_publicity", employer),
            )
        print(handle.id)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="localhost:7233")
    parser.add_argument("--count", type=int, default=12)
    parser.add_argument("--no-worker", action="store_true", help="a worker already runs")
    args = parser.parse_args()
    settings = load_settings()
    client = await Client.connect(args.address, data_converter=data_converter(settings))
    if args.no_worker:
        await populate(client, settings.task_queue, args.count)
        return
    await ensure_schema(settings.database_url)
    async with build_worker(client, settings.task_queue, settings=settings):
        await populate(client, settings.task_queue, args.count)
        await asyncio.sleep(2)  # let the last transitions be recorded


if __name__ == "__main__":
    asyncio.run(main())
