"""The portal over HTTP (httpx + ASGITransport) on the time-skipping test server: each role's
allowed and forbidden actions, refused requests changing nothing, the blind view (R11)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from client.codec import ID_CARD_PURPOSE, FieldCipher
from models.common import Role, Stage
from portal.app import create_app
from portal.security import LoginThrottle, blind_code
from rules.identity import applicant_key
from settings import ROOT, load_settings
from tests.helpers.declaration_support import start, state, to_evaluation_review
from tests.helpers.portal_support import (
    OTHER_EMPLOYER,
    PASSWORD,
    account,
    action_form,
    browser_for,
    csrf_of,
    login,
    other_employer_applicant,
    submitted,
)
from tests.helpers.samples import SAMPLE_ID_CARD, SAMPLE_MOBILE, SAMPLE_USCC

SECRET = "portal-test-secret"


@pytest_asyncio.fixture(scope="module")
async def portal(time_env: WorkflowEnvironment, time_worker: Worker, database_url: str) -> FastAPI:
    return create_app(
        client=time_env.client,
        database_url=database_url,
        secret=SECRET,
        throttle=LoginThrottle(per_account=5, per_address=100, window=900),
    )


@pytest_asyncio.fixture
async def browser(portal: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=portal), base_url="http://portal.test"
    ) as client:
        yield client


async def test_login_sets_an_httponly_samesite_session_cookie(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    username = await account(database_url, Role.supervisor)
    token = csrf_of((await browser.get("/login")).text)
    response = await browser.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert (await browser.get("/supervisor")).status_code == 200
    page = await browser.get("/supervisor")
    await browser.post("/logout", data={"csrf_token": csrf_of(page.text)})
    assert (await browser.get("/supervisor")).status_code == 303  # back to the login page


async def test_wrong_password_and_throttling(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    username = await account(database_url, Role.supervisor)
    token = csrf_of((await browser.get("/login")).text)
    for _ in range(5):
        response = await browser.post(
            "/login", data={"username": username, "password": "wrong-one", "csrf_token": token}
        )
        assert response.status_code == 401
        assert "用户名或密码不正确" in response.text
    # the sixth try is refused even with the right password
    response = await browser.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    assert "登录失败次数过多" in response.text


async def test_login_without_csrf_token_refused(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    username = await account(database_url, Role.supervisor)
    await browser.get("/login")
    response = await browser.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 403


async def test_roles_see_only_their_pages(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str
) -> None:
    username = await account(database_url, Role.applicant, applicant_key="0" * 16)
    await login(browser, username)
    for path in ("/employer", "/evaluation", "/supervisor"):
        assert (await browser.get(path)).status_code == 403, path
    assert (await browser.get("/employer/x/approve")).status_code == 405


async def test_employer_acts_on_its_own_staff_only(
    portal: FastAPI,
    browser: httpx.AsyncClient,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    own = await submitted(time_env, time_worker)
    other = await submitted(time_env, time_worker, applicant=other_employer_applicant())
    token = await login(
        browser, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    )

    page = (await browser.get("/employer")).text
    assert own.id in page
    assert other.id not in page and "王五" not in page and OTHER_EMPLOYER not in page

    # another employer's declaration: 404, nothing changed
    for what, data in (("approve", {}), ("return", {"reason": "不应成功"})):
        response = await browser.post(
            f"/employer/{other.id}/{what}", data=action_form(token, **data)
        )
        assert response.status_code == 404
    assert (await state(other)).stage is Stage.employer_review

    # approve its own, with a forged actor in the form: the session's account acts
    response = await browser.post(
        f"/employer/{own.id}/approve",
        data=action_form(
            token,
            actor="supervisor",
            actor_role="supervisor",
            actor_id="forged",
            role="supervisor",
            confirmed="yes",
        ),
    )
    assert response.status_code == 303, response.text
    current = await state(own)
    assert current.stage is Stage.publicity
    assert current.timeline[-1].actor.role is Role.employer
    assert current.timeline[-1].actor.id.startswith("employer:employer-")

    # approving again: the workflow refuses (WrongStage), shown inline in Chinese
    response = await browser.post(
        f"/employer/{own.id}/approve", data=action_form(token, confirmed="yes")
    )
    assert response.status_code == 409
    assert "当前所处阶段不能办理此事项" in response.text
    assert "WrongStage" not in response.text  # the English detail is not shown
    assert (await state(own)).stage is Stage.publicity


async def test_employer_return_needs_a_reason(
    portal: FastAPI,
    browser: httpx.AsyncClient,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    handle = await submitted(time_env, time_worker)
    token = await login(
        browser, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    )
    response = await browser.post(
        f"/employer/{handle.id}/return", data=action_form(token, reason=" ")
    )
    assert response.status_code == 400
    assert "“原因”此项必填。" in response.text  # at the top, and beside the field:
    assert '<span class="field-error" role="alert">此项必填。</span>' in response.text
    assert (await state(handle)).stage is Stage.employer_review
    # a NUL (a form passes %00 through): refused beside the field, nothing recorded
    response = await browser.post(
        f"/employer/{handle.id}/return",
        content=f"csrf_token={token}&reason=%E4%B8%8D%00%E6%B8%85",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    beside = "含有无法保存的控制字符（第2个字符），请删除后重新填写。"
    assert f"“原因”{beside}" in response.text
    assert f'<span class="field-error" role="alert">{beside}</span>' in response.text
    assert (await state(handle)).stage is Stage.employer_review
    response = await browser.post(
        f"/employer/{handle.id}/return", data=action_form(token, reason="学历证书不清晰")
    )
    assert response.status_code == 303
    assert (await state(handle)).stage is Stage.draft


async def test_csrf_missing_or_wrong_refused_nothing_changed(
    portal: FastAPI,
    browser: httpx.AsyncClient,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    handle = await submitted(time_env, time_worker)
    await login(browser, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC))
    for data in ({}, {"csrf_token": "forged"}):
        response = await browser.post(f"/employer/{handle.id}/approve", data=data)
        assert response.status_code == 403
    # a token from another session does not fit this one either
    other = await browser_for(portal)
    async with other:
        foreign = csrf_of((await other.get("/login")).text)
    response = await browser.post(f"/employer/{handle.id}/approve", data=action_form(foreign))
    assert response.status_code == 403
    assert (await state(handle)).stage is Stage.employer_review


async def test_blind_review_return_resubmit_accept(
    portal: FastAPI,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    handle = await start(time_env, time_worker)
    await to_evaluation_review(time_env, handle)
    key = handle.id.rsplit("-", 1)[-1]  # decl-{year}-{applicant key}
    code = blind_code(handle.id, SECRET)
    reviewer = await account(database_url, Role.evaluation_body)
    applicant = await account(database_url, Role.applicant, applicant_key=key)

    async with await browser_for(portal) as evaluator:
        token = await login(evaluator, reviewer)
        page = (await evaluator.get("/evaluation")).text
        assert code in page
        forbidden = ["张三", SAMPLE_ID_CARD, SAMPLE_MOBILE, "+8613800138000",
                     "新疆示例硅业有限公司", SAMPLE_USCC, handle.id, key]  # fmt: skip
        for text in forbidden:
            assert text not in page, f"blind view shows {text!r}"

        # an unknown code, and a workflow id in place of a code: 404
        for target in ("RFFFFFFFFFF", handle.id):
            response = await evaluator.post(f"/evaluation/{target}/accept", data=action_form(token))
            assert response.status_code == 404
        assert (await state(handle)).stage is Stage.evaluation_review

        response = await evaluator.post(
            f"/evaluation/{code}/return",
            data=action_form(token, reason="缺少继续教育证明", confirmed="yes"),
        )
        assert response.status_code == 303, response.text
        assert (await state(handle)).stage is Stage.correction
        page = (await evaluator.get("/evaluation")).text
        for text in forbidden:
            assert text not in page

        # the employer may not act as the evaluation body
        async with await browser_for(portal) as employer:
            await login(
                employer, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
            )
            assert (await employer.get("/evaluation")).status_code == 403

        async with await browser_for(portal) as person:
            token_a = await login(person, applicant)
            page = (await person.get("/applicant")).text
            assert "缺少继续教育证明" in page
            assert "退回补正" in page and "小时" in page and "+08:00" in page
            response = await person.post(
                "/applicant/resubmit", data=action_form(token_a, actor_role="evaluation_body")
            )
            assert response.status_code == 303, response.text
            current = await state(handle)
            assert current.stage is Stage.evaluation_review
            assert current.timeline[-1].actor.role is Role.applicant
            # resubmitting again: refused inline (WrongStage), naming the stage it is in
            response = await person.post("/applicant/resubmit", data=action_form(token_a))
            assert response.status_code == 409
            assert "您的申报当前处于“评审机构审核”阶段，不能重新提交" in response.text

        page = (await evaluator.get("/evaluation")).text
        row = page[page.index(f'<tr id="{code}">') :]
        assert "1 / 3" in row[: row.index("</tr>")]  # the return count
        response = await evaluator.post(
            f"/evaluation/{code}/accept", data=action_form(token, confirmed="yes")
        )
        assert response.status_code == 303
        assert (await state(handle)).stage is Stage.payment


async def test_supervisor_counts_and_links(
    portal: FastAPI,
    browser: httpx.AsyncClient,
    database_url: str,
    time_env: WorkflowEnvironment,
    time_worker: Worker,
) -> None:
    number = f"2099-{uuid.uuid4().int % 10**6:06d}"
    handle = await submitted(time_env, time_worker, number=number)
    csrf = await login(browser, await account(database_url, Role.supervisor))
    page = (await browser.get("/supervisor")).text
    assert "用人单位审核" in page and "中级" in page
    found = await browser.post("/supervisor", data={"csrf_token": csrf, "q": number})
    listed = found.text[found.text.index('<h2 id="declarations">') :]
    # the Web UI of the settings (ZHICHENG_TEMPORAL_UI_URL's default), TEMPORAL_NAMESPACE
    namespace = portal.state.portal.settings.temporal_namespace
    assert f"http://localhost:8233/namespaces/{namespace}/workflows/{handle.id}" in listed
    assert number in listed and "张三" in listed and "新疆示例硅业有限公司" in listed
    assert SAMPLE_ID_CARD not in found.text


@pytest.mark.parametrize(
    ("role", "home"),
    [(Role.competent_unit, "/competent-unit"), (Role.committee, "/committee")],
)
async def test_every_role_has_its_pages(
    portal: FastAPI, browser: httpx.AsyncClient, database_url: str, role: Role, home: str
) -> None:
    """No placeholder left: login leads each role to its own home page."""
    await login(browser, await account(database_url, role))
    response = await browser.get("/")
    assert response.status_code == 303 and response.headers["location"] == home
    assert (await browser.get(home)).status_code == 200
    assert (await browser.get("/pending")).status_code == 404


def test_starter_account_create(tmp_path: Any) -> None:
    """`starter.py account create`: made once, a second time refused, an employer needs --uscc."""
    import os
    import sqlite3
    import subprocess
    import sys

    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'accounts.db'}",
        "ZHICHENG_ACCOUNT_PASSWORD": PASSWORD,
    }
    command = [sys.executable, str(ROOT / "starter.py"), "account", "create", "--role", "employer"]
    args = ["--username", "hr", "--uscc", SAMPLE_USCC]
    first = subprocess.run([*command, *args], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    again = subprocess.run([*command, *args], env=env, capture_output=True, text=True)
    assert again.returncode == 3 and "exists already" in again.stderr
    bare = subprocess.run([*command, "--username", "x"], env=env, capture_output=True, text=True)
    assert bare.returncode == 2 and "--uscc" in bare.stderr

    # an applicant's ID card: its key, and the number sealed at rest (to prefill the form)
    command[-1] = "applicant"
    made = subprocess.run(
        [*command, "--username", "liming", "--id-card", SAMPLE_ID_CARD.lower()],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert SAMPLE_ID_CARD not in made.stdout + made.stderr
    with sqlite3.connect(tmp_path / "accounts.db") as db:
        key, sealed = db.execute(
            "SELECT applicant_key, id_card_sealed FROM accounts WHERE username = 'liming'"
        ).fetchone()
    settings = load_settings()
    assert key == applicant_key(SAMPLE_ID_CARD, settings.applicant_key_secret)
    assert SAMPLE_ID_CARD not in sealed
    assert FieldCipher.from_settings(settings, ID_CARD_PURPOSE).open(sealed, key) == SAMPLE_ID_CARD
    wrong = subprocess.run(
        [*command, "--username", "x2", "--id-card", SAMPLE_ID_CARD[:-1] + "1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2 and "--id-card" in wrong.stderr
