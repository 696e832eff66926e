"""An applicant's own account (docs/portal.md "Registering", docs/security.md "Registration
and password reset"), over HTTP (httpx + ASGITransport) on a clean record database per test
(SQLite, and PostgreSQL with ZHICHENG_TEST_POSTGRES_URL): the code is read from its outbox
row's body, as a person reads it from the message.

Registering makes the account only with the right code; a wrong one counts and the fifth
kills it; an expired one is refused; sending is limited per address and per client address;
one account per applicant and per address, said only after the code; a reset ends every
session, and an unknown address gets the same answer. No ID-card number, code or address in
the logs or an outbox subject; the ID-card number is sealed at rest. The form prefilled with
the registered name and ID card is in test_registered_applicant_finds_the_form_prefilled (the
test server: the form needs the round)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select, update
from stdnum.cn import ric
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.records import NotificationEvent
from portal.app import create_app
from portal.security import LoginThrottle
from portal.verification import CodePolicy, Verification
from store.accounts import Account
from store.db import get_engine
from store.tables import OutboxMessage
from store.verification import VerificationCode
from tests.helpers.portal_applicant_support import (
    declaration_form,
    key_of,
    new_id_card,
    portal_round,
)
from tests.helpers.portal_support import csrf_of

SECRET = "portal-registration-test-secret"
PASSWORD, NEW_PASSWORD = "correct-horse-battery", "another-long-secret"
NAME = "李小龙"


async def no_temporal() -> Client:
    raise AssertionError("these pages need no Temporal")


def portal_app(database: str, policy: CodePolicy | None = None, **options: Any) -> FastAPI:
    options.setdefault("client_factory", no_temporal)
    app = create_app(
        database_url=database,
        secret=SECRET,
        throttle=LoginThrottle(per_account=5, per_address=50, window=900),
        **options,
    )
    app.state.verification = Verification(app.state.portal, policy)
    return app


def browser(app: FastAPI, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://portal.test")


@pytest.fixture
async def app(database: str) -> AsyncIterator[FastAPI]:
    yield portal_app(database)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', html)
    assert found, f"no hidden {name} on the page"
    return found.group(1)


def refusal_text(html: str) -> str:
    found = re.search(r'<div class="refusal" role="alert">([^<]*)</div>', html)
    return found.group(1) if found else ""


def field_error(html: str, name: str) -> str | None:
    found = re.search(rf'id="error-f-{name}" role="alert">([^<]*)<', html)
    return found.group(1) if found else None


async def start_registration(
    client: httpx.AsyncClient,
    id_card: str,
    *,
    mobile: str = "",
    email: str = "",
    send_to: str = "email",
    name: str = NAME,
    password: str = PASSWORD,
    again: str | None = None,
) -> httpx.Response:
    page = await client.get("/register")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "name": name,
        "id_card": id_card,
        "mobile": mobile,
        "email": email,
        "send_to": send_to,
        "password": password,
        "password_again": password if again is None else again,
    }
    return await client.post("/register", data=form)


async def post_code(
    client: httpx.AsyncClient, page: httpx.Response, code: str, action: str = "/register/verify"
) -> httpx.Response:
    data = {"csrf_token": csrf_of(page.text), "token": hidden(page.text, "token"), "code": code}
    if action.startswith("/password"):
        data |= {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    return await client.post(action, data=data)


async def outbox(database: str) -> list[Any]:
    query = select(OutboxMessage.__table__).order_by(OutboxMessage.created_at)
    async with get_engine(database).connect() as conn:
        return list((await conn.execute(query)).all())


async def latest_code(database: str, event: NotificationEvent) -> str:
    """The code of the newest message of `event`, read from its body as a person would."""
    rows = [row for row in await outbox(database) if row.event == event.value]
    assert rows, f"no {event.value} message in the outbox"
    found = re.search(r"验证码为：(\d{6})", rows[-1].body)
    assert found, rows[-1].body
    return found.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def accounts(database: str) -> list[Any]:
    async with get_engine(database).connect() as conn:
        return list((await conn.execute(select(Account.__table__))).all())


async def codes(database: str) -> list[Any]:
    async with get_engine(database).connect() as conn:
        query = select(VerificationCode.__table__).order_by(VerificationCode.id)
        return list((await conn.execute(query)).all())


async def backdate_codes(database: str, by: timedelta) -> None:
    """Every code made `by` earlier (the one-a-minute rule, the expiry: time passing)."""
    async with get_engine(database).begin() as conn:
        for row in await codes(database):
            await conn.execute(
                update(VerificationCode)
                .where(VerificationCode.id == row.id)
                .values(created_at=row.created_at - by, expires_at=row.expires_at - by)
            )


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    token = csrf_of((await client.get("/login")).text)
    return await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


async def registered(
    app: FastAPI, database: str, id_card: str, **fields: str
) -> tuple[httpx.AsyncClient, str]:
    """A browser that registered (the code from the outbox); the username."""
    client = browser(app)
    page = await start_registration(client, id_card, **fields)
    assert page.status_code == 200, refusal_text(page.text)
    done = await post_code(
        client, page, await latest_code(database, NotificationEvent.registration_code)
    )
    assert done.status_code == 200 and "注册成功" in done.text, refusal_text(done.text)
    found = re.search(r"登录用户名：<strong>([^<]+)</strong>", done.text)
    assert found
    return client, found.group(1)


# --- registering -----------------------------------------------------------------------------


async def test_register_with_the_code_from_the_outbox_then_log_in(
    app: FastAPI, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    id_card, email = new_id_card(), "Li.XiaoLong@Example.com"
    async with browser(app) as client:
        login_page = await client.get("/login")
        assert 'href="/register"' in login_page.text and 'href="/password/reset"' in login_page.text
        page = await start_registration(client, id_card, mobile="13912345678", email=email)
        assert page.status_code == 200, refusal_text(page.text)
        assert "验证码已通过电子邮件发送至 l***@example.com" in page.text
        assert id_card not in page.text and "li.xiaolong@" not in page.text.lower()
        assert await accounts(database) == []  # nothing until the code is entered

        [message] = await outbox(database)
        assert message.event == NotificationEvent.registration_code.value
        assert message.email == "li.xiaolong@example.com" and message.mobile is None
        assert message.recipient_role == "applicant" and message.recipient_name == NAME
        assert message.status == "pending"  # no channel configured: `outbox deliver` later
        assert message.key.startswith("account-") and message.workflow_id.startswith("account-")
        code = await latest_code(database, NotificationEvent.registration_code)
        assert code not in message.subject and code not in message.key
        assert id_card not in message.subject + message.body + message.key
        assert "10分钟内有效" in message.body

        [stored] = await codes(database)
        assert code not in str(tuple(stored)) and "example.com" not in str(stored.address_key)
        assert id_card not in str(stored.pending)  # sealed while it waits

        done = await post_code(client, page, code)
        assert done.status_code == 200 and "注册成功" in done.text, refusal_text(done.text)
        assert f"{id_card[:4]}**********{id_card[-4:]}" in done.text and id_card not in done.text
        [account] = await accounts(database)
        assert account.username == "li.xiaolong@example.com" and account.role == "applicant"
        assert account.applicant_key == key_of(id_card) and account.display_name == NAME
        # only the address the code went to is the account's (the mobile was not proven)
        assert account.mobile is None and account.email == account.username
        assert account.id_card_sealed and id_card not in account.id_card_sealed
        assert app.state.portal.id_cards.open(account.id_card_sealed, account.applicant_key) == (
            id_card
        )
        [used] = await codes(database)
        assert used.used_at is not None and used.pending is None  # the details are gone

        again = await post_code(client, page, code)  # the same code twice: used up
        assert again.status_code == 400 and len(await accounts(database)) == 1

        response = await login(client, email, PASSWORD)  # typed in capitals: the same address
        assert response.status_code == 303 and response.headers["location"] == "/applicant"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (id_card, code, "xiaolong", "13912345678", PASSWORD):
        assert secret.lower() not in logged.lower(), secret


async def test_the_form_is_checked_and_nothing_is_sent(app: FastAPI, database: str) -> None:
    body = new_id_card()[:17]
    right = ric.calc_check_digit(body + "0")  # the last character is ignored
    bad_check_digit = body + ("0" if right != "0" else "1")
    async with browser(app) as client:
        page = await start_registration(client, bad_check_digit, email="a@example.com")
        assert page.status_code == 400
        assert (
            field_error(page.text, "id_card") == "身份证号码无效：请核对18位号码及最后一位校验码。"
        )
        page = await start_registration(
            client, new_id_card(), send_to="mobile", email="a@example.com"
        )
        assert field_error(page.text, "mobile") == "验证码将发送至手机号码，请填写。"
        page = await start_registration(client, new_id_card(), email="a@", send_to="email")
        assert field_error(page.text, "email") == "电子邮箱格式不正确。"
        page = await start_registration(
            client, new_id_card(), email="a@example.com", again="x" * 20
        )
        assert field_error(page.text, "password") == "两次输入的密码不一致。"
        page = await start_registration(
            client, new_id_card(), email="a@example.com", password="short"
        )
        assert field_error(page.text, "password") == "密码至少8个字符。"
    assert PASSWORD not in page.text  # a password is never shown back
    assert await outbox(database) == [] and await codes(database) == []


async def test_a_wrong_code_counts_and_the_fifth_kills_it(app: FastAPI, database: str) -> None:
    async with browser(app) as client:
        page = await start_registration(client, new_id_card(), email="wrong@example.com")
        code = await latest_code(database, NotificationEvent.registration_code)
        for left in (4, 3, 2, 1):
            answer = await post_code(client, page, wrong(code))
            assert answer.status_code == 400
            assert refusal_text(answer.text) == f"验证码不正确，还可以再试{left}次。"
            assert hidden(answer.text, "token") == hidden(page.text, "token")  # the same code
        answer = await post_code(client, page, wrong(code))
        assert answer.status_code == 429 and "错误次数过多" in refusal_text(answer.text)
        right_too_late = await post_code(client, page, code)
        assert right_too_late.status_code != 200 and "注册成功" not in right_too_late.text
    [row] = await codes(database)
    assert row.attempts == 5 and row.used_at is None
    assert await accounts(database) == []


async def test_an_expired_code_is_refused(app: FastAPI, database: str) -> None:
    async with browser(app) as client:
        page = await start_registration(client, new_id_card(), email="late@example.com")
        code = await latest_code(database, NotificationEvent.registration_code)
        await backdate_codes(database, timedelta(minutes=10, seconds=1))
        answer = await post_code(client, page, code)
        assert answer.status_code == 400 and "已过期" in refusal_text(answer.text)
    assert await accounts(database) == []


async def test_resending_is_limited_per_address_and_per_client(database: str) -> None:
    app = portal_app(database)  # the policy as shipped: 1 a minute, 5 an hour, 10 per client
    async with browser(app) as client:
        page = await start_registration(client, new_id_card(), email="often@example.com")
        first = await latest_code(database, NotificationEvent.registration_code)
        resend = {"csrf_token": csrf_of(page.text), "token": hidden(page.text, "token")}
        answer = await client.post("/register/resend", data=resend)
        assert answer.status_code == 429 and "1分钟" in refusal_text(answer.text)
        assert len(await outbox(database)) == 1

        sent = [page]
        for _ in range(4):  # a minute later each time: 5 in the hour
            await backdate_codes(database, timedelta(seconds=61))
            answer = await client.post("/register/resend", data=resend)
            assert answer.status_code == 200, refusal_text(answer.text)
            resend["token"] = hidden(answer.text, "token")
            sent.append(answer)
        await backdate_codes(database, timedelta(seconds=61))
        answer = await client.post("/register/resend", data=resend)
        assert answer.status_code == 429 and "1小时" in refusal_text(answer.text)
        assert len(await outbox(database)) == 5

        # an earlier code stops working when a new one is sent; the newest works
        newest = await latest_code(database, NotificationEvent.registration_code)
        assert (await post_code(client, page, first)).status_code == 400
        assert "注册成功" in (await post_code(client, sent[-1], newest)).text

    # from one client address, whatever the addresses: 10 an hour
    app = portal_app(database)
    async with browser(app, "10.9.8.7") as client:
        for n in range(10):
            answer = await start_registration(client, new_id_card(), email=f"c{n}@example.com")
            assert answer.status_code == 200, (n, refusal_text(answer.text))
        answer = await start_registration(client, new_id_card(), email="c10@example.com")
        assert answer.status_code == 429 and "1小时" in refusal_text(answer.text)
    async with browser(app, "10.9.8.8") as other:  # another client is not held up
        answer = await start_registration(other, new_id_card(), email="c11@example.com")
        assert answer.status_code == 200


async def test_one_account_per_applicant_and_per_address(app: FastAPI, database: str) -> None:
    id_card = new_id_card()
    await registered(app, database, id_card, email="first@example.com")

    async with browser(app) as client:  # the same ID card, another address
        page = await start_registration(client, id_card, email="second@example.com")
        assert page.status_code == 200  # before the code: the same page as anyone's
        code = await latest_code(database, NotificationEvent.registration_code)
        answer = await post_code(client, page, code)
        assert answer.status_code == 409
        assert "该身份证号码已注册过账户" in refusal_text(answer.text)
        assert "first@" not in answer.text  # nor which address has it

        await backdate_codes(database, timedelta(minutes=2))  # past the one-a-minute rule
        page = await start_registration(client, new_id_card(), email="FIRST@example.com")
        assert page.status_code == 200
        code = await latest_code(database, NotificationEvent.registration_code)
        answer = await post_code(client, page, code)
        assert answer.status_code == 409 and "该电子邮箱已注册过账户" in refusal_text(answer.text)
    assert len(await accounts(database)) == 1


# --- resetting a password --------------------------------------------------------------------


async def test_a_reset_ends_every_session_and_the_new_password_works(
    app: FastAPI, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, username = await registered(
        app, database, new_id_card(), mobile="13712345678", send_to="mobile"
    )
    assert username == "13712345678"
    [registration] = await outbox(database)
    assert registration.mobile == "+8613712345678" and registration.email is None
    await backdate_codes(database, timedelta(minutes=2))
    async with browser(app) as device, browser(app) as other:
        assert (await login(device, "+86 137 1234 5678", PASSWORD)).status_code == 303
        assert (await device.get("/account/password")).status_code == 200
        page = await other.get("/password/reset")
        form = {"csrf_token": csrf_of(page.text), "address": "137-1234-5678"}
        page = await other.post("/password/reset", data=form)
        assert page.status_code == 200 and "137****5678" in page.text
        code = await latest_code(database, NotificationEvent.password_reset_code)
        message = (await outbox(database))[-1]
        assert message.mobile == "+8613712345678" and code not in message.subject

        mismatch = await other.post(
            "/password/reset/verify",
            data={
                "csrf_token": csrf_of(page.text),
                "token": hidden(page.text, "token"),
                "code": code,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD + "x",
            },
        )
        assert "两次输入的新密码不一致" in refusal_text(mismatch.text)  # no try used
        done = await post_code(other, page, code, "/password/reset/verify")
        assert done.status_code == 200 and "密码已重新设置" in done.text, refusal_text(done.text)

        ended = await device.get("/account/password")  # the session from before: gone
        assert ended.status_code == 303 and ended.headers["location"] == "/login"
        assert (await login(other, username, PASSWORD)).status_code == 401
        assert (await login(other, username, NEW_PASSWORD)).status_code == 303
        again = await post_code(other, page, code, "/password/reset/verify")
        assert "密码已重新设置" not in again.text  # a code works once
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (code, "13712345678", "1234 5678", NEW_PASSWORD):
        assert secret not in logged, secret


def without_token(html: str) -> str:
    html = re.sub(r'name="(csrf_token|token)" value="[^"]*"', "", html)
    return re.sub(r"\d{3}\*{4}\d{4}|\w\*\*\*@[\w.]+", "ADDRESS", html)


async def test_an_unknown_address_gets_the_same_answer(app: FastAPI, database: str) -> None:
    await registered(app, database, new_id_card(), email="known@example.com")
    await backdate_codes(database, timedelta(minutes=2))  # past the one-a-minute rule
    sent_before = len(await outbox(database))
    answers = {}
    async with browser(app) as client:
        for address in ("known@example.com", "nobody@example.com"):
            page = await client.get("/password/reset")
            form = {"csrf_token": csrf_of(page.text), "address": address}
            answers[address] = await client.post("/password/reset", data=form)
        known, unknown = answers["known@example.com"], answers["nobody@example.com"]
        assert known.status_code == unknown.status_code == 200
        assert without_token(known.text) == without_token(unknown.text)
        assert "如该地址已注册申报人账户，验证码已" in unknown.text
        # a code is made for the unknown one too (the same limits), but nothing is sent
        assert len(await outbox(database)) == sent_before + 1
        assert (
            await post_code(client, unknown, "000000", "/password/reset/verify")
        ).status_code == 400
        for answer in (known, unknown):
            resend = {"csrf_token": csrf_of(answer.text), "token": hidden(answer.text, "token")}
            again = await client.post("/password/reset/resend", data=resend)
            assert again.status_code == 429 and "1分钟" in refusal_text(again.text)
        bad = await client.post(
            "/password/reset", data={"csrf_token": csrf_of(known.text), "address": "not an address"}
        )
        assert bad.status_code == 400 and "手机号码或电子邮箱" in refusal_text(bad.text)


# --- the form prefilled (the test server: the form needs this year's round) ------------------


@pytest_asyncio.fixture(scope="module")
async def round_portal(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FastAPI]:
    tmp: Path = tmp_path_factory.mktemp("registration-portal")
    with portal_round(tmp, await time_env.get_current_time(), time_worker.task_queue):
        yield portal_app(database_url, client=time_env.client, client_factory=None)


def form_value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    return found.group(1) if found else None


async def test_registered_applicant_finds_the_form_prefilled(
    round_portal: FastAPI, database_url: str
) -> None:
    id_card, email = new_id_card(), f"prefill-{new_id_card()[-6:].lower()}@example.com"
    client, username = await registered(round_portal, database_url, id_card, email=email)
    try:
        assert (await login(client, username, PASSWORD)).status_code == 303
        page = await client.get("/applicant/new")
        assert page.status_code == 200, refusal_text(page.text)
        assert form_value(page.text, "applicant.name") == NAME
        assert form_value(page.text, "applicant.id_card") == id_card
        assert form_value(page.text, "applicant.email") == email

        # the number on the form must stay the account's: another person's is refused
        token = csrf_of(page.text)
        other = await client.post(
            "/applicant/new", data={"csrf_token": token, **declaration_form(new_id_card(), NAME)}
        )
        assert other.status_code == 400 and "与您账户绑定的申报人不一致" in other.text
        created = await client.post(
            "/applicant/new", data={"csrf_token": token, **declaration_form(id_card, NAME)}
        )
        assert created.status_code == 303, refusal_text(created.text)
        home = await client.get("/applicant")
        assert id_card not in home.text  # shown on the applicant's own form only
    finally:
        await client.aclose()
