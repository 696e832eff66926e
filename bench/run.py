"""The system against the Temporal floor, in one run: N declarations driven through the happy
path by every update a reviewer sends, beside a minimal workflow of the same shape
(bench/floor.py), on the same server and worker settings.

    .venv/bin/python -m bench.run --n 100 1000 10000 --docs

For each N it runs the floor, then the system, each with a worker subprocess of its own (a
fresh `python worker.py` for the system, `python -m bench.floor` for the floor: the worker's
RSS and CPU are its own, not the driver's). A run has two phases, as a round has:

- phase A, in the submission window: start, submit, start_publicity, the publicity's timer
  (a drill publicity of --publicity-seconds through the round configuration,
  RoundConfig.drill_publicity_seconds), recommend. It ends when the last update has
  returned and the worker has gone idle (its background documents rendered).
- the gap: every declaration is open and waiting on a timer; the worker's RSS and CPU are
  read here. The submission window closes and the review window opens at one instant, set
  when the declarations start (--submission-seconds, else estimated from N); the gap lasts
  until then, and at least --idle-seconds.
- phase B, in the review window: accept_materials, confirm_payment, arrange_defense,
  record_defense_score, committee_vote, the result publicity's timer, and the workflow's end
  (after its approval document).

Throughput is declarations completed per second of phases A and B (the gap, whose length is
the benchmark's choice, left out); the floor is timed the same way. At most --concurrency
updates are in flight at once (reviewers at their screens); every one is timed from the call
of execute_update to its return. Past --full-up-to declarations (the full path renders three
PDFs per declaration, about 0.8 s of CPU, so 10,000 would take hours), both sides run the
"open" workload only: start + submit, then the gap with N declarations open on timers.

The worst path (3 returns for correction, an objection in publicity, defense, an objection in
result publicity) runs --worst declarations once at the end, for its history size.

Results: var/bench/<time>/results.json, results.md and benchmark.png (--out); with --docs also
docs/benchmark.md and docs/benchmark.png (a "## Findings" section there is kept).
The embedded dev server is started for the run unless --address or TEMPORAL_ADDRESS names one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.history.v1 import History
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from bench import report
from bench.common import declaration, round_config, temporal, temporal_address_from_environment
from bench.floor_models import FLOOR_WORKFLOW_TYPE, FloorState, happy_path
from client.declarations import start_declaration
from client.signing import ActorSigner
from models.common import Level
from models.declaration import DeclarationState
from rules.recommendation import RECOMMENDATION_OPINION
from settings import ROOT, Settings
from store.db import dispose_engines, ensure_schema, get_engine
from store.tables import AuditEvent, OutboxMessage

# --- what a reviewer sends -------------------------------------------------------------------

RECOMMENDATION = {
    "opinion": RECOMMENDATION_OPINION,
    "publicity_original_ref": "sha256:" + "a" * 64,
    "publicity_result_ref": "sha256:" + "b" * 64,
}
RETRYABLE_REFUSALS = {"WrongStage", "OutsideWindow"}  # a timer or a window not yet passed
RETRY_FOR = 60.0  # seconds a refused update is sent again before the declaration fails


@dataclass(frozen=True)
class Update:
    name: str  # the Update (the floor: the stage it moves to)
    role: str
    fields: Callable[[int], dict[str, Any]] = lambda n: {}


@dataclass(frozen=True)
class Timer:
    """Wait for the deadline the last update's result names, then go on."""


TIMER = Timer()
Step = Update | Timer


# The defense starts a moment after it is arranged: its score, sent right after, is refused
# until then (OutsideWindow: no score before the defense, R18) and sent again shortly.
DEFENSE_LEAD = timedelta(seconds=1)


def _defense(n: int) -> dict[str, Any]:
    starts = datetime.now(UTC) + DEFENSE_LEAD  # made once a seat is free (Drive.update)
    return {
        "starts_at": starts.isoformat(),
        "place": "甘泉堡经开区人力资源服务中心",
        "form": "现场答辩",
    }


SUBMIT = Update("submit", "applicant")
START_PUBLICITY = Update("start_publicity", "employer")
RECOMMEND = Update("recommend", "employer", lambda n: RECOMMENDATION)
ACCEPT = Update("accept_materials", "evaluation_body")
PAY = Update("confirm_payment", "evaluation_body", lambda n: {"receipt_no": f"R-{n}"})
ARRANGE = Update("arrange_defense", "evaluation_body", _defense)
SCORE = Update("record_defense_score", "evaluation_body", lambda n: {"score": 82.5})
VOTE = Update(
    "committee_vote",
    "committee",
    lambda n: {"session_id": "B1", "members": 9, "attending": 7, "yes_votes": 6},
)


def _objection(role: str, objection_id: int) -> list[Step]:
    return [
        Update("raise_objection", role, lambda n: {"summary": "反映业绩材料与实际不符"}),
        Update(
            "resolve_objection",
            role,
            lambda n: {"objection_id": objection_id, "upheld": False, "resolution": "经核实不属实"},
        ),
    ]


def _correction() -> list[Step]:
    return [
        Update("return_for_correction", "evaluation_body", lambda n: {"reason": "扫描件不清晰"}),
        Update("resubmit", "applicant"),
    ]


@dataclass(frozen=True)
class Route:
    """A path through the workflow: phase A (submission window), phase B (review window)."""

    name: str
    phase_a: tuple[Step, ...]
    phase_b: tuple[Step, ...]


HAPPY = Route(
    "happy",
    (SUBMIT, START_PUBLICITY, TIMER, RECOMMEND),
    (ACCEPT, PAY, ARRANGE, SCORE, VOTE),
)
WORST = Route(
    "worst",
    (SUBMIT, START_PUBLICITY, *_objection("employer", 1), TIMER, RECOMMEND),
    (
        *_correction(),
        *_correction(),
        *_correction(),
        ACCEPT,
        PAY,
        ARRANGE,
        SCORE,
        VOTE,
        *_objection("supervisor", 2),
    ),
)
OPEN = Route("open", (SUBMIT,), ())


def floor_path(path: Route) -> Route:
    """The floor's steps for a path: each update moves it to the stage the system's would."""
    stages = [s for s in happy_path(1).stages if s.entered_by == "update"]
    names = iter(s.name for s in stages)

    def floor_step(step: Step) -> Step:
        return step if isinstance(step, Timer) else Update(next(names), step.role)

    phase_a = tuple(floor_step(s) for s in path.phase_a)
    return Route(f"floor-{path.name}", phase_a, tuple(floor_step(s) for s in path.phase_b))


# --- the worker subprocess -----------------------------------------------------------------


class WorkerProcess:
    """A worker in a process of its own, with its RSS sampled twice a second. Its figures
    include the processes it starts (activities/publish.py renders PDFs in a process pool)."""

    def __init__(self, command: list[str], env: Mapping[str, str], log: Path) -> None:
        self.command, self.env, self.log = command, dict(env), log
        self.process: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None
        self.rss_peak = 0
        self.rss_ready = 0  # when it first polls: the process with its code loaded
        self._sampler: asyncio.Task[None] | None = None

    async def start(self, client: Client, task_queue: str, timeout: float = 120) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self.ps = psutil.Process(self.process.pid)
        self._sampler = asyncio.create_task(self._sample())
        deadline = time.monotonic() + timeout
        while not await _polled(client, task_queue):
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.process.returncode}): see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not poll {task_queue} in {timeout:g} s")
            await asyncio.sleep(0.2)
        self.rss_ready = self.rss()

    async def _sample(self) -> None:
        assert self.ps is not None
        with contextlib.suppress(psutil.Error):
            while True:
                self.rss_peak = max(self.rss_peak, self.ps.memory_info().rss)
                await asyncio.sleep(0.5)

    def _children(self) -> list[psutil.Process]:
        assert self.ps is not None
        with contextlib.suppress(psutil.Error):
            return self.ps.children(recursive=True)
        return []

    def cpu_seconds(self) -> float:
        """CPU of the worker and of the processes it started (a PDF renderer pool), those
        still running and those it has reaped."""
        assert self.ps is not None
        times = self.ps.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in self._children():
            with contextlib.suppress(psutil.Error):
                child_times = child.cpu_times()
                total += child_times.user + child_times.system
        return total

    def rss(self, with_children: bool = True) -> int:
        """RSS of the worker, with its child processes' (a renderer pool) unless told not."""
        assert self.ps is not None
        total = self.ps.memory_info().rss
        for child in self._children() if with_children else []:
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total

    def uss(self) -> int:
        """Memory only this process holds (RSS less shared pages, e.g. mapped font files)."""
        assert self.ps is not None
        return self.ps.memory_full_info().uss

    async def cpu_percent(self, seconds: float) -> float:
        """Its CPU use over the next `seconds`, in percent of one core."""
        before, started = self.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        return 100 * (self.cpu_seconds() - before) / (time.monotonic() - started)

    async def drained(self, timeout: float, idle_percent: float = 5.0) -> float:
        """Wait until the worker has been idle for a second; returns when the idle began."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            began = time.monotonic()
            if await self.cpu_percent(0.5) < idle_percent:
                quiet_since = quiet_since or began
                if time.monotonic() - quiet_since >= 1.0:
                    return quiet_since
            else:
                quiet_since = None
        return time.monotonic()

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        for _ in range(300):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.1)
        self.process.kill()
        self.process.wait()


class Profile:
    """py-spy sampling a worker process until it exits (--profile): collapsed stacks in a
    text file, and the functions that cost the most."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        binary = Path(sys.executable).parent / "py-spy"
        self.process = subprocess.Popen(
            [
                *(str(binary), "record", "--pid", str(pid), "--rate", "50", "--nonblocking"),
                *("--format", "raw", "--nolineno", "--output", str(output)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def finish(self, timeout: float = 60) -> dict[str, Any]:
        for _ in range(int(timeout * 10)):
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            self.process.send_signal(signal.SIGINT)
            self.process.wait()
        return top_of_profile(self.output)


# What the time of a worker goes to, by the module a sampled stack passes through (the first
# that matches, from the innermost frame out).
PROFILE_BUCKETS = (
    (
        "documents: WeasyPrint/fontTools/Pango",
        ("weasyprint", "fontTools", "pydyf", "tinycss2", "cssselect2", "html5lib", "cffi"),
    ),
    ("record: SQLAlchemy/aiosqlite/psycopg", ("sqlalchemy", "aiosqlite", "sqlite3", "psycopg")),
    ("templates: Jinja2", ("jinja2",)),
    ("pydantic", ("pydantic",)),
    ("Temporal SDK (sandbox, converter, bridge)", ("temporalio",)),
    ("asyncio", ("asyncio",)),
)


def top_of_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw output (`frame;frame;... count`): samples per bucket, and the
    functions with the most samples inclusive of what they call."""
    if not path.exists():
        return {"samples": 0}
    inclusive: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += count
        bucket = next(
            (
                name
                for frame in reversed(frames)
                for name, modules in PROFILE_BUCKETS
                if any(m in frame for m in modules)
            ),
            "other",
        )
        buckets[bucket] += count
    share = {name: round(100 * c / total, 1) for name, c in buckets.most_common()} if total else {}
    ignored = (  # frames every stack of a thread or of the event loop passes through
        "<module>",
        "_run_module_as_main",
        "_run_code",
        "Runner.run",
        "BaseEventLoop.",
        "Handle._run",
        "EpollSelector.select",
        "Thread.",
        "_WorkItem.run",
        "_worker (concurrent",
    )
    functions = [
        {"function": frame, "percent": round(100 * c / total, 1)}
        for frame, c in inclusive.most_common()
        if not any(frame.startswith(i) for i in ignored)
    ][:top]
    return {"samples": total, "percent_by_area": share, "top_inclusive": functions}


async def _polled(client: Client, task_queue: str) -> bool:
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    response = await client.workflow_service.describe_task_queue(request)
    return bool(response.pollers)


def server_process() -> psutil.Process | None:
    """The dev server this run started (a child process named temporal), if any."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.name().startswith("temporal"):
                return child
    return None


def cpu_seconds(process: psutil.Process | None) -> float | None:
    if process is None:
        return None
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return times.user + times.system
    return None


# --- driving -----------------------------------------------------------------------------------


@dataclass
class Drive:
    """The reviewers: at most `concurrency` updates in flight, each timed."""

    concurrency: int
    seats: asyncio.Semaphore = field(init=False)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    retries: int = 0

    def __post_init__(self) -> None:
        self.seats = asyncio.Semaphore(self.concurrency)

    async def timed_start(self, start: Callable[[], Awaitable[WorkflowHandle[Any, Any]]]) -> Any:
        async with self.seats:
            began = time.perf_counter()
            handle = await start()
            self.starts.append(time.perf_counter() - began)
            return handle

    async def update(
        self,
        handle: WorkflowHandle[Any, Any],
        name: str,
        make_payload: Callable[[], Awaitable[Any]],
        result_type: type,
        step: str,
    ) -> Any:
        """Send one update as a reviewer does, its payload made (and signed) once a seat is
        free; a refusal because a timer or window has not passed yet (the reviewer was a
        moment early) is sent again shortly."""
        give_up = time.monotonic() + RETRY_FOR
        while True:
            async with self.seats:
                payload = await make_payload()
                began = time.perf_counter()
                try:
                    result = await handle.execute_update(name, payload, result_type=result_type)
                except WorkflowUpdateFailedError as exc:
                    cause = exc.cause
                    kind = cause.type if isinstance(cause, ApplicationError) else None
                    if kind not in RETRYABLE_REFUSALS or time.monotonic() > give_up:
                        raise RuntimeError(f"{step} refused: {cause}") from exc
                    self.retries += 1
                else:
                    self.latencies.setdefault(step, []).append(time.perf_counter() - began)
                    return result
            await asyncio.sleep(0.1)


@dataclass
class Side:
    """How to start and act on one kind of workflow (the system's, or the floor's)."""

    label: str
    route: Route
    result_type: type
    update_name: Callable[[Update], str]
    start: Callable[[Client, int], Awaitable[WorkflowHandle[Any, Any]]]
    payload: Callable[[Update, int], Any]
    deadline: Callable[[Any], datetime | None]
    # (client, workflow id, update, payload) -> what is sent: the system's actors are signed
    sign: Callable[[Client, str, str, Any], Awaitable[Any]] | None = None


def system_side(config_for: Callable[[], Any], task_queue: str, path: Route) -> Side:
    async def start(client: Client, n: int) -> WorkflowHandle[Any, Any]:
        return await start_declaration(
            client, declaration(config_for(), n, Level.intermediate), task_queue
        )

    def payload(step: Update, n: int) -> dict[str, Any]:
        return {"actor": {"role": step.role, "id": f"{step.role}-{n % 50}"}, **step.fields(n)}

    def deadline(state: DeclarationState) -> datetime | None:
        ends = state.deadlines.get("publicity_ends_at")
        return datetime.fromisoformat(ends) if ends else None

    signer = ActorSigner(actor_signing_key())  # as the portal signs a reviewer's action
    return Side(
        "system",
        path,
        DeclarationState,
        lambda step: step.name,
        start,
        payload,
        deadline,
        signer.signed,
    )


def floor_side(task_queue: str, path: Route, publicity_seconds: float) -> Side:
    floor_input = happy_path(publicity_seconds)

    async def start(client: Client, n: int) -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            FLOOR_WORKFLOW_TYPE,
            floor_input,
            id=f"bench-floor-{uuid.uuid4().hex[:16]}",
            task_queue=task_queue,
            result_type=FloorState,
        )

    def payload(step: Update, n: int) -> dict[str, Any]:
        return {"stage": step.name}

    return Side(
        "floor", floor_path(path), FloorState, lambda step: "act", start, payload, _floor_deadline
    )


def _floor_deadline(state: FloorState) -> datetime | None:
    return state.deadline


@dataclass
class Outcome:
    expected: int
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)
    completed: int = 0
    failures: list[str] = field(default_factory=list)
    phase_a_done: int = 0
    phase_a_last: float = 0.0  # when the last one finished phase A (monotonic)
    phase_a_over: asyncio.Event = field(default_factory=asyncio.Event)
    review_open: asyncio.Event = field(default_factory=asyncio.Event)  # the barrier


async def drive(
    client: Client,
    side: Side,
    n: int,
    reviewers: Drive,
    outcome: Outcome,
) -> None:
    """One declaration (or floor workflow) through the side's path."""
    state: Any = None
    handle: WorkflowHandle[Any, Any] | None = None

    async def steps(sequence: Sequence[Step]) -> None:
        nonlocal state
        assert handle is not None
        for step in sequence:
            if isinstance(step, Timer):
                ends = side.deadline(state)
                if ends is not None:
                    await asyncio.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()))
                continue
            name = side.update_name(step)

            async def make_payload(step: Update = step, name: str = name) -> Any:
                assert handle is not None
                payload = side.payload(step, n)
                if side.sign is not None:
                    payload = await side.sign(client, handle.id, name, payload)
                return payload

            state = await reviewers.update(handle, name, make_payload, side.result_type, step.name)

    try:
        try:
            handle = await reviewers.timed_start(lambda: side.start(client, n))
            outcome.handles.append(handle)
            await steps(side.route.phase_a)
        finally:
            outcome.phase_a_done += 1
            outcome.phase_a_last = time.monotonic()
            if outcome.phase_a_done == outcome.expected:
                outcome.phase_a_over.set()
        if side.route.phase_b:
            await outcome.review_open.wait()
            await steps(side.route.phase_b)
            await handle.result()
        outcome.completed += 1
    except Exception as exc:
        outcome.failures.append(f"{handle.id if handle else n}: {type(exc).__name__}: {exc}")


# --- measuring -------------------------------------------------------------------------------


def percentiles(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | int]:
    """Nearest-rank p50/p95/p99, max and mean, in milliseconds (scale) and the count."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * scale

    return {
        "count": len(ordered),
        "p50": round(rank(50), 1),
        "p95": round(rank(95), 1),
        "p99": round(rank(99), 1),
        "max": round(ordered[-1] * scale, 1),
        "mean": round(sum(ordered) / len(ordered) * scale, 1),
    }


SHAPE_EVENTS = {
    "updates": EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    "activities": EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    "timers_started": EventType.EVENT_TYPE_TIMER_STARTED,
    "timers_fired": EventType.EVENT_TYPE_TIMER_FIRED,
    "timers_canceled": EventType.EVENT_TYPE_TIMER_CANCELED,
    "workflow_tasks": EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    "search_attribute_upserts": EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    "markers": EventType.EVENT_TYPE_MARKER_RECORDED,
    "activities_timed_out": EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    "activities_failed": EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
}


async def history_figures(handles: Sequence[WorkflowHandle[Any, Any]], sample: int) -> dict:
    """Events and bytes per workflow (serialized HistoryEvents, `event.ByteSize()`), the
    shape (updates, activities, timers...) and the time from start to the first workflow task
    (WorkflowExecutionStarted → first WorkflowTaskStarted, server times), over a sample."""
    chosen = random.Random(0).sample(list(handles), min(sample, len(handles)))
    limit = asyncio.Semaphore(8)

    async def fetch(handle: WorkflowHandle[Any, Any]) -> Any:
        async with limit:
            return await handle.fetch_history()

    histories = await asyncio.gather(*(fetch(h) for h in chosen))
    events, sizes, first_tasks = [], [], []
    shapes: Counter[str] = Counter()
    attempts = 1  # the most attempts an activity took (retries leave no events of their own)
    for history in histories:
        evs = list(history.events)
        for e in evs:
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                attempts = max(attempts, e.activity_task_started_event_attributes.attempt)
        events.append(len(evs))
        sizes.append(sum(e.ByteSize() for e in evs))
        for name, event_type in SHAPE_EVENTS.items():
            shapes[name] += sum(1 for e in evs if e.event_type == event_type)
        started = evs[0].event_time.ToDatetime()
        task = next(
            (e for e in evs if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED), None
        )
        if task is not None:
            first_tasks.append((task.event_time.ToDatetime() - started).total_seconds())
    count = len(histories) or 1
    return {
        "sampled": len(histories),
        "events_mean": round(sum(events) / count, 1),
        "events_max": max(events, default=0),
        "bytes_mean": round(sum(sizes) / count),
        "bytes_max": max(sizes, default=0),
        "history_bytes_max": max(
            (History(events=list(h.events)).ByteSize() for h in histories), default=0
        ),
        "shape_mean": {name: round(shapes[name] / count, 2) for name in SHAPE_EVENTS},
        "activity_attempts_max": attempts,
        "first_workflow_task_ms": percentiles(first_tasks),
    }


async def record_counts(database_url: str) -> dict[str, int]:
    async with get_engine(database_url).connect() as conn:
        audit = (await conn.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
        outbox = (await conn.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    return {"audit_events": int(audit), "outbox_messages": int(outbox)}


# --- one run -----------------------------------------------------------------------------------


@dataclass
class Environment:
    client: Client
    address: str
    namespace: str
    out: Path
    args: argparse.Namespace
    database_url: str | None  # --database-url; None: a SQLite file per run under out/
    external: bool  # a server of someone else's: end what the run leaves open


def actor_signing_key() -> str:
    """The key the bench signs its actors with and its worker verifies them with: the
    settings of the environment alone, as the worker reads them (worker_env: no .env)."""
    return Settings().actor_signing_key


def worker_env(env: Environment, task_queue: str, database_url: str, publication: Path) -> dict:
    return {
        **os.environ,
        "ZHICHENG_ACTOR_SIGNING_KEY": actor_signing_key(),
        "TEMPORAL_ADDRESS": env.address,
        "TEMPORAL_NAMESPACE": env.namespace,
        "ZHICHENG_TASK_QUEUE": task_queue,
        "DATABASE_URL": database_url,
        "ZHICHENG_PUBLICATION_DIR": str(publication),
        "ZHICHENG_ENV_FILE": str(env.out / "no.env"),  # no developer's .env
        "ZHICHENG_METRICS_ADDRESS": "",
        "SMTP_HOST": "",  # delivery off: messages wait in the outbox
        "WECHAT_APP_ID": "",
    }


async def run_side(
    env: Environment, kind: str, n: int, path: Route, label: str, estimate: float | None
) -> dict[str, Any]:
    """Start a worker for `kind` (system or floor), drive `n` workflows along `path`, measure."""
    args = env.args
    task_queue = f"bench-{label}-{uuid.uuid4().hex[:6]}"
    database_url = env.database_url or f"sqlite+aiosqlite:///{env.out / f'zhicheng-{label}.db'}"
    publication = env.out / f"publication-{label}"
    log = env.out / f"worker-{label}.log"
    full = bool(path.phase_b)
    submission_closes: datetime | None = None
    if kind == "system":
        await ensure_schema(database_url)
        before = await record_counts(database_url)
        command = [sys.executable, "worker.py"]
    else:
        command = [sys.executable, "-m", "bench.floor"]
    worker = WorkerProcess(command, worker_env(env, task_queue, database_url, publication), log)
    server = server_process()
    reviewers = Drive(args.concurrency)
    outcome = Outcome(expected=n)
    window: float | None = None
    profile: Profile | None = None
    try:
        await worker.start(env.client, task_queue)
        if args.profile and worker.process is not None:
            profile = Profile(worker.process.pid, env.out / f"py-spy-{label}.txt")
        if kind == "system":
            now = datetime.now(UTC)
            seconds = args.submission_seconds or (
                args.publicity_seconds + 10 + n * (estimate or args.seconds_per_declaration)
            )
            window = seconds if full else None
            submission_closes = now + timedelta(seconds=seconds if full else 86_400)
            config = round_config(
                args.year,
                now,
                submission_closes_at=submission_closes,
                review_opens_at=submission_closes,
                review_closes_at=submission_closes + timedelta(days=1),
                payment_closes_at=submission_closes + timedelta(days=2),
                drill_publicity_seconds=args.publicity_seconds,
            )
            side = system_side(lambda: config, task_queue, path)
        else:
            side = floor_side(task_queue, path, args.publicity_seconds)
        print(f"  {label}: {n} on {task_queue}", flush=True)
        cpu_before, server_before = worker.cpu_seconds(), cpu_seconds(server)
        driver_before = cpu_seconds(psutil.Process())
        began = time.monotonic()
        tasks = [
            asyncio.create_task(drive(env.client, side, i, reviewers, outcome)) for i in range(n)
        ]
        await outcome.phase_a_over.wait()
        updates_done = outcome.phase_a_last
        drained = await worker.drained(timeout=3600)
        phase_a = drained - began
        # The gap: every workflow open, waiting on a timer.
        rss_open = worker.rss()
        cpu_open = await worker.cpu_percent(args.idle_seconds)
        rss_open = max(rss_open, worker.rss())
        rss_open_alone = worker.rss(with_children=False)
        uss_open = worker.uss()
        if submission_closes is not None and full:
            wait = (submission_closes - datetime.now(UTC)).total_seconds() + 0.2
            if wait > 0:
                await asyncio.sleep(wait)
        released = time.monotonic()
        outcome.review_open.set()
        await asyncio.gather(*tasks)
        ended = time.monotonic()
        phase_b = (ended - released) if full else 0.0
        measured = phase_a + phase_b
        cpu = worker.cpu_seconds() - cpu_before
        server_after, driver_after = cpu_seconds(server), cpu_seconds(psutil.Process())
        late = sum(1 for f in outcome.failures if "OutsideWindow" in f)
        result: dict[str, Any] = {
            "declarations": n,
            "workload": "full" if full else "open",
            "completed": outcome.completed,
            "failed": len(outcome.failures),
            "failures": outcome.failures[:5],
            "missed_submission_window": late,
            "seconds": {
                "phase_a": round(phase_a, 2),
                "phase_a_updates": round(updates_done - began, 2),
                "gap": round(released - drained, 2),
                "phase_b": round(phase_b, 2),
                "measured": round(measured, 2),
                "wall": round(ended - began, 2),
                "submission_window": round(window, 1) if window is not None else None,
            },
            "throughput_per_s": round(outcome.completed / measured, 3) if measured else None,
            "updates": {
                "count": sum(len(v) for v in reviewers.latencies.values()),
                "early_retries": reviewers.retries,
                "latency_ms": percentiles(
                    [x for values in reviewers.latencies.values() for x in values]
                ),
                "by_action": {
                    name: percentiles(values) for name, values in reviewers.latencies.items()
                },
            },
            "start_latency_ms": percentiles(reviewers.starts),
            "worker": {
                "rss_mb_ready": round(worker.rss_ready / 2**20, 1),
                "rss_mb_open": round(rss_open / 2**20, 1),
                "rss_mb_open_worker_process": round(rss_open_alone / 2**20, 1),
                "uss_mb_open": round(uss_open / 2**20, 1),
                "cpu_percent_open": round(cpu_open, 1),
                "rss_mb_peak": round(max(worker.rss_peak, rss_open) / 2**20, 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_ms_per_declaration": round(1000 * cpu / n, 1),
            },
            "server_cpu_seconds": round(server_after - server_before, 2)
            if server_after is not None and server_before is not None
            else None,
            "driver_cpu_seconds": round((driver_after or 0) - (driver_before or 0), 2),
        }
        result["history"] = await history_figures(outcome.handles, args.histories)
        if kind == "system":
            after = await record_counts(database_url)
            result["records"] = {k: after[k] - before[k] for k in after}
        await worker.stop()
        if profile is not None:
            result["profile"] = await profile.finish()
        return result
    finally:
        await worker.stop()
        if env.external and not (full or env.args.keep):
            await terminate(env.client, outcome.handles)


async def terminate(client: Client, handles: Sequence[WorkflowHandle[Any, Any]]) -> None:
    """End the open workload's workflows (they would wait for a day)."""
    limit = asyncio.Semaphore(50)

    async def end(handle: WorkflowHandle[Any, Any]) -> None:
        async with limit:
            with contextlib.suppress(Exception):
                await handle.terminate("benchmark over")

    await asyncio.gather(*(end(h) for h in handles))


def phase_a_seconds_per_declaration(result: dict[str, Any]) -> float:
    return result["seconds"]["phase_a_updates"] / max(1, result["declarations"])


async def bench(env: Environment) -> dict[str, Any]:
    args = env.args
    runs = []
    estimate: float | None = None
    for n in args.n:
        full = n <= args.full_up_to
        path = HAPPY if full else OPEN
        print(f"N = {n} ({'full happy path' if full else 'open: start + submit'})", flush=True)
        floor = await run_side(env, "floor", n, path, f"floor-{n}", None)
        system = await run_side(env, "system", n, path, f"system-{n}", estimate)
        if full:
            estimate = 2 * phase_a_seconds_per_declaration(system)
        ratio = (
            system["throughput_per_s"] / floor["throughput_per_s"]
            if system["throughput_per_s"] and floor["throughput_per_s"]
            else None
        )
        runs.append(
            {
                "n": n,
                "workload": system["workload"],
                "system": system,
                "floor": floor,
                "throughput_ratio": round(ratio, 3) if ratio is not None else None,
            }
        )
        print(report.run_line(runs[-1]), flush=True)
    worst = None
    if args.worst:
        print(f"worst path: {args.worst}", flush=True)
        worst = await run_side(env, "system", args.worst, WORST, "worst", estimate)
    return {"runs": runs, "worst_path": worst}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--concurrency", type=int, default=8, help="updates in flight")
    parser.add_argument("--publicity-seconds", type=int, default=5, help="drill publicities")
    parser.add_argument(
        "--full-up-to",
        type=int,
        default=1000,
        help="larger N run the open workload only (start + submit)",
    )
    parser.add_argument(
        "--submission-seconds",
        type=float,
        help="the submission window from the start (default: estimated from N)",
    )
    parser.add_argument(
        "--seconds-per-declaration",
        type=float,
        default=1.0,
        help="phase A estimate for the first N (later N use the last measured, x2)",
    )
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="the open measurement")
    parser.add_argument("--worst", type=int, default=3, help="worst-path declarations (0: none)")
    parser.add_argument("--histories", type=int, default=50, help="histories sampled per run")
    parser.add_argument("--year", type=int, default=2098, help="the rounds' year (its own)")
    parser.add_argument("--database-url", help="the record database (default: SQLite files)")
    parser.add_argument("--address", help="a running Temporal server (or TEMPORAL_ADDRESS)")
    parser.add_argument("--namespace", default=os.environ.get("TEMPORAL_NAMESPACE", "default"))
    parser.add_argument("--out", type=Path, help="results directory (default var/bench/<time>)")
    parser.add_argument(
        "--docs", action="store_true", help="also write docs/benchmark.md and docs/benchmark.png"
    )
    parser.add_argument("--keep", action="store_true", help="leave open workflows running")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample each worker with py-spy (pip install py-spy): out/py-spy-*.txt",
    )
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    started = datetime.now(UTC)
    out = args.out or ROOT / "var" / "bench" / started.strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True, exist_ok=True)
    address = args.address or temporal_address_from_environment()
    async with temporal(address, args.namespace) as client:
        env = Environment(
            client=client,
            address=client.service_client.config.target_host,
            namespace=args.namespace,
            out=out,
            args=args,
            database_url=args.database_url,
            external=bool(address),
        )
        results = await bench(env)
    await dispose_engines()
    document = report.document(
        results, args, started, server="running at " + address if address else None
    )
    paths = report.write(document, out, docs=args.docs)
    print(report.markdown(document))
    for path in paths:
        print(f"wrote {path}")
    return document


def cli() -> None:
    """Exit status 0: every workflow completed; 1: some failed (see results.json)."""
    from client.connection import exit_without_finalizing

    try:
        document = asyncio.run(main())
    except SystemExit as exc:  # --help, bad arguments
        exit_without_finalizing(exc.code if isinstance(exc.code, int) else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        exit_without_finalizing(1)
    exit_without_finalizing(1 if report.failures(document) else 0)


if __name__ == "__main__":
    cli()
