"""转办 in the portal (R26, portal/assignments.py) over HTTP on the time-skipping test server:
the employer's, the competent unit's and the evaluation body's form (a colleague of the
same organisation, by name, with a note; feedback, no confirmation), the assignee on the
page and in the list with its filter "分配给我", the blind view kept, and the supervisor's
audit trail naming each person beside the organisation."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role, Stage
from models.declaration import Applicant, Employer
from portal.security import blind_code
from store.accounts import create_account
from store.db import get_engine
from tests.helpers.declaration_support import settled_event_types, start, state
from tests.helpers.portal_support import (
    APPLICANT_NAME,
    EMPLOYER_NAME,
    OTHER_USCC,
    PASSWORD,
    action_form,
    assert_blind,
    browser_for,
    forbidden_texts,
    login,
    publicized_together,
    reviewers_app,
    snapshot,
    submitted,
    to_review_together,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, SAMPLE_USCC

SECRET = "portal-assign-secret"


@pytest_asyncio.fixture(scope="module")
async def portal(
    time_env: WorkflowEnvironment, time_worker: Worker, database_url: str, session_dir: Path
) -> FastAPI:
    return reviewers_app(time_env, database_url, SECRET, session_dir / "uploads-assign")


@pytest_asyncio.fixture
async def browser(portal: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await browser_for(portal) as client:
        yield client


async def person(database_url: str, role: Role, name: str, **fields: Any) -> tuple[str, str]:
    """A new account of `role` with a display name of its own: (username, display name)."""
    tag = uuid.uuid4().hex[:6]
    username, shown = f"{role.value}-{tag}", f"{name}{tag}"
    assert await create_account(
        get_engine(database_url), role=role, username=username, password=PASSWORD,
        display_name=shown, **fields,
    )  # fmt: skip
    return username, shown


def assignee_on(page: str) -> str:
    found = re.search(r'<span id="assignee">(.*?)</span>', page)
    assert found, "no assignee on the page"
    return found.group(1)


def options_of(page: str) -> dict[str, str]:
    """The transfer form's colleagues: username -> label."""
    found = re.search(r'<select name="assignee"[^>]*>(.*?)</select>', page, re.S)
    assert found, "no transfer form on the page"
    return dict(re.findall(r'<option value="([^"]+)">([^<]*)</option>', found.group(1)))


async def test_the_employer_hands_a_declaration_to_a_colleague(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await submitted(time_env, time_worker)
    first, first_name = await person(
        database_url, Role.employer, "王科长", employer_uscc=SAMPLE_USCC
    )
    second, second_name = await person(
        database_url, Role.employer, "李干事", employer_uscc=SAMPLE_USCC
    )
    stranger, _ = await person(database_url, Role.employer, "外单位", employer_uscc=OTHER_USCC)
    here = f"/employer/{handle.id}"

    async with await browser_for(portal) as hr:
        token = await login(hr, first)
        page = (await hr.get(here)).text
        assert assignee_on(page) == "尚未指定"
        options = options_of(page)
        assert options[second] == second_name and options[first] == f"{first_name}（本人）"
        assert stranger not in options  # another employer's account is no colleague

        # a colleague of another employer: refused before anything is sent, nothing changed
        before = await snapshot(handle)
        response = await hr.post(f"{here}/assign", data=action_form(token, assignee=stranger))
        assert response.status_code == 400 and "请从本单位的账号中选择转办对象" in response.text
        assert await snapshot(handle) == before

        response = await hr.post(
            f"{here}/assign", data=action_form(token, assignee=second, note="请李干事初审")
        )
        assert response.status_code == 303  # no confirmation step
        page = (await hr.get(response.headers["location"])).text
        assert f"已转办给{second_name}" in page  # the feedback
        assert assignee_on(page) == second_name
        assert f"转办给{second_name}：请李干事初审" in page  # the timeline
        assert f"用人单位：{first_name}" in page  # who did it, by name
        current = await state(handle)
        assert current.stage is Stage.employer_review
        assert current.assignees[Role.employer].id == f"employer:{second}"

        # the list: the assignee's name; "分配给我" is not the assigner's
        await settled_event_types(handle)
        listing = (await hr.get("/employer")).text
        assert second_name in listing and "分配给我" in listing
        assert handle.id not in (await hr.get("/employer?mine=1")).text

    async with await browser_for(portal) as colleague:
        token = await login(colleague, second)
        assert handle.id in (await colleague.get("/employer?mine=1")).text
        page = (await colleague.get(here)).text
        assert assignee_on(page) == f"{second_name}（本人）"
        # handed back: the undo
        response = await colleague.post(f"{here}/assign", data=action_form(token, assignee=first))
        assert response.status_code == 303
        await settled_event_types(handle)
        assert handle.id not in (await colleague.get("/employer?mine=1")).text
        again = await colleague.post(f"{here}/assign", data=action_form(token, assignee=first))
        assert again.status_code == 409 and "该申报已由这位同事经办" in again.text

    # the supervisor's audit trail names every person beside the organisation
    supervisor, _ = await person(database_url, Role.supervisor, "监管员")
    async with await browser_for(portal) as watcher:
        await login(watcher, supervisor)
        trail = (await watcher.get(f"/supervisor/audit/{handle.id}")).text
        assert f"{first_name}（employer:{first}）" in trail
        assert f"转办给{second_name}（employer:{second}）：请李干事初审" in trail
        assert f"{second_name}（employer:{second}）" in trail and "用人单位" in trail
        overview = (await watcher.get("/supervisor")).text
        assert f"{first_name} employer:{first}" in overview  # the refused attempt, named
        assert (await watcher.get("/supervisor/audit/decl-0000-none")).status_code == 404


async def test_the_competent_unit_assigns_within_the_unit(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    unit = f"测试主管局{uuid.uuid4().hex[:6]}"
    applicant = Applicant(
        name=APPLICANT_NAME, id_card=SAMPLE_ID_CARD, mobile=SAMPLE_MOBILE,
        employer=Employer(name=EMPLOYER_NAME, uscc=SAMPLE_USCC, competent_unit=unit),
    )  # fmt: skip
    handle = await start(time_env, time_worker, applicant=applicant)
    for current in await publicized_together(time_env, handle):
        assert current.stage is Stage.competent_unit_review
    # a competent unit's accounts bear its name (portal/routers/competent_unit.py)
    engine = get_engine(database_url)
    first, second, other = (f"cu-{uuid.uuid4().hex[:6]}" for _ in range(3))
    for username, name in ((first, unit), (second, unit), (other, "别的主管局")):
        assert await create_account(
            engine, role=Role.competent_unit, username=username, password=PASSWORD,
            display_name=name,
        )  # fmt: skip
    here = f"/competent-unit/{handle.id}"
    async with await browser_for(portal) as cu:
        token = await login(cu, first)
        options = options_of((await cu.get(here)).text)
        assert set(options) == {first, second}  # the same unit's, told apart by username
        assert options[second] == f"{unit}（{second}）"
        response = await cu.post(f"{here}/assign", data=action_form(token, assignee=second))
        assert response.status_code == 303
        page = (await cu.get(response.headers["location"])).text
        assert assignee_on(page) == f"{unit}（{second}）"
        await settled_event_types(handle)
        assert handle.id not in (await cu.get("/competent-unit?mine=1")).text
    async with await browser_for(portal) as colleague:
        await login(colleague, second)
        assert handle.id in (await colleague.get("/competent-unit?mine=1")).text


async def test_the_evaluation_body_assigns_in_the_blind_view(
    portal: FastAPI, database_url: str, time_env: WorkflowEnvironment, time_worker: Worker
) -> None:
    handle = await start(time_env, time_worker)
    await to_review_together(time_env, handle)
    first, _ = await person(database_url, Role.evaluation_body, "评审员甲")
    second, second_name = await person(database_url, Role.evaluation_body, "评审员乙")
    code = blind_code(handle.id, SECRET)
    here = f"/evaluation/{code}"
    forbidden = await forbidden_texts()
    async with await browser_for(portal) as body:
        token = await login(body, first)
        page = await body.get(here)
        assert second in options_of(page.text)
        response = await body.post(f"{here}/assign", data=action_form(token, assignee=second))
        assert response.status_code == 303 and response.headers["location"].startswith(here)
        page = await body.get(response.headers["location"])
        assert f"已转办给{second_name}" in page.text and assignee_on(page.text) == second_name
        assert_blind(here, page.content, forbidden)
        await settled_event_types(handle)
        queue = await body.get("/evaluation")
        assert second_name in queue.text
        assert_blind("/evaluation", queue.content, forbidden)
        assert code not in (await body.get("/evaluation?mine=1")).text
    async with await browser_for(portal) as colleague:
        await login(colleague, second)
        mine = await colleague.get("/evaluation?mine=1")
        assert code in mine.text
        assert_blind("/evaluation?mine=1", mine.content, forbidden)
