"""The portal tests' shared pieces: accounts, a browser on the ASGI app, logging in, and
declarations made ready for a reviewer."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role
from models.declaration import Applicant, Employer
from portal.context import ROLE_NAMES_ZH
from rules.update_ids import new_form_token
from store.accounts import create_account
from store.db import get_engine
from tests.helpers.declaration_support import act, start
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE

PASSWORD = "correct-horse-battery"
OTHER_USCC = "916501007222222292"  # valid, a different employer
OTHER_EMPLOYER = "另一家示例能源有限公司"


async def account(database_url: str, role: Role, **fields: Any) -> str:
    username = f"{role.value}-{uuid.uuid4().hex[:8]}"
    created = await create_account(
        get_engine(database_url),
        role=role,
        username=username,
        password=PASSWORD,
        display_name=f"测试{ROLE_NAMES_ZH[role]}",  # a page shows it: Chinese
        **fields,
    )
    assert created
    return username


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def rendered_form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the page's form that posts to `action`, as rendered: its CSRF
    token and its request token."""
    found = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S
    )
    assert found, f"no form for {action} on the page"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', found.group(1)))


def action_form(csrf: str, **fields: Any) -> dict[str, Any]:
    """What an action form posts, as its page renders it: the session's CSRF token, the
    form's own request token (a fresh one: the portal applies one token's update once,
    portal/context.py) and its fields."""
    return {"csrf_token": csrf, "request_token": new_form_token(), **fields}


async def browser_for(portal: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal), base_url="http://portal.test"
    )


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    """Logs in; returns the page's CSRF token for the session."""
    token = csrf_of((await client.get("/login")).text)
    response = await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def other_employer_applicant() -> Applicant:
    return Applicant(
        name="王五",
        id_card=SAMPLE_ID_CARD,
        mobile=SAMPLE_MOBILE,
        employer=Employer(name=OTHER_EMPLOYER, uscc=OTHER_USCC),
    )


async def submitted(env: WorkflowEnvironment, worker: Worker, **fields: Any) -> Any:
    handle = await start(env, worker, **fields)
    await act(handle, "submit", "applicant")
    return handle
