"""The portal's sessions, login throttling, headers and body limit (docs/security.md,
"Sessions and login"), over HTTP (httpx + ASGITransport) on a clean record database per test
(SQLite, and PostgreSQL with ZHICHENG_TEST_POSTGRES_URL). No Temporal: the pages used here
read the record database only.

A cookie replayed after logout, after a password change, or past a timeout is refused; the
session id is new at every login; failed logins are counted in the database, so two portal
apps (two replicas) on it refuse the same brute-forcer, however it rotates X-Forwarded-For
when no proxy is trusted; a 50 MB body is refused before it is read."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.types import Message
from temporalio.client import Client

from models.common import Role
from portal.app import create_app
from portal.middleware import CONTENT_SECURITY_POLICY
from portal.security import LoginThrottle, client_address
from portal.uploads import MULTIPART_OVERHEAD, UploadConfig
from settings import Settings
from store.db import get_engine
from store.sessions import LoginFailure, PortalSession, session_hash
from store.tables import utcnow
from tests.helpers.portal_support import PASSWORD, account, csrf_of, login

SECRET = "portal-security-test-secret"
MiB = 1024 * 1024


async def no_temporal() -> Client:
    raise AssertionError("these pages need no Temporal")


def portal_app(database: str, **options: Any) -> FastAPI:
    """One portal replica on `database` (a test makes two for two replicas)."""
    options.setdefault("throttle", LoginThrottle(per_account=3, per_address=6, window=900))
    return create_app(client_factory=no_temporal, database_url=database, secret=SECRET, **options)


def browser(app: FastAPI, address: str = "127.0.0.1", **options: Any) -> httpx.AsyncClient:
    """A browser on `app`, connecting from `address` (the ASGI peer)."""
    options.setdefault("base_url", "http://portal.test")
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, **options)


@pytest.fixture
async def app(database: str) -> AsyncIterator[FastAPI]:
    yield portal_app(database)


async def try_login(
    client: httpx.AsyncClient, username: str, password: str, **headers: str
) -> httpx.Response:
    token = csrf_of((await client.get("/login")).text)
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
    )


def session_cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get("zhicheng_session")
    assert value, "no session cookie"
    return value


async def replayed(app: FastAPI, session_id: str, path: str = "/supervisor") -> httpx.Response:
    """`path` requested by a browser that has nothing but the session cookie."""
    async with browser(app, cookies={"zhicheng_session": session_id}) as thief:
        return await thief.get(path)


# --- sessions --------------------------------------------------------------------------------


async def test_the_cookie_is_a_random_id_and_the_database_keeps_its_hash(
    app: FastAPI, database: str
) -> None:
    username = await account(database, Role.supervisor)
    async with browser(app) as client:
        response = await try_login(client, username, PASSWORD)
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        [session] = [c for c in cookies if c.startswith("zhicheng_session=")]
        assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
        assert "Secure" not in session  # PORTAL_HTTPS_ONLY is off
        session_id = session_cookie(client)
        assert len(session_id) >= 43 and username not in session_id
        async with get_engine(database).connect() as conn:
            rows = (await conn.execute(select(PortalSession.__table__))).all()
        assert [row.id_hash for row in rows] == [session_hash(session_id)]
        assert session_id not in {row.id_hash for row in rows}
        assert (await client.get("/supervisor")).status_code == 200


async def test_a_cookie_replayed_after_logout_is_refused(app: FastAPI, database: str) -> None:
    username = await account(database, Role.supervisor)
    async with browser(app) as client:
        token = await login(client, username)
        session_id = session_cookie(client)
        assert (await replayed(app, session_id)).status_code == 200  # a copy works while live
        response = await client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert any(
            c.startswith("zhicheng_session=;") and "Max-Age=0" in c
            for c in response.headers.get_list("set-cookie")
        )
    refused = await replayed(app, session_id)
    assert refused.status_code == 303 and refused.headers["location"] == "/login"
    assert "zhicheng_session=;" in refused.headers["set-cookie"]  # the stale cookie cleared
    async with get_engine(database).connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(PortalSession))).scalar() == 0


async def test_the_session_id_is_rotated_at_login(app: FastAPI, database: str) -> None:
    """A planted id is never adopted, and a second login ends the first session."""
    username = await account(database, Role.supervisor)
    async with browser(app) as client:
        client.cookies.set("zhicheng_session", "planted-by-an-attacker", domain="portal.test")
        await login(client, username)
        first = session_cookie(client)
        assert first != "planted-by-an-attacker"
        assert (await replayed(app, "planted-by-an-attacker")).status_code == 303
        await login(client, username)
        second = session_cookie(client)
        assert second != first
        assert (await replayed(app, first)).status_code == 303
        assert (await replayed(app, second)).status_code == 200


async def test_idle_and_absolute_timeouts(database: str) -> None:
    settings = Settings(portal_session_idle_minutes=30, portal_session_absolute_hours=8)
    app = portal_app(database, settings=settings)
    username = await account(database, Role.supervisor)
    async with browser(app) as client:
        await login(client, username)
        session_id = session_cookie(client)

    async def moved(**fields: Any) -> None:
        async with get_engine(database).begin() as conn:
            where = PortalSession.id_hash == session_hash(session_id)
            await conn.execute(update(PortalSession).where(where).values(**fields))

    now = utcnow()
    await moved(last_seen_at=now - timedelta(minutes=29), created_at=now - timedelta(hours=7))
    assert (await replayed(app, session_id)).status_code == 200  # used: last seen now
    await moved(last_seen_at=now - timedelta(minutes=31))
    assert (await replayed(app, session_id)).status_code == 303  # idle too long
    async with get_engine(database).connect() as conn:  # and the row is gone
        assert (await conn.execute(select(func.count()).select_from(PortalSession))).scalar() == 0
    async with browser(app) as client:
        await login(client, username)
        session_id = session_cookie(client)
    await moved(created_at=utcnow() - timedelta(hours=8, minutes=1))
    assert (await replayed(app, session_id)).status_code == 303  # used, but too old


async def test_secure_host_cookies_and_hsts_over_https(database: str) -> None:
    app = portal_app(database, https_only=True)
    username = await account(database, Role.supervisor)
    async with browser(app, base_url="https://portal.test") as client:
        page = await client.get("/login")
        [csrf] = page.headers.get_list("set-cookie")
        assert csrf.startswith("__Host-zhicheng_csrf=") and "Secure" in csrf
        assert page.headers["strict-transport-security"].startswith("max-age=")
        response = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 303
        session = response.headers.get_list("set-cookie")[0]
        assert session.startswith("__Host-zhicheng_session=")
        assert "Secure" in session and "HttpOnly" in session
        assert (await client.get("/supervisor")).status_code == 200


# --- the password change ---------------------------------------------------------------------


async def test_a_password_change_ends_every_session_of_the_account(
    app: FastAPI, database: str
) -> None:
    username = await account(database, Role.supervisor)
    async with browser(app) as client, browser(app) as elsewhere:
        await login(elsewhere, username)
        other_device = session_cookie(elsewhere)
        await login(client, username)
        old_session = session_cookie(client)
        page = await client.get("/account/password")
        assert page.status_code == 200 and "修改密码" in page.text
        assert 'href="/account/password"' in page.text  # in the header of every page
        token = csrf_of(page.text)
        new = "a-new-password-123"

        async def change(old: str, first: str, second: str) -> httpx.Response:
            data = {"old_password": old, "new_password": first, "new_password_again": second}
            return await client.post("/account/password", data={"csrf_token": token, **data})

        for (old, first, second), text in {
            ("wrong-old-password", new, new): "原密码不正确",
            (PASSWORD, new, new + "x"): "两次输入的新密码不一致",
            (PASSWORD, "short", "short"): "新密码至少8个字符",
            (PASSWORD, PASSWORD, PASSWORD): "新密码不能与原密码相同",
        }.items():
            response = await change(old, first, second)
            assert response.status_code == 400 and text in response.text, text
        assert (await replayed(app, old_session)).status_code == 200  # nothing changed yet

        response = await change(PASSWORD, new, new)
        assert response.status_code == 200 and "密码已修改" in response.text
        assert session_cookie(client) != old_session  # this browser: a new session
        assert (await client.get("/supervisor")).status_code == 200
        for ended in (old_session, other_device):
            assert (await replayed(app, ended)).status_code == 303
        assert (await elsewhere.get("/supervisor")).status_code == 303

    async with browser(app) as client:
        assert (await try_login(client, username, PASSWORD)).status_code == 401
        assert (await try_login(client, username, new)).status_code == 303


async def test_the_password_change_needs_a_session_and_the_csrf_token(
    app: FastAPI, database: str
) -> None:
    async with browser(app) as client:
        response = await client.get("/account/password")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        await login(client, await account(database, Role.supervisor))
        data = {"old_password": PASSWORD, "new_password": "x" * 12, "new_password_again": "x" * 12}
        assert (await client.post("/account/password", data=data)).status_code == 403


# --- login throttling ------------------------------------------------------------------------


async def test_throttling_holds_across_two_portal_replicas(database: str) -> None:
    """Per account: 3 failures through replica A from one address, and replica B refuses even
    the right password from another. Per address: a password sprayer trying one password on
    many usernames from one address is refused after 6, on the other replica too."""
    throttle = LoginThrottle(per_account=3, per_address=6, window=900)
    first, second = portal_app(database, throttle=throttle), portal_app(database, throttle=throttle)
    victim = await account(database, Role.supervisor)
    async with browser(first, "198.51.100.7") as attacker:
        for _ in range(3):
            assert (await try_login(attacker, victim, "guess")).status_code == 401
    async with browser(second, "203.0.113.9") as owner:
        response = await try_login(owner, victim, PASSWORD)
        assert response.status_code == 429 and "登录失败次数过多" in response.text

    usernames = [await account(database, Role.supervisor) for _ in range(8)]
    async with browser(first, "192.0.2.44") as sprayer:
        for username in usernames[:6]:
            assert (await try_login(sprayer, username, "Spring2026!")).status_code == 401
    async with browser(second, "192.0.2.44") as sprayer:
        for username in usernames[6:]:  # never tried before, the right password even
            assert (await try_login(sprayer, username, PASSWORD)).status_code == 429
    async with browser(second, "192.0.2.45") as neighbour:  # another address: not blocked
        assert (await try_login(neighbour, usernames[-1], PASSWORD)).status_code == 303
    async with get_engine(database).connect() as conn:
        keys = (await conn.execute(select(LoginFailure.key))).scalars().all()
    assert all(victim not in key and "192.0.2.44" not in key for key in keys)  # hashed


async def test_a_rotated_forwarded_for_is_ignored_without_a_trusted_proxy(database: str) -> None:
    others = [await account(database, Role.supervisor) for _ in range(7)]
    app = portal_app(database)  # PORTAL_TRUSTED_PROXIES empty
    async with browser(app, "10.9.8.7") as attacker:
        for n, username in enumerate(others[:6]):
            fake = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert (await try_login(attacker, username, "guess", **fake)).status_code == 401
        fake = {"X-Forwarded-For": "203.0.113.200"}
        response = await try_login(attacker, others[6], PASSWORD, **fake)
        assert response.status_code == 429  # all six counted against 10.9.8.7


async def test_a_trusted_proxy_s_forwarded_for_names_the_client(database: str) -> None:
    settings = Settings(portal_trusted_proxies="10.0.0.0/8")
    app = portal_app(database, settings=settings)
    users = [await account(database, Role.supervisor) for _ in range(7)]
    async with browser(app, "10.0.0.2") as proxy:
        for n, username in enumerate(users[:6]):
            # what the client wrote itself (to the left) is not believed
            spoofed = {"X-Forwarded-For": f"198.51.100.{n}, 192.0.2.10"}
            assert (await try_login(proxy, username, "guess", **spoofed)).status_code == 401
        other_client = {"X-Forwarded-For": "192.0.2.11"}
        assert (await try_login(proxy, users[6], PASSWORD, **other_client)).status_code == 303
        same_client = {"X-Forwarded-For": "203.0.113.1, 192.0.2.10, 10.0.0.3"}
        response = await try_login(proxy, users[6], PASSWORD, **same_client)
        assert response.status_code == 429  # 192.0.2.10, behind two proxies


def test_client_address() -> None:
    import ipaddress

    proxies = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert client_address("192.0.2.1", ["203.0.113.5"], []) == "192.0.2.1"
    assert client_address("192.0.2.1", ["203.0.113.5"], proxies) == "192.0.2.1"
    assert client_address("10.0.0.1", ["203.0.113.5"], proxies) == "203.0.113.5"
    assert client_address("10.0.0.1", ["1.2.3.4, 203.0.113.5", "10.0.0.9"], proxies) == (
        "203.0.113.5"
    )
    assert client_address("10.0.0.1", [], proxies) == "10.0.0.1"
    assert client_address("::1", ["10.0.0.4, 10.0.0.3"], proxies) == "10.0.0.4"
    assert client_address(None, [], []) == "?"


async def test_passwords_are_checked_off_the_event_loop(
    app: FastAPI, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import portal.security

    threads: list[str] = []
    verify = portal.security.verify_password

    def watched(password_hash: str | None, password: str) -> bool:
        threads.append(threading.current_thread().name)
        return verify(password_hash, password)

    monkeypatch.setattr(portal.security, "verify_password", watched)
    username = await account(database, Role.supervisor)
    async with browser(app) as client:
        assert (await try_login(client, username, "wrong")).status_code == 401
        assert (await try_login(client, "nobody-at-all", "wrong")).status_code == 401
        assert (await try_login(client, username, PASSWORD)).status_code == 303
    assert len(threads) == 3 and all(name.startswith("argon2") for name in threads), threads
    assert threading.current_thread().name not in threads


# --- headers ---------------------------------------------------------------------------------


async def test_security_headers_on_every_response(app: FastAPI, database: str) -> None:
    async with browser(app) as client:
        anonymous = [await client.get(path) for path in ("/login", "/no-such-page", "/")]
        await login(client, await account(database, Role.supervisor))
        signed_in = [await client.get(path) for path in ("/supervisor", "/account/password")]
        static = await client.get("/static/mask.js")
        too_large = await client.post("/login", content=b"x" * (MiB + 1))
    assert static.status_code == 200 and "boxes" in static.text
    assert [r.status_code for r in anonymous] == [200, 404, 303]
    assert too_large.status_code == 413
    for response in [*anonymous, *signed_in, static, too_large]:
        headers = response.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # not over HTTPS
    for response in [*anonymous, *signed_in, too_large]:
        assert "no-store" in response.headers["cache-control"], response.url
    assert "no-store" not in static.headers.get("cache-control", "")
    page = signed_in[0].text
    assert "<script>" not in page and "<style>" not in page and "style=" not in page


async def test_no_api_description_outside_development(database: str) -> None:
    production = Settings(
        environment="production",
        applicant_key_secret="a" * 48,
        portal_secret="p" * 48,
        actor_signing_key="s" * 48,
        codec_keys="c" * 48,
    )
    async with browser(portal_app(database, settings=production)) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert (await client.get(path)).status_code == 404, path
    development = Settings(environment="development")
    async with browser(portal_app(database, settings=development)) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 404


# --- the body limit --------------------------------------------------------------------------


async def test_a_50_mb_login_is_refused_before_it_is_read(app: FastAPI) -> None:
    """Declared: answered 413 without a single receive. Streamed without a length: counted as
    it comes, refused at the first chunk past 1 MiB, the rest never pulled."""
    received: list[Any] = []

    async def receive() -> Message:
        received.append("called")
        return {"type": "http.request", "body": b"x" * MiB, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/login",
        "raw_path": b"/login",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"portal.test"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(50 * 1000 * 1000).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("portal.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert received == []  # not one byte read
    assert "提交的内容过大" in b"".join(m.get("body", b"") for m in sent[1:]).decode()

    chunks = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal chunks
        for _ in range(50 * 16):  # 800 chunks of 64 KiB
            chunks += 1
            yield b"username=x&password=" + b"y" * (64 * 1024 - 20)

    async with browser(app) as client:
        response = await client.post(
            "/login",
            content=fifty_megabytes(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 413
    assert chunks <= MiB // (64 * 1024) + 2, f"{chunks} chunks of 64 KiB pulled"


async def test_uploads_keep_their_larger_limit(app: FastAPI) -> None:
    """PORTAL_BODY_MAX_BYTES (1 MiB) everywhere but the upload routes, which take
    ZHICHENG_UPLOAD_MAX_BYTES a file and the form around it."""
    app.state.uploads = UploadConfig(app.state.portal.settings.upload_dir, 3 * MiB)
    body = b"x" * (2 * MiB)
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    async with browser(app) as client:
        for path in ("/login", "/logout", "/applicant/new", "/employer/decl-1/approve"):
            assert (await client.post(path, content=body, headers=headers)).status_code == 413
        # let through (to the login page: nobody is signed in), not refused for its size
        for path in ("/applicant/materials", "/employer/decl-1/recommend"):
            response = await client.post(path, content=body, headers=headers)
            assert response.status_code == 303, path
        too_big = b"x" * (3 * MiB + MULTIPART_OVERHEAD + 1)
        response = await client.post("/applicant/materials", content=too_big, headers=headers)
        assert response.status_code == 413
        twice = b"x" * (6 * MiB + MULTIPART_OVERHEAD)
        response = await client.post("/employer/decl-1/recommend", content=twice, headers=headers)
        assert response.status_code == 303
