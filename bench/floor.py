"""The Temporal floor: a minimal workflow with the shape of a declaration's happy path and
nothing else, to measure what Temporal itself costs on the same server and worker settings.

It walks a list of stages. Each stage is entered by an update (one Update handler, `act`,
naming the stage it moves to), by its predecessor's timer, or by the start; entering one runs
its no-op activities (the first in the main loop, which the update waits for, as a
declaration's record; the others in the background, as its documents); each stage waits for
the next update with its timeout as a durable timer (cancelled when the update comes, fired
when a drill publicity ends), or without a timer. `happy_path()` (bench/floor_models.py) has
the declaration happy path's counts: 8 updates, 14 activities (11 records + 3 documents),
6 timers (4 cancelled, 2 fired); bench/run.py counts both histories and reports them.

    python -m bench.floor      # a floor worker: settings as worker.py reads them

The worker is `worker.build_worker`'s configuration (task queue settings, slots, cache,
sandbox runner, shutdown) with the floor's workflow and activity in place of the system's.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from bench.floor_models import (
        FLOOR_WORKFLOW_TYPE,
        LONG,
        FloorAction,
        FloorInput,
        FloorState,
    )


@activity.defn(name="bench_noop")
async def noop(seq: int) -> None:
    """Does nothing: the floor's activity."""


@workflow.defn(name=FLOOR_WORKFLOW_TYPE)
class FloorWorkflow:
    @workflow.init
    def __init__(self, floor: FloorInput) -> None:
        self._stages = floor.stages
        self._index = 0
        self._seq = 0
        self._recorded_seq = 0
        self._pending: list[tuple[int, int]] = []  # (seq, activities)
        self._background: list[asyncio.Task[None]] = []
        self._deadline: datetime | None = None
        self._enter(0)

    @workflow.run
    async def run(self, floor: FloorInput) -> FloorState:
        while True:
            await self._write_pending()
            if self._index == len(self._stages) - 1:
                break
            if not await self._next_change(self._stages[self._index].timeout_seconds):
                self._enter(self._index + 1)  # a stage entered by its predecessor's timer
        await workflow.wait_condition(workflow.all_handlers_finished)
        await asyncio.gather(*self._background)
        return self._state()

    async def _next_change(self, timeout: float | None) -> bool:
        """Wait for an update (True) or for the stage's durable timer (False)."""
        seq_before = self._seq
        try:
            await workflow.wait_condition(
                lambda: self._seq != seq_before,
                timeout=None if timeout is None else timedelta(seconds=timeout),
            )
        except TimeoutError:
            return False
        return True

    def _enter(self, index: int) -> None:
        self._index = index
        self._seq += 1
        stage = self._stages[index]
        timeout = stage.timeout_seconds
        self._deadline = (
            workflow.now() + timedelta(seconds=timeout)
            if timeout is not None and timeout < LONG
            else None
        )
        self._pending.append((self._seq, stage.activities))

    async def _write_pending(self) -> None:
        while self._pending:
            seq, activities = self._pending.pop(0)
            for _ in range(activities - 1):  # the background ones (a declaration's documents)
                self._background.append(asyncio.create_task(self._noop(seq)))
            if activities:
                await self._noop(seq)
            self._recorded_seq = seq

    async def _noop(self, seq: int) -> None:
        await workflow.execute_activity(noop, seq, start_to_close_timeout=timedelta(seconds=30))

    @workflow.update
    async def act(self, action: FloorAction) -> FloorState:
        self.validate_act(action)
        self._enter(self._index + 1)
        seq = self._seq
        await workflow.wait_condition(lambda: self._recorded_seq >= seq)
        return self._state()

    @act.validator
    def validate_act(self, action: FloorAction) -> None:
        following = self._stages[self._index + 1 :]
        if not following or following[0].entered_by != "update":
            raise ApplicationError(f"no update expected in {self._current}", type="WrongStage")
        if following[0].name != action.stage:
            raise ApplicationError(
                f"{action.stage} is not next after {self._current}", type="WrongStage"
            )

    @property
    def _current(self) -> str:
        return self._stages[self._index].name

    def _state(self) -> FloorState:
        return FloorState(stage=self._current, seq=self._seq, deadline=self._deadline)


def build_floor_worker(client: Client, task_queue: str) -> Worker:
    """A worker with exactly the options worker.build_worker gives the system's (read by
    calling it with a recorder in place of Worker: nothing is created or registered), running
    the floor's workflow and activity instead of the system's."""
    import worker as system_worker

    options: dict[str, Any] = {}

    def record(*args: Any, **kwargs: Any) -> None:
        options.update(zip(("client", "task_queue"), args, strict=False), **kwargs)

    with mock.patch.object(system_worker, "Worker", record):
        system_worker.build_worker(client, task_queue)
    options |= {"workflows": [FloorWorkflow], "activities": [noop]}
    return Worker(**options)


async def main() -> None:
    """Like worker.main: settings from the environment, one worker until SIGINT/SIGTERM."""
    from settings import load_settings_or_exit
    from worker import configure_logging, connect

    settings = load_settings_or_exit()
    configure_logging(settings)
    client = await connect(settings)
    logging.getLogger("zhicheng.bench").info("floor worker on task queue %s", settings.task_queue)
    stop = asyncio.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
    async with build_floor_worker(client, settings.task_queue):
        await stop.wait()


if __name__ == "__main__":
    from client.connection import exit_without_finalizing

    asyncio.run(main())
    exit_without_finalizing(0)
