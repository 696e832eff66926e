"""codec_server.py: the Temporal codec server protocol, only for the operations token (bearer or
the /login cookie), CORS for the Web UI's origins, the token refused at start when weak."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from client.codec import EncryptionCodec
from codec_server import (
    COOKIE,
    DEVELOPMENT_TOKEN,
    codec_token,
    create_app,
    session_cookie,
    valid_session,
)
from settings import ROOT, Settings

KEY = os.urandom(32)
TOKEN = "t" * 40
UI = "http://localhost:8233"


def settings(**fields: str) -> Settings:
    values: dict[str, Any] = {
        "ZHICHENG_CODEC_KEYS": f"ops1:{base64.b64encode(KEY).decode()}",
        "ZHICHENG_CODEC_TOKEN": TOKEN,
    }
    return Settings(**(values | fields))


def client(app_settings: Settings | None = None) -> httpx.AsyncClient:
    app = create_app(app_settings or settings())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec")


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def payloads_of(response: httpx.Response) -> list[Payload]:
    return list(json_format.Parse(response.text, Payloads()).payloads)


async def encrypted(value: object) -> Payload:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())
    [sealed] = await EncryptionCodec([("ops1", KEY)]).encode([plain])
    return sealed


async def test_decode_with_the_bearer_token() -> None:
    sealed = await encrypted({"name": "张三"})
    async with client() as http:
        response = await http.post(
            "/decode",
            content=body(sealed),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
    assert response.status_code == 200, response.text
    [payload] = payloads_of(response)
    assert json.loads(payload.data) == {"name": "张三"}
    assert response.headers["cache-control"] == "no-store"
    # the protocol's JSON: base64 metadata and data
    raw = response.json()["payloads"][0]
    assert base64.b64decode(raw["metadata"]["encoding"]) == b"json/plain"


async def test_encode_then_decode() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with client() as http:
        sealed = payloads_of(await http.post("/encode", content=body(plain), headers=headers))
        assert sealed[0].metadata["encryption-key-id"] == b"ops1"
        back = payloads_of(await http.post("/decode", content=body(*sealed), headers=headers))
    assert back == [plain]


async def test_without_the_token_nothing_is_decoded() -> None:
    sealed = await encrypted("张三")
    async with client() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = await http.post("/decode", content=body(sealed), headers=headers)
            assert response.status_code == 401, headers
            assert "张三" not in response.text
        http.cookies.set(COOKIE, "9999999999.forged")
        assert (await http.post("/decode", content=body(sealed))).status_code == 401


async def test_login_sets_a_session_cookie_the_ui_sends() -> None:
    sealed = await encrypted("张三")
    async with client() as http:
        assert "ZHICHENG_CODEC_TOKEN" in (await http.get("/login")).text
        refused = await http.post("/login", data={"token": "wrong"})
        assert refused.status_code == 401 and COOKIE not in http.cookies
        response = await http.post("/login", data={"token": TOKEN})
        assert response.status_code == 303
        set_cookie = response.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        assert TOKEN not in response.headers["set-cookie"]  # the cookie proves, never holds it
        decoded = await http.post("/decode", content=body(sealed))
    assert decoded.status_code == 200
    assert json.loads(payloads_of(decoded)[0].data) == "张三"


def test_sessions_expire_and_follow_the_token() -> None:
    value = session_cookie(TOKEN, now=1000)
    assert valid_session(TOKEN, value, now=1000)
    assert not valid_session(TOKEN, value, now=1000 + 8 * 3600 + 1)
    assert not valid_session("another token " * 3, value, now=1000)


async def test_cors_admits_the_web_ui_only() -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with client() as http:
        allowed = await http.options("/decode", headers={"Origin": UI, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = await http.options(
            "/decode", headers={"Origin": "http://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        # a refused request still carries CORS headers, so the UI can tell why
        refused = await http.post("/decode", content=body(), headers={"Origin": UI})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == UI


async def test_bad_requests() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    other_key = EncryptionCodec([("old", os.urandom(32))])
    [unknown] = await other_key.encode([Payload(data=b"x")])
    async with client() as http:
        assert (await http.post("/decode", content="not json", headers=headers)).status_code == 400
        response = await http.post("/decode", content=body(unknown), headers=headers)
        assert response.status_code == 400 and "'old'" in response.json()["error"]
        huge = "x" * (16 * 1024 * 1024 + 1)
        assert (await http.post("/decode", content=huge, headers=headers)).status_code == 413
        assert (await http.get("/health")).json()["encrypts_with"] == "ops1"


def test_the_token_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHICHENG_ENV", "production")
    with pytest.raises(ValueError, match=r"^ZHICHENG_CODEC_TOKEN: required"):
        codec_token(settings(ZHICHENG_CODEC_TOKEN=""))
    with pytest.raises(ValueError, match=r"^ZHICHENG_CODEC_TOKEN: only 8 characters"):
        codec_token(settings(ZHICHENG_CODEC_TOKEN="short123"))
    assert codec_token(settings()) == TOKEN
    monkeypatch.setenv("ZHICHENG_ENV", "development")
    assert codec_token(settings(ZHICHENG_CODEC_TOKEN="")) == DEVELOPMENT_TOKEN


def test_the_server_refuses_to_start_with_a_weak_token(tmp_path: Path) -> None:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZHICHENG_ENV_FILE": str(tmp_path / ".env"),
        "ZHICHENG_ENV": "production",
        "ZHICHENG_CODEC_KEYS": f"ops1:{base64.b64encode(KEY).decode()}",
        "ZHICHENG_CODEC_TOKEN": "short",
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "codec_server.py")],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("invalid setting: ZHICHENG_CODEC_TOKEN: only 5 characters")
