"""The codec server: the Temporal Web UI and CLI decrypt the project's payloads through it
(docs/security.md, "Payload encryption").

    python codec_server.py                      # ZHICHENG_CODEC_ADDRESS, default 127.0.0.1:8234
    python codec_server.py --host 0.0.0.0 --port 8234

The Temporal codec server protocol: `POST /decode` and `POST /encode` take and return
`{"payloads": [...]}`, each payload in the protobuf JSON form (base64 metadata values and
data), with the codec of client/codec.py and the keys of ZHICHENG_CODEC_KEYS. Only operations
staff may use it, with the token ZHICHENG_CODEC_TOKEN, given either

- as `Authorization: Bearer <token>` (the temporal CLI's `--codec-auth`, scripts), or
- once per browser session at `GET /login` (a form), which sets an HttpOnly, SameSite=Strict
  cookie that proves the token without holding it; the Web UI sends it with "Include
  cross-origin credentials" on (the UI cannot send a token of ours itself: its "pass access
  token" sends its own OIDC access token).

CORS admits the Web UI's origins (ZHICHENG_CODEC_CORS_ORIGINS). Outside development a
missing or short token is refused at start (one line naming the setting, exit 2); in
development it defaults to DEVELOPMENT_TOKEN. `GET /health` answers without a token.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import logging
import sys
import time
from typing import Annotated

from fastapi import FastAPI, Form, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from client.codec import CodecKeyError, EncryptionCodec
from settings import Settings, load_settings_or_exit

log = logging.getLogger("zhicheng.codec_server")

DEVELOPMENT_TOKEN = "zhicheng-development-codec-token"  # development only: not secret
TOKEN_MIN_CHARS = 32
COOKIE = "zhicheng_codec"
SESSION_SECONDS = 8 * 3600  # a working day; then /login again
MAX_BODY_BYTES = 16 * 1024 * 1024  # a page of history's payloads, with room to spare


def codec_token(settings: Settings) -> str:
    """ZHICHENG_CODEC_TOKEN; in development without it, DEVELOPMENT_TOKEN. ValueError (a line
    naming the setting) when it is missing or short outside development."""
    token = settings.codec_token.strip()
    if not token and settings.is_development:
        return DEVELOPMENT_TOKEN
    if len(token) < TOKEN_MIN_CHARS and not settings.is_development:
        problem = "required" if not token else f"only {len(token)} characters"
        raise ValueError(
            f"ZHICHENG_CODEC_TOKEN: {problem}: outside development (ZHICHENG_ENV=development) "
            f"the codec server needs a random token of at least {TOKEN_MIN_CHARS} characters "
            "(e.g. `openssl rand -base64 32`)"
        )
    return token


def _session_mac(token: str, expires: int) -> str:
    return hmac.new(
        token.encode(), f"zhicheng-codec-session:{expires}".encode(), hashlib.sha256
    ).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    """A cookie value good until SESSION_SECONDS from now: the expiry and its HMAC under the
    token (the cookie never holds the token; a new token ends every session)."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    return f"{expires}.{_session_mac(token, expires)}"


def valid_session(token: str, value: str, now: float | None = None) -> bool:
    expires, _, mac = value.partition(".")
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac.encode(), _session_mac(token, int(expires)).encode())


def authorized(request: Request, token: str) -> bool:
    """The bearer token, or a valid session cookie from /login."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and given:
        return hmac.compare_digest(given.strip().encode(), token.encode())
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and valid_session(token, cookie)


LOGIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>载荷解密服务登录</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 4em auto">
<h1>载荷解密服务（Codec Server）</h1>
<p>仅限运维人员：输入 ZHICHENG_CODEC_TOKEN 后，本浏览器在 8 小时内
可在 Temporal Web UI 中查看解密后的数据
（Web UI 的 Codec Server 设置须勾选 “Include cross-origin credentials”）。</p>
{message}
<form method="post" action="login">
<label>令牌 <input type="password" name="token" autocomplete="off" autofocus></label>
<button type="submit">登录</button>
</form></body></html>"""


def create_app(settings: Settings) -> FastAPI:
    """The codec server for `settings` (its keys, token and CORS origins)."""
    codec = EncryptionCodec.from_settings(settings)
    token = codec_token(settings)
    app = FastAPI(title="zhicheng codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.codec_cors_origin_list,
        allow_credentials=True,  # the /login cookie, sent by the UI's "include credentials"
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        max_age=600,
    )

    async def convert(request: Request, decode: bool) -> Response:
        if not authorized(request, token):
            return JSONResponse(
                {"error": "the codec server needs the operations token (docs/security.md)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            return JSONResponse({"error": f"not {{'payloads': [...]}}: {exc}"}, status_code=400)
        try:
            converted = await (codec.decode if decode else codec.encode)(payloads.payloads)
        except CodecKeyError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        # Who asked, and for how much; never what (the payloads are personal data).
        log.info(
            "%s %d payload(s) for namespace %s",
            "decoded" if decode else "encoded",
            len(converted),
            request.headers.get("x-namespace", "-"),
        )
        return Response(
            json_format.MessageToJson(Payloads(payloads=converted)),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await convert(request, decode=True)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await convert(request, decode=False)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "encrypts_with": codec.key_id}

    @app.get("/login", response_class=HTMLResponse)
    async def login_form() -> HTMLResponse:
        return HTMLResponse(LOGIN_PAGE.format(message=""), headers={"Cache-Control": "no-store"})

    @app.post("/login", response_model=None)
    async def login(
        request: Request, given: Annotated[str, Form(alias="token")] = ""
    ) -> HTMLResponse | RedirectResponse:
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            log.warning("codec server login refused from %s", request.client)
            message = '<p style="color: #b00">令牌不正确。</p>'
            return HTMLResponse(LOGIN_PAGE.format(message=message), status_code=401)
        response = RedirectResponse("login/ok", status_code=303)
        response.set_cookie(
            COOKIE,
            session_cookie(token),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @app.get("/login/ok", response_class=HTMLResponse)
    async def logged_in(request: Request) -> HTMLResponse:
        done = authorized(request, token)
        text = "已登录：可回到 Temporal Web UI 查看解密后的数据。" if done else "未登录。"
        return HTMLResponse(f"<!doctype html><meta charset='utf-8'><p>{html.escape(text)}</p>")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="overrides ZHICHENG_CODEC_ADDRESS's host")
    parser.add_argument("--port", type=int, help="overrides ZHICHENG_CODEC_ADDRESS's port")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit()  # a bad setting: one line each, exit status 2
    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"invalid setting: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    host, _, port = settings.codec_address.rpartition(":")
    import uvicorn

    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # No access log: a request line is harmless, but it is one more record nobody needs.
    uvicorn.run(app, host=args.host or host, port=args.port or int(port), access_log=False)


if __name__ == "__main__":
    main()
