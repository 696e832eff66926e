"""Committee sessions in tests (R20, R27): a running round with declarations walked to the
committee, an expert pool of its own specialty, a session's updates and its wait."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.committee import session_act
from client.declarations import start_declaration
from client.rounds import start_round
from models.calendar import YearCalendar
from models.committee import SessionState, SessionStatus
from models.common import Actor, Level, Role, Stage
from models.declaration import EligibilityFacts
from models.experts import ExpertProfile, Relation
from models.round import ListingSource, RoundInput
from rules.calendar_source import build_calendar
from rules.identity import applicant_key
from store.db import get_engine
from store.experts import add_expert
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    round_around,
    sleep_until,
    state,
    to_publicity,
)
from tests.helpers.samples import sample_declaration_input
from tests.helpers.signing import TEST_SIGNER

SUPERVISOR = Actor(role=Role.supervisor, id="supervisor-1")
SECRETARY = {"role": "committee", "id": "secretary-1"}
POOL_EMPLOYER_USCC = "91650100MA77ABCD1P"  # not the applicants' employer
ID_CARDS = ["110101199003074514", "11010519491231002X", "110102198001010017"]


async def committee_round(env: WorkflowEnvironment, worker: Worker, year: int) -> RoundInput:
    """A round of `year`, open now, listing its declarations from the record database."""
    now = await env.get_current_time()
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    # a committee of 9 (R27: the minimum is the round's setting; 11 by default)
    config = round_around(
        now, year=year, calendar=build_calendar(years, years), committee_minimum_members=9
    )
    round_input = RoundInput(config=config, listing=ListingSource.record)
    await start_round(env.client, round_input, worker.task_queue)
    return round_input


async def to_committee(
    env: WorkflowEnvironment, worker: Worker, round_input: RoundInput, secret: str
) -> list[WorkflowHandle[Any, Any]]:
    """A junior declaration per ID card (no defense, R18), walked together to the committee."""
    handles = []
    for id_card in ID_CARDS:
        declaration = sample_declaration_input(
            round=round_input.config,
            applicant_key=applicant_key(id_card, secret),
            level=Level.junior,
            eligibility=EligibilityFacts(continuing_education_completed=True),
        )
        handles.append(await start_declaration(env.client, declaration, worker.task_queue))
    ends = [(await to_publicity(handle)).deadlines["publicity_ends_at"] for handle in handles]
    await sleep_until(env, max(datetime.fromisoformat(end) for end in ends), SECOND)
    for handle in handles:
        await act(handle, "recommend", "employer", **RECOMMENDATION)
    opens = datetime.fromisoformat((await state(handles[0])).deadlines["review_opens_at"])
    await sleep_until(env, opens, SECOND)
    for handle in handles:
        await act(handle, "accept_materials", "evaluation_body")
        current = await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
        assert current.stage is Stage.committee, current.stage
    return handles


async def expert_pool(secret: str, specialty: str, related_to: str) -> list[str]:
    """12 experts of `specialty` (a test's own: the draw takes the pool of one specialty);
    the first declared a relation to the holder of the ID card `related_to`."""
    engine = get_engine()
    codes = []
    for n in range(1, 13):
        profile = ExpertProfile(
            name=f"评审专家{n}",
            employer_uscc=POOL_EMPLOYER_USCC,
            employer_name="新疆某研究院",
            specialty=specialty,
            title="正高级工程师",
            mobile=f"+86139{n:08d}",
            email=f"expert{n}@example.com",
            relations=[Relation(id_card=related_to, relation="配偶")] if n == 1 else [],
        )
        codes.append(await add_expert(engine, profile, SUPERVISOR, secret))
    return codes


async def session_update(
    env: WorkflowEnvironment, session: str, update: str, actor: dict[str, str], **fields: Any
) -> SessionState:
    return await session_act(
        env.client,
        session,
        update,
        {"actor": actor, **fields},
        signer=TEST_SIGNER,
        update_id=f"t-{uuid.uuid4().hex}",
    )


async def session_until(handle: WorkflowHandle[Any, Any], *statuses: SessionStatus) -> SessionState:
    for _ in range(400):
        current = await handle.query("state", result_type=SessionState)
        if current.status in statuses:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"session still {current.status}")
