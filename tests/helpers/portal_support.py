"""The portal tests' shared pieces: accounts, a browser on the ASGI app, logging in,
declarations made ready for a reviewer, and what a blind page must never show."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.common import Role, Stage
from models.declaration import Applicant, DeclarationState, Employer, Material
from portal.app import create_app
from portal.context import ROLE_NAMES_ZH
from portal.security import LoginThrottle
from portal.uploads import StoredUpload, UploadConfig, set_masked, store_upload
from rules.timezone import SHANGHAI
from rules.update_ids import new_form_token
from store.accounts import create_account, find_account
from store.db import get_engine
from store.tables import DeclarationRow
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    sleep_until,
    start,
    state,
    to_publicity,
)
from tests.helpers.portal_applicant_support import (
    EMPLOYER_BOX,
    NAME_BOX,
    blacked_out,
    certificate,
    pdf_of,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, SAMPLE_USCC

PASSWORD = "correct-horse-battery"
OTHER_USCC = "916501007222222292"  # valid, a different employer
OTHER_EMPLOYER = "另一家示例能源有限公司"
APPLICANT_NAME, EMPLOYER_NAME = "张三", "新疆示例硅业有限公司"  # tests.helpers.samples
SAMPLE_EMAIL = "zhangsan@example.com"


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


def reviewers_app(
    env: WorkflowEnvironment, database_url: str, secret: str, uploads: Path
) -> FastAPI:
    """The portal of the reviewers' tests: on the test server, a lenient login throttle (many
    accounts log in), an upload store of the module's own."""
    app = create_app(
        client=env.client,
        database_url=database_url,
        secret=secret,
        throttle=LoginThrottle(per_account=50, per_address=1000, window=900),
    )
    app.state.uploads = UploadConfig(uploads, 2 * 1024 * 1024)
    return app


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


async def publicized_together(
    env: WorkflowEnvironment, *handles: WorkflowHandle[Any, Any]
) -> list[DeclarationState]:
    """Several declarations publicized at once, then recommended by their employers (one at
    a time, the clock would pass the others' submission close). Their states after it."""
    ends = [(await to_publicity(h)).deadlines["publicity_ends_at"] for h in handles]
    await sleep_until(env, max(datetime.fromisoformat(end) for end in ends), SECOND)
    return [await act(handle, "recommend", "employer", **RECOMMENDATION) for handle in handles]


async def to_review_together(env: WorkflowEnvironment, *handles: WorkflowHandle[Any, Any]) -> None:
    """Several declarations to the evaluation body's open review window."""
    opens = []
    for current in await publicized_together(env, *handles):
        assert current.stage is Stage.evaluation_review
        opens.append(datetime.fromisoformat(current.deadlines["review_opens_at"]))
    await sleep_until(env, max(opens), SECOND)


async def snapshot(handle: WorkflowHandle[Any, Any]) -> tuple[Stage, int, list[Any]]:
    """What a refused request must leave as it was."""
    current = await state(handle)
    return current.stage, len(current.timeline), current.objections


def local_input(instant: datetime) -> str:
    """A datetime-local form value (Asia/Shanghai wall time, no offset)."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


async def forbidden_texts() -> list[str]:
    """Everything that names or locates any applicant the record database knows of."""
    texts = {APPLICANT_NAME, EMPLOYER_NAME, SAMPLE_ID_CARD, SAMPLE_MOBILE, "+8613800138000",
             SAMPLE_EMAIL, SAMPLE_USCC, OTHER_EMPLOYER, OTHER_USCC, "王五", "decl-"}  # fmt: skip
    async with get_engine().connect() as conn:
        for row in await conn.execute(select(DeclarationRow.__table__)):
            texts |= {row.applicant_name, row.employer_name, row.employer_uscc, row.workflow_id}
            texts |= {row.applicant_key}
    return sorted(texts)


def assert_blind(where: str, body: bytes, forbidden: list[str]) -> None:
    decoded = body.decode("utf-8", errors="replace")
    for text in forbidden:
        assert text.encode() not in body and text not in decoded, f"{where} shows {text!r}"


# --- a declaration's material with its files in the portal's upload store ----------------------


@dataclass(frozen=True)
class Scanned:
    """A material as the applicant made it: the original scan and its masked copy."""

    title: str
    original: bytes
    masked: bytes

    @property
    def material(self) -> Material:
        """What the workflow holds of it (the masked copy's hash, as a submit sends it)."""
        return Material(
            name=self.title, sha256=hashlib.sha256(self.masked).hexdigest(), masked=True
        )


def scanned(name: str, employer: str, title: str = "学历证书") -> Scanned:
    """A certificate naming the applicant and the employer, and its copy with both burned
    black where the masking tool's boxes would be; each a PDF."""
    original = certificate(name, employer)
    copy = blacked_out(original, NAME_BOX, EMPLOYER_BOX)
    return Scanned(title, pdf_of(original), pdf_of(copy))


async def keep_material(
    database_url: str, store_dir: Path, handle: WorkflowHandle[Any, Any], scanned: Scanned
) -> tuple[StoredUpload, StoredUpload]:
    """The material's files uploaded by an applicant account of the declaration (its key is
    the end of the workflow id) and the copy linked as the original's masked version, as the
    masking tool leaves them: the original's and the copy's uploads."""
    key = handle.id.rsplit("-", 1)[-1]
    engine = get_engine(database_url)
    username = await account(database_url, Role.applicant, applicant_key=key)
    owner = await find_account(engine, username=username)
    assert owner is not None
    stored = [
        await store_upload(
            engine, store_dir, owner_account_id=owner.id, declared_name=name, data=data,
            max_bytes=None,
        )
        for name, data in ((f"{scanned.title}.pdf", scanned.original),
                           (f"masked-{scanned.title}.pdf", scanned.masked))
    ]  # fmt: skip
    await set_masked(engine, stored[0].id, stored[1].sha256)
    return stored[0], stored[1]
