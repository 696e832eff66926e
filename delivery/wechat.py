"""WeChat official-account template messages over HTTP (httpx)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
from jinja2 import Environment, StrictUndefined, TemplateError

from delivery.common import delivery_logger
from delivery.failures import MaybeSent, Permanent, Temporary
from rules.timezone import cn_datetime, to_shanghai
from settings import Settings

# --- WeChat ---------------------------------------------------------------------------------

# What the template-send endpoint's errcode means for this message.
WECHAT_TOKEN_ERRORS = {40001, 40014, 42001}  # invalid or expired access token: refresh, resend
WECHAT_PERMANENT = {
    40003: "invalid openid (check the binding)",
    40036: "invalid template_id size",
    40037: "invalid template_id (check config/wechat_templates.json)",
    43004: "the user does not follow the official account (unsubscribed)",
    43019: "the user has blocked the official account",
    43101: "the user refuses this message",
    47001: "malformed data",
    47003: "invalid template data (a field's name or value)",
}
WECHAT_TEMPORARY = {
    -1: "system busy",
    45009: "API daily quota reached",
    45011: "API frequency limit reached",
    45047: "message limit reached",
}


def e164(mobile: str) -> str:
    """'13800138000' / '+86 138 0013 8000' -> '+8613800138000' (unparseable: as given)."""
    try:
        number = phonenumbers.parse(mobile, "CN")
    except phonenumbers.NumberParseException:
        return mobile.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_json_cache: dict[Path, tuple[int, Any]] = {}


def _read_json(path: Path, what: str) -> Any:
    """A configuration file, re-read when it changes. A missing file is None; an unreadable
    one is a Temporary failure (fix the file and the retries go through)."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _json_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Temporary(f"{what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise Temporary(f"{what} {path}: expected a JSON object")
    _json_cache[path] = (stamp, data)
    return data


def openid_for(mobile: str, bindings: Path) -> str | None:
    """The openid bound to `mobile` in the bindings file ({"+8613800138000": "o6_bmjr..."};
    keys in any form phonenumbers reads, "_"-prefixed keys are comments)."""
    data = _read_json(bindings, "WeChat bindings (WECHAT_BINDINGS)") or {}
    wanted = e164(mobile)
    for number, openid in data.items():
        if not number.startswith("_") and isinstance(openid, str) and e164(number) == wanted:
            return openid
    return None


@dataclass(frozen=True)
class WeChatTemplate:
    template_id: str
    data: dict[str, str]  # field name -> Jinja2 source of its value
    url: str | None = None


def template_for(event: str, templates: Path) -> WeChatTemplate | None:
    """The event's entry of the templates file, else its `default`; None if neither."""
    config = _read_json(templates, "WeChat templates (WECHAT_TEMPLATES)") or {}
    entry = (config.get("events") or {}).get(event) or config.get("default")
    if entry is None:
        return None
    if not (isinstance(entry, dict) and entry.get("template_id") and entry.get("data")):
        raise Permanent(f"WeChat template for {event} in {templates}: needs template_id and data")
    return WeChatTemplate(
        template_id=str(entry["template_id"]),
        data={str(name): str(source) for name, source in entry["data"].items()},
        url=entry.get("url") or None,
    )


def _wx_time(value: str | datetime) -> str:
    """WeChat's `time` field form: 2025年10月03日 14:00 (Beijing time)."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{to_shanghai(instant):%Y年%m月%d日 %H:%M}"


def _clip(value: Any, length: int = 20) -> str:
    """WeChat limits field lengths (a `thing` to 20 characters): cut with an ellipsis."""
    text = " ".join(str(value).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _template_environment() -> Environment:
    environment = Environment(undefined=StrictUndefined, autoescape=False)
    environment.filters.update(cn_datetime=cn_datetime, wx_time=_wx_time, clip=_clip)
    return environment


_environment: Environment | None = None


def template_data(template: WeChatTemplate, message: Mapping[str, Any]) -> dict[str, Any]:
    """The `data` of the template message: each field rendered from the message's notification
    context and its own fields (subject, body, recipient_name, event, key, workflow_id,
    created_at). A field the message cannot fill is a Permanent failure of this message."""
    global _environment
    _environment = _environment or _template_environment()
    variables = {
        **(message.get("context") or {}),
        "key": message["key"],
        "workflow_id": message["workflow_id"],
        "event": message["event"],
        "recipient_name": message["recipient_name"],
        "subject": message["subject"],
        "body": message["body"],
        "created_at": message["created_at"],
    }
    data: dict[str, Any] = {}
    for name, source in template.data.items():
        try:
            value = _environment.from_string(source).render(variables)
        except (TemplateError, ValueError, TypeError) as exc:
            raise Permanent(f"WeChat template field {name} ({source!r}): {exc}") from None
        data[name] = {"value": value}
    return data


@dataclass
class _Token:
    value: str
    refresh_at: float  # time.monotonic()


_tokens: dict[tuple[str, str], _Token] = {}
_token_locks: dict[tuple[str, str], asyncio.Lock] = {}
TOKEN_MARGIN = 300.0  # refresh this long before WeChat's expires_in (7200 s)


def forget_tokens() -> None:
    """Drop cached access tokens (tests; a changed secret)."""
    _tokens.clear()


def _wechat_json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise MaybeSent(f"{what}: HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        raise MaybeSent(f"{what}: the answer is not JSON") from None
    if not isinstance(payload, dict):
        raise MaybeSent(f"{what}: the answer is not a JSON object")
    return payload


async def access_token(
    http: httpx.AsyncClient, settings: Settings, stale: str | None = None
) -> str:
    """The cached access token, fetched when missing, about to expire, or `stale` (refused)."""
    cache_key = (settings.wechat_api_base, settings.wechat_app_id)
    lock = _token_locks.setdefault(cache_key, asyncio.Lock())
    async with lock:
        cached = _tokens.get(cache_key)
        if cached and cached.value != stale and time.monotonic() < cached.refresh_at:
            return cached.value
        try:
            response = await http.get(
                f"{settings.wechat_api_base.rstrip('/')}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": settings.wechat_app_id,
                    "secret": settings.wechat_app_secret,
                },
            )
            payload = _wechat_json(response, "access token")
        except (httpx.HTTPError, MaybeSent) as exc:  # nothing is sent by asking for a token
            raise Temporary(f"WeChat access token: {type(exc).__name__}: {exc}") from None
        if payload.get("errcode") or not payload.get("access_token"):
            raise Temporary(
                f"WeChat access token refused: errcode {payload.get('errcode')} "
                f"{payload.get('errmsg', '')}".rstrip()
            )
        expires_in = float(payload.get("expires_in") or 7200)
        margin = min(TOKEN_MARGIN, expires_in / 2)
        _tokens[cache_key] = _Token(
            str(payload["access_token"]), time.monotonic() + expires_in - margin
        )
        delivery_logger().info("WeChat access token fetched (expires in %g s)", expires_in)
        return _tokens[cache_key].value


async def send_wechat(settings: Settings, body: dict[str, Any]) -> str:
    """POST one template message; returns WeChat's msgid. A refused token is refreshed and
    the message sent again at once (it was not accepted)."""
    url = f"{settings.wechat_api_base.rstrip('/')}/cgi-bin/message/template/send"
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json; charset=utf-8"}
    async with httpx.AsyncClient(timeout=settings.wechat_timeout) as http:
        token = await access_token(http, settings)
        for retry_with_new_token in (True, False):
            try:
                response = await http.post(
                    url, params={"access_token": token}, content=content, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise Temporary(f"cannot reach WeChat: {type(exc).__name__}: {exc}") from None
            except httpx.HTTPError as exc:
                raise MaybeSent(f"no answer from WeChat: {type(exc).__name__}: {exc}") from None
            payload = _wechat_json(response, "template send")
            code = int(payload.get("errcode") or 0)
            if code == 0:
                return str(payload.get("msgid", ""))
            text = f"errcode {code} {payload.get('errmsg', '')}".rstrip()
            if code in WECHAT_TOKEN_ERRORS and retry_with_new_token:
                token = await access_token(http, settings, stale=token)
                continue
            if code in WECHAT_PERMANENT:
                raise Permanent(f"{WECHAT_PERMANENT[code]} ({text})")
            meaning = WECHAT_TEMPORARY.get(
                code, "access token refused" if code in WECHAT_TOKEN_ERRORS else "error"
            )
            raise Temporary(f"WeChat {meaning} ({text})")
    raise AssertionError("unreachable")  # pragma: no cover


def client_msg_id(key: str, resends: int) -> str:
    """WeChat deduplicates on it: the outbox key; an operator's n-th resend adds '#n'."""
    return key if resends == 0 else f"{key}#{resends}"
