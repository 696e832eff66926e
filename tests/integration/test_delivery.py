"""Delivery of the outbox by e-mail and WeChat (activities/delivery.py, workflows/delivery.py),
against a real SMTP server (aiosmtpd on loopback) and a local HTTP server that speaks the
WeChat token and template-send endpoints (and deduplicates on client_msg_id, as WeChat does).
The messages are read back from both servers and counted."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import random
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httpx
import phonenumbers
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtplib.protocol import SMTPProtocol
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

import starter
from activities.delivery import DeliveryActivities
from activities.notify import NotificationActivities
from delivery.dispatch import delivery_input, start_deliveries, start_delivery
from delivery.email import (
    END_OF_DATA,
    build_email,
    data_lines,
    message_id,
    send_smtp,
    shown_key,
)
from delivery.failures import Temporary
from delivery.ledger import (
    ClaimLost,
    UnknownMessage,
    claim,
    list_outbox,
    lock_message,
    mark_maybe_sent,
    prepare_resend,
    record_outcome,
    summarize,
)
from delivery.wechat import forget_tokens, template_data, template_for
from models.common import Role
from models.declaration import Applicant, Employer
from models.delivery import (
    Channel,
    DeliveryResult,
    DeliveryStatus,
    GiveUpRequest,
    PlanRequest,
    delivery_workflow_id,
    safe_id_part,
)
from models.records import BLIND_ROLES, NotificationEvent, NotificationRequest
from portal.app import create_app
from settings import ROOT, load_settings
from store.db import get_engine
from store.tables import NotificationDelivery, OutboxMessage
from tests.helpers.declaration_support import act, state
from tests.helpers.declaration_support import start as start_declaration
from tests.helpers.portal_applicant_support import new_id_card
from tests.helpers.portal_support import csrf_of
from tests.helpers.samples import NOTIFICATION_COMMON as COMMON
from tests.helpers.samples import NOTIFICATION_SAMPLES as SAMPLES
from tests.helpers.samples import (
    SAMPLE_ID_CARD,
    SAMPLE_USCC,
    notification_context,
    notification_recipient,
)
from tests.helpers.worker_process import WorkerProcess, reset_sticky
from worker import build_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

FROM = "noreply@zhicheng.test"
APP_ID, APP_SECRET = "wx-zhicheng-test", "test-secret"
TEMPLATES = json.loads((ROOT / "config" / "wechat_templates.json").read_text(encoding="utf-8"))


# --- the fake servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    """One e-mail as the SMTP server stored it."""

    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def key(self) -> str:  # folded like the Message-ID when long
        return "".join(str(self.message["X-Zhicheng-Outbox-Key"]).split())

    @property
    def message_id(self) -> str:  # the header is folded: a long id goes on a line of its own
        return str(self.message["Message-ID"]).strip()


@dataclass
class Hold:
    """Where the SMTP server stops once, in the first session that gets there, until released:
    `greeting` (the connection accepted, no 220 yet), `EHLO`, `MAIL`, `RCPT` (the command
    read, not answered), `body` (the first line of the message data read, the rest not) or
    `end` (the whole message and its end of data received, stored, not answered)."""

    phase: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    async def wait_reached(self) -> None:
        if not await asyncio.to_thread(self.reached.wait, 60):
            raise AssertionError(f"the SMTP server never got to {self.phase}")


@dataclass
class FakeSmtp:
    """aiosmtpd's handler: stores every message; for chosen recipients refuses (550), answers
    the end of the data with a chosen reply (once), or drops the connection after storing (the
    reply is lost); and stops at a chosen phase of a session (`hold_at`, `PhasedSmtp`)."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    data_reply: dict[str, str] = field(default_factory=dict)  # once per address
    drop_reply: set[str] = field(default_factory=set)  # once per address
    holds: dict[str, Hold] = field(default_factory=dict)
    armed: list[Hold] = field(default_factory=list)  # every hold, released when the test ends
    port: int = 0

    def hold_at(self, phase: str) -> Hold:
        hold = self.holds[phase] = Hold(phase)
        self.armed.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self.armed:
            hold.released.set()

    async def pause(self, phase: str) -> None:
        """In the server's loop, at `phase` of a session: stops there if a hold is armed. A
        client that goes away meanwhile cancels the session, and with it this wait."""
        hold = self.holds.pop(phase, None)
        if hold is not None:
            hold.reached.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.released.wait, 60)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        to = envelope.rcpt_tos[0]
        if to in self.data_reply:
            return self.data_reply.pop(to)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        if to in self.drop_reply:
            self.drop_reply.discard(to)
            server.transport.abort()  # stored, and the client never hears back
            return "250 OK"
        await self.pause("end")
        return "250 OK: queued"

    def to(self, address: str, key: str | None = None) -> list[Received]:
        """The e-mails to `address` (of the message `key` only, when given: a declaration's
        applicant gets other messages too, e.g. the receipt of the submission)."""
        return [r for r in self.received if address in r.rcpt_tos and key in (None, r.key)]


class _PausingReader:
    """The session's reader during DATA: pauses (FakeSmtp.pause("body")) after the first line
    of the message data, so the server has part of the message and not its end."""

    def __init__(self, reader: asyncio.StreamReader, smtp: FakeSmtp) -> None:
        self._reader, self._smtp, self._lines = reader, smtp, 0

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self._reader.readuntil(separator)
        self._lines += 1
        if self._lines == 1:
            await self._smtp.pause("body")
        return line

    async def read(self, n: int = -1) -> bytes:
        return await self._reader.read(n)


class PhasedSmtp(SMTP):
    """aiosmtpd's SMTP server, stopping where the handler's holds say (FakeSmtp.hold_at)."""

    event_handler: FakeSmtp

    async def _handle_client(self) -> None:
        await self.event_handler.pause("greeting")  # before the 220
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str) -> None:
        await self.event_handler.pause("EHLO")
        await super().smtp_EHLO(hostname)

    async def smtp_MAIL(self, arg: str) -> None:
        await self.event_handler.pause("MAIL")
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        await self.event_handler.pause("RCPT")
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        reader = self._reader
        self._reader = cast(asyncio.StreamReader, _PausingReader(reader, self.event_handler))
        try:
            await super().smtp_DATA(arg)
        finally:
            self._reader = reader


class PhasedController(Controller):
    def factory(self) -> SMTP:
        return PhasedSmtp(self.handler, **self.SMTP_kwargs)


@dataclass
class FakeWeChat:
    """The WeChat API's /cgi-bin/token and /cgi-bin/message/template/send, in this loop.

    Like WeChat: a token is valid until expired (42001) and unknown tokens get 40001; an
    openid that does not follow the account gets 40003; a second message with the same
    touser + client_msg_id is answered errcode 0 with the first msgid and not delivered again.
    """

    followers: set[str] = field(default_factory=set)
    token_requests: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)  # every send request
    delivered: list[dict[str, Any]] = field(default_factory=list)  # what reached a follower
    failures: list[tuple[Callable[[dict[str, Any]], bool], int, list[int]]] = field(
        default_factory=list
    )
    drop_reply: set[str] = field(default_factory=set)  # client_msg_ids: once each
    hold_reply: set[str] = field(default_factory=set)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _valid: set[str] = field(default_factory=set)
    _expired: set[str] = field(default_factory=set)
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def fail(self, errcode: int, times: int, when: Callable[[dict[str, Any]], bool]) -> None:
        self.failures.append((when, errcode, [times]))

    def expire_tokens(self) -> None:
        self._expired |= self._valid
        self._valid.clear()

    def for_key(self, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(send requests, delivered messages) with client_msg_id `key`."""
        return (
            [r for r in self.requests if r.get("client_msg_id") == key],
            [m for m in self.delivered if m.get("client_msg_id") == key],
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                method, target, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                url = urlsplit(target)
                answer = await self._answer(method, url.path, dict(parse_qsl(url.query)), body)
                if answer is None:  # the reply is lost
                    writer.transport.abort()
                    return
                data = json.dumps(answer, ensure_ascii=False).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, method: str, path: str, query: dict[str, str], body: bytes
    ) -> dict[str, Any] | None:
        if method == "GET" and path == "/cgi-bin/token":
            self.token_requests += 1
            if (query.get("grant_type"), query.get("appid"), query.get("secret")) != (
                "client_credential",
                APP_ID,
                APP_SECRET,
            ):
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"token-{self.token_requests}-{uuid.uuid4().hex[:6]}"
            self._valid.add(token)
            return {"access_token": token, "expires_in": 7200}
        if method != "POST" or path != "/cgi-bin/message/template/send":
            return {"errcode": 404, "errmsg": f"no {method} {path}"}
        token = query.get("access_token", "")
        message = json.loads(body)
        self.requests.append(message | {"_token": token})
        if token in self._expired:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if token not in self._valid:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        for when, errcode, left in self.failures:
            if left[0] > 0 and when(message):
                left[0] -= 1
                return {"errcode": errcode, "errmsg": "injected failure"}
        dedup = (message["touser"], message.get("client_msg_id", ""))
        if message.get("client_msg_id") and dedup in self._seen:
            return {"errcode": 0, "errmsg": "ok", "msgid": self._seen[dedup]}
        if message["touser"] not in self.followers:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if not message.get("template_id") or not isinstance(message.get("data"), dict):
            return {"errcode": 47003, "errmsg": "argument invalid"}
        msgid = 1000 + len(self.delivered)
        self.delivered.append(message)
        self._seen[dedup] = msgid
        if message.get("client_msg_id") in self.drop_reply:
            self.drop_reply.discard(message["client_msg_id"])
            return None
        if message.get("client_msg_id") in self.hold_reply:
            self.held.set()
            await self.release.wait()
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


@dataclass
class Servers:
    smtp: FakeSmtp
    wechat: FakeWeChat
    bindings: Path
    database_url: str
    environ: dict[str, str]

    def bind(self, mobile: str, openid: str, *, follows: bool = True) -> None:
        data = json.loads(self.bindings.read_text(encoding="utf-8"))
        data[mobile] = openid
        self.bindings.write_text(json.dumps(data), encoding="utf-8")
        if follows:
            self.wechat.followers.add(openid)


@pytest_asyncio.fixture
async def servers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> AsyncIterator[Servers]:
    """Both fake servers, and the settings (environment) pointing every channel at them."""
    smtp = FakeSmtp(port=free_port())
    controller = PhasedController(smtp, hostname="127.0.0.1", port=smtp.port)
    controller.start()
    wechat = FakeWeChat()
    await wechat.start()
    bindings = tmp_path / "wechat_bindings.json"
    bindings.write_text("{}", encoding="utf-8")
    environ = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "SMTP_FROM": FROM,
        "SMTP_FROM_NAME": "新疆专业技术人员管理平台",
        "SMTP_TIMEOUT": "5",
        "WECHAT_API_BASE": wechat.base,
        "WECHAT_APP_ID": APP_ID,
        "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_BINDINGS": str(bindings),
        "WECHAT_TEMPLATES": str(ROOT / "config" / "wechat_templates.json"),
        "ZHICHENG_DELIVERY_RETRY_SECONDS": "0.1",
        "ZHICHENG_DELIVERY_RETRY_MAX_SECONDS": "0.5",
        "ZHICHENG_DELIVERY_ATTEMPT_TIMEOUT": "10",
        "DATABASE_URL": database_url,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    forget_tokens()
    yield Servers(smtp, wechat, bindings, database_url, environ)
    await wechat.stop()
    smtp.release_all()
    controller.stop()
    forget_tokens()


@pytest_asyncio.fixture
async def own_queue() -> AsyncIterator[str]:
    """A task queue of the test's own; the declarations started on it end with the test."""
    task_queue = f"delivery-{uuid.uuid4().hex[:8]}"
    yield task_queue
    await end_declarations(task_queue)


@pytest_asyncio.fixture
async def delivery_worker(
    time_env: WorkflowEnvironment, servers: Servers, own_queue: str
) -> AsyncIterator[Worker]:
    """A worker built with the settings pointing at the fake servers (the session's workers
    have no channel on): the declarations and deliveries of one test."""
    async with build_worker(time_env.client, own_queue, settings=load_settings()) as worker:
        yield worker


# Declarations started on a test's own worker, by task queue: ended when the worker stops,
# since a timer of theirs firing later would wait for a workflow task no worker takes, and
# the time-skipping server does not skip time past it (every later test would stall).
_OPEN: dict[str, list[WorkflowHandle[Any, Any]]] = {}


async def start(env: WorkflowEnvironment, worker: Worker, **fields: Any) -> WorkflowHandle:
    handle = await start_declaration(env, worker, **fields)
    _OPEN.setdefault(worker.task_queue, []).append(handle)
    return handle


async def end_declarations(task_queue: str) -> None:
    for handle in _OPEN.pop(task_queue, []):
        with contextlib.suppress(RPCError):
            await handle.terminate("test over: its worker has stopped")


# --- helpers --------------------------------------------------------------------------------


def new_mobile() -> str:
    while True:
        number = f"139{random.randint(10**7, 10**8 - 1)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "CN")):
            return "+86" + number


def applicant(mobile: str, address: str | None) -> Applicant:
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC)
    return Applicant(
        name="张三", id_card=SAMPLE_ID_CARD, mobile=mobile, email=address, employer=employer
    )


def new_address() -> str:
    return f"applicant-{uuid.uuid4().hex[:10]}@example.com"


async def outbox_row(workflow_id: str, event: str) -> dict[str, Any]:
    async with get_engine().connect() as conn:
        query = select(OutboxMessage).where(
            OutboxMessage.workflow_id == workflow_id, OutboxMessage.event == event
        )
        return dict((await conn.execute(query)).mappings().one())


async def message_row(key: str, engine: AsyncEngine | None = None) -> dict[str, Any]:
    async with (engine or get_engine()).connect() as conn:
        query = select(OutboxMessage).where(OutboxMessage.key == key)
        return dict((await conn.execute(query)).mappings().one())


async def channels(key: str, engine: AsyncEngine | None = None) -> dict[str, dict[str, Any]]:
    async with (engine or get_engine()).connect() as conn:
        rows = await conn.execute(
            select(NotificationDelivery).where(NotificationDelivery.key == key)
        )
        return {row["channel"]: dict(row) for row in rows.mappings()}


async def delivered(env: WorkflowEnvironment, workflow_id: str) -> DeliveryResult:
    """The Delivery workflow's result, in real time (the test server's clock stays locked, so
    no declaration's timer jumps forward meanwhile)."""
    handle = env.client.get_workflow_handle(workflow_id, result_type=DeliveryResult)
    with env.auto_time_skipping_disabled():
        async with asyncio.timeout(60):
            return await handle.result()


def outcomes(result: DeliveryResult) -> dict[str, DeliveryStatus]:
    return {outcome.channel.value: outcome.status for outcome in result.outcomes}


async def no_delivery(keys: Sequence[str]) -> int:
    return 0


async def queued(
    event: NotificationEvent,
    mobile: str | None,
    address: str | None,
    *,
    engine: AsyncEngine | None = None,
    **context: Any,
) -> str:
    """An outbox row written by the notify activity outside a worker, into the database of
    `engine` (None: the session's), starting no delivery: the tests start the Delivery
    workflow themselves."""
    workflow_id = f"decl-2025-{uuid.uuid4().hex[:16]}"
    key = f"{workflow_id}/3/{event.value}/applicant"
    request = NotificationRequest(
        key=key,
        workflow_id=workflow_id,
        event=event,
        recipient_role=Role.applicant,
        recipient_name="张三",
        mobile=mobile,
        email=address,
        context={**COMMON, "declaration_id": workflow_id, **SAMPLES[event], **context},
    )
    notify = NotificationActivities(engine or get_engine(), no_delivery)
    await ActivityEnvironment().run(notify.queue_notification, request)
    return key


async def deliver(env: WorkflowEnvironment, worker: Worker, key: str) -> DeliveryResult:
    request = delivery_input(key, load_settings())
    await start_delivery(env.client, worker.task_queue, request)
    return await delivered(env, delivery_workflow_id(key))


@dataclass
class Cli:
    capsys: pytest.CaptureFixture[str]

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = await starter.run(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


# --- pure parts -----------------------------------------------------------------------------


async def test_workflow_ids_are_readable_and_distinct() -> None:
    key = "decl-2025-0123456789abcdef/7/returned_for_correction/applicant"
    assert delivery_workflow_id(key) == (
        "deliver-decl-2025-0123456789abcdef.7.returned_for_correction.applicant"
    )
    assert delivery_workflow_id(key, 2, Channel.email).endswith(".applicant~email-2")
    assert safe_id_part("a/b") != safe_id_part("a.b") != safe_id_part("a%2Eb")
    assert safe_id_part("申报 1") == "%E7%94%B3%E6%8A%A5%201"


async def test_a_blind_reviewers_mail_shows_no_workflow_id() -> None:
    """R11: the evaluation body's e-mail carries a digest of the key in its headers; the
    applicant's the key itself."""
    settings = load_settings().model_copy(update={"smtp_from": FROM})
    key = "decl-2025-0123456789abcdef/5/declaration_arrived/evaluation_body"
    message = {
        "key": key,
        "recipient_role": "evaluation_body",
        "recipient_name": "评审机构",
        "subject": "2025年度职称申报新申报送达提醒（中级）",
        "body": "评审机构：……",
        "created_at": datetime(2025, 10, 1, 2, 0, tzinfo=UTC),
    }
    email = build_email(message, "pingshen@example.gov.cn", settings)
    headers = "".join(f"{name}: {value}\n" for name, value in email.items())
    assert "0123456789abcdef" not in headers
    assert email["X-Zhicheng-Outbox-Key"] == shown_key(message)
    assert shown_key(message).startswith("blind-") and shown_key(message) in email["Message-ID"]
    assert build_email(message, "x@example.gov.cn", settings)["Message-ID"] == email["Message-ID"]
    applicant = message | {"recipient_role": "applicant", "key": key.replace("eval", "x")}
    assert shown_key(applicant) == applicant["key"]


async def test_summary_shows_problems_first() -> None:
    def row(channel: str, status: str, error: str | None = None) -> dict[str, Any]:
        return {"channel": channel, "status": status, "error": error}

    assert summarize([row("email", "sent"), row("wechat", "sent")])[0] == "sent"
    skipped = [row("email", "sent"), row("wechat", "skipped", "WeChat is off")]
    assert summarize(skipped) == ("sent", "wechat skipped: WeChat is off")
    status, error = summarize([row("email", "sending"), row("wechat", "failed", "x")])
    assert (status, error) == ("failed", "wechat failed: x")
    mixed = [row("email", "uncertain", "?"), row("wechat", "failed", "x")]
    assert summarize(mixed)[0] == "uncertain"
    assert summarize([])[0] == "skipped"


async def test_every_event_fills_its_wechat_template() -> None:
    """The shipped mapping renders for every event with the context the workflow passes, and
    keeps WeChat's limits (thing <= 20 characters, character_string <= 32)."""
    path = ROOT / "config" / "wechat_templates.json"
    for event in NotificationEvent:
        template = template_for(event.value, path)
        assert template is not None, event
        blind = notification_recipient(event) in BLIND_ROLES
        message = {
            "key": f"decl-2025-0123456789abcdef/7/{event.value}/applicant",
            "workflow_id": "decl-2025-0123456789abcdef",
            "event": event.value,
            "recipient_name": "评审机构" if blind else "张三",
            "subject": "2025年度职称申报材料退回补正通知",
            "body": "尊敬的张三：……",
            "created_at": "2025-10-01T10:00:00+08:00",
            "context": notification_context(event),
        }
        data = template_data(template, message)
        for name, value in data.items():
            text = value["value"]
            assert text and "{" not in text, (event, name)
            if name.startswith("thing"):
                assert len(text) <= 20, (event, name, text)
            if name.startswith("character_string"):
                assert len(text) <= 32, (event, name, text)
                assert text.isascii(), (event, name, text)  # letters, digits, symbols
            if blind:  # R11: nothing that names or identifies the applicant
                assert "0123456789abcdef" not in text and "张三" not in text, (event, name)
    returned = template_for("returned_for_correction", path)
    assert returned is not None
    message["context"] = notification_context(NotificationEvent.returned_for_correction)
    data = template_data(returned, message | {"event": "returned_for_correction"})
    assert data["time3"] == {"value": "2025年10月03日 14:00"}
    assert data["thing2"] == {"value": "职称证书扫描件不清晰"}


# --- through the workflows: one transition, one e-mail and one WeChat message -------------


async def test_a_transition_is_delivered_once_by_email_and_wechat(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    mobile, address, openid = new_mobile(), new_address(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    handle = await start(time_env, delivery_worker, applicant=applicant(mobile, address))
    await act(handle, "submit", "applicant")
    await act(handle, "employer_return", "employer", reason="请补充继续教育证明")
    row = await outbox_row(handle.id, "employer_returned")
    key = row["key"]

    result = await delivered(time_env, delivery_workflow_id(key))
    assert outcomes(result) == {"email": "sent", "wechat": "sent"}

    [mail] = servers.smtp.to(address, key)
    message = mail.message
    assert mail.mail_from == FROM and mail.rcpt_tos == [address]
    assert message["Subject"] == row["subject"] and "职称申报" in row["subject"]
    assert message["To"].addresses[0].addr_spec == address
    assert message["To"].addresses[0].display_name == "张三"
    assert message["From"].addresses[0].display_name == "新疆专业技术人员管理平台"
    assert message["Message-ID"] == message_id(key, FROM)
    assert message["Message-ID"].startswith(f"<{safe_id_part(key)}.zhicheng@zhicheng.test")
    body = message.get_content()
    assert "尊敬的张三：" in body and "请补充继续教育证明" in body
    assert body.replace("\r\n", "\n").strip() == row["body"].strip()  # CRLF on the wire

    requests, [sent] = servers.wechat.for_key(key)
    assert len(requests) == 1
    assert sent["touser"] == openid
    assert sent["template_id"] == TEMPLATES["default"]["template_id"]  # no entry of its own
    subject = row["subject"]  # a `thing` field holds 20 characters
    assert sent["data"]["thing1"]["value"] == (
        subject if len(subject) <= 20 else subject[:19] + "…"
    )
    assert sent["data"]["character_string2"]["value"] == handle.id

    record = await message_row(key)
    assert (record["status"], record["attempts"], record["last_error"]) == ("sent", 2, None)
    assert record["sent_at"] is not None
    by_channel = await channels(key)
    assert by_channel["email"]["provider_id"] == message["Message-ID"]
    assert by_channel["wechat"]["address"] == mobile and by_channel["wechat"]["provider_id"]
    assert (await state(handle)).stage.value == "draft"  # the declaration went on meanwhile


async def test_a_registration_code_goes_out_the_same_way(
    time_env: WorkflowEnvironment,
    delivery_worker: Worker,
    servers: Servers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The portal writes a verification code's row (portal/verification.py) and starts its
    Delivery workflow after the commit, as record_transition does: e-mail to an e-mail
    address, WeChat (the official account bound to it) to a mobile."""
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", delivery_worker.task_queue)
    portal = create_app(
        client=time_env.client, database_url=servers.database_url, settings=load_settings()
    )
    mobile, address, openid = new_mobile(), new_address(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    transport = httpx.ASGITransport(app=portal)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        for send_to in ("email", "mobile"):
            page = await client.get("/register")
            form = {
                "csrf_token": csrf_of(page.text),
                "name": "张三",
                "id_card": new_id_card(),
                "mobile": mobile if send_to == "mobile" else "",
                "email": address if send_to == "email" else "",
                "send_to": send_to,
                "password": "correct-horse-battery",
                "password_again": "correct-horse-battery",
            }
            assert (await client.post("/register", data=form)).status_code == 200
    await portal.state.verification.delivered()
    async with get_engine().connect() as conn:
        query = select(OutboxMessage.__table__).where(
            OutboxMessage.event == NotificationEvent.registration_code.value,
            (OutboxMessage.email == address) | (OutboxMessage.mobile == mobile),
        )
        rows = {("email" if r.email else "mobile"): r for r in (await conn.execute(query)).all()}
    by_mail, by_wechat = rows["email"], rows["mobile"]
    assert outcomes(await delivered(time_env, delivery_workflow_id(by_mail.key))) == {
        "email": "sent"
    }
    [mail] = servers.smtp.to(address, by_mail.key)
    code = by_mail.context["code"]
    assert mail.message["Subject"] == "注册账户验证码" and code in mail.message.get_content()
    assert outcomes(await delivered(time_env, delivery_workflow_id(by_wechat.key))) == {
        "wechat": "sent"
    }
    _, [sent] = servers.wechat.for_key(by_wechat.key)
    assert sent["touser"] == openid
    assert sent["template_id"] == TEMPLATES["events"]["registration_code"]["template_id"]
    assert sent["data"]["character_string2"]["value"] == by_wechat.context["code"]


async def test_a_repeated_delivery_start_sends_nothing_twice(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    mobile, address, openid = new_mobile(), new_address(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    handle = await start(time_env, delivery_worker, applicant=applicant(mobile, address))
    await act(handle, "submit", "applicant")
    await act(handle, "employer_return", "employer", reason="请补充业绩材料")
    key = (await outbox_row(handle.id, "employer_returned"))["key"]
    await delivered(time_env, delivery_workflow_id(key))

    # record_transition retried: the same starts are refused as duplicates
    settings = load_settings()
    again = await start_deliveries(
        [key], client=time_env.client, task_queue=delivery_worker.task_queue, settings=settings
    )
    assert again == 0
    # a Delivery under another id (Temporal forgot the first one): the record says it is sent
    other = f"{delivery_workflow_id(key)}-again"
    await time_env.client.start_workflow(
        "Delivery",
        delivery_input(key, settings),
        id=other,
        task_queue=delivery_worker.task_queue,
    )
    result = await delivered(time_env, other)
    assert outcomes(result) == {"email": "sent", "wechat": "sent"}

    assert len(servers.smtp.to(address, key)) == 1
    requests, sent = servers.wechat.for_key(key)
    assert (len(requests), len(sent)) == (1, 1)
    assert {c: r["attempts"] for c, r in (await channels(key)).items()} == {
        "email": 1,
        "wechat": 1,
    }


# --- WeChat: temporary failures, tokens, lost answers --------------------------------------


async def test_a_busy_wechat_is_retried_and_delivers_once(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    mobile, openid = new_mobile(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    key = await queued(NotificationEvent.returned_for_correction, mobile, None)
    servers.wechat.fail(-1, times=2, when=lambda m: m.get("client_msg_id") == key)

    result = await deliver(time_env, delivery_worker, key)

    assert outcomes(result) == {"wechat": "sent"}
    requests, [sent] = servers.wechat.for_key(key)
    assert len(requests) == 3  # two refusals (-1 system busy), then accepted
    assert sent["template_id"] == TEMPLATES["events"]["returned_for_correction"]["template_id"]
    assert sent["data"]["thing2"]["value"] == "职称证书扫描件不清晰"
    assert sent["data"]["time3"]["value"] == "2025年10月03日 14:00"
    wechat = (await channels(key))["wechat"]
    assert (wechat["status"], wechat["attempts"], wechat["error"]) == ("sent", 3, None)


async def test_the_access_token_is_cached_and_refreshed_when_expired(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    mobile, openid = new_mobile(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    first = await queued(NotificationEvent.publicity_started, mobile, None)
    second = await queued(NotificationEvent.materials_accepted, mobile, None)
    third = await queued(NotificationEvent.payment_confirmed, mobile, None)

    assert outcomes(await deliver(time_env, delivery_worker, first)) == {"wechat": "sent"}
    assert outcomes(await deliver(time_env, delivery_worker, second)) == {"wechat": "sent"}
    assert servers.wechat.token_requests == 1  # cached
    servers.wechat.expire_tokens()
    assert outcomes(await deliver(time_env, delivery_worker, third)) == {"wechat": "sent"}

    assert servers.wechat.token_requests == 2  # refreshed once, on 42001
    requests, sent = servers.wechat.for_key(third)
    assert len(requests) == 2 and len(sent) == 1
    assert requests[0]["_token"] != requests[1]["_token"]
    assert (await channels(third))["wechat"]["attempts"] == 1  # within the same attempt


async def test_a_lost_wechat_answer_is_resent_and_deduplicated(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    mobile, openid = new_mobile(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    key = await queued(NotificationEvent.approved, mobile, None)
    servers.wechat.drop_reply.add(key)  # accepted, then the connection drops

    result = await deliver(time_env, delivery_worker, key)

    assert outcomes(result) == {"wechat": "sent"}
    requests, sent = servers.wechat.for_key(key)
    assert (len(requests), len(sent)) == (2, 1)  # resent with the same client_msg_id
    assert {r["client_msg_id"] for r in requests} == {key}
    wechat = (await channels(key))["wechat"]
    assert (wechat["status"], wechat["attempts"]) == ("sent", 2)
    assert wechat["provider_id"] == str(servers.wechat.delivered.index(sent[0]) + 1000)


# --- permanent failures: recorded, shown, and the declaration goes on ---------------------


async def test_permanent_failures_are_recorded_and_listed(
    time_env: WorkflowEnvironment,
    delivery_worker: Worker,
    servers: Servers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    unbound, address = new_mobile(), new_address()
    handle = await start(time_env, delivery_worker, applicant=applicant(unbound, address))
    await act(handle, "submit", "applicant")
    await act(handle, "employer_return", "employer", reason="请补充学历证书")
    key_unbound = (await outbox_row(handle.id, "employer_returned"))["key"]
    result = await delivered(time_env, delivery_workflow_id(key_unbound))
    assert outcomes(result) == {"email": "sent", "wechat": "failed"}
    # the declaration goes on, untouched by its notification's failure
    assert (await act(handle, "submit", "applicant")).stage.value == "employer_review"

    stranger = new_mobile()
    servers.bind(stranger, f"o-unfollowed-{uuid.uuid4().hex[:8]}", follows=False)  # 40003
    refused = f"refused-{uuid.uuid4().hex[:8]}@example.com"
    servers.smtp.refuse.add(refused)
    key_invalid = await queued(NotificationEvent.unpaid, stranger, refused)
    result = await deliver(time_env, delivery_worker, key_invalid)
    assert outcomes(result) == {"email": "failed", "wechat": "failed"}

    by_channel = await channels(key_unbound)
    unbound_reason = f"unbound: no WeChat account is bound to {unbound}"
    assert by_channel["wechat"]["error"].startswith(unbound_reason)
    assert by_channel["wechat"]["attempts"] == 1
    assert (await message_row(key_unbound))["status"] == "failed"
    failed = await channels(key_invalid)
    assert "invalid openid" in failed["wechat"]["error"] and "40003" in failed["wechat"]["error"]
    assert failed["email"]["error"].startswith(f"recipient {refused} refused: 550")
    assert servers.smtp.to(refused) == []
    [_, sent] = servers.wechat.for_key(key_invalid)
    assert sent == []

    cli = Cli(capsys)
    code, out, err = await cli("outbox", "list", "--status", "failed", "--limit", "1000")
    assert (code, err) == (0, "")
    assert f"{key_unbound}  failed" in out and f"{key_invalid}  failed" in out
    assert f"reason: {unbound_reason}" in out
    assert "reason: invalid openid (check the binding) (errcode 40003 invalid openid)" in out
    assert f"email sent to {address} (1 attempt)" in out
    code, out, _ = await cli("outbox", "list", "--status", "failed", "--json", "--limit", "1000")
    listed = {m["key"]: m for m in json.loads(out)["messages"]}
    assert listed[key_unbound]["last_error"].startswith("wechat failed: unbound")
    assert {c["channel"]: c["status"] for c in listed[key_invalid]["channels"]} == {
        "email": "failed",
        "wechat": "failed",
    }
    code, out, _ = await cli("outbox", "list", "--status", "sent", "--limit", "1000")
    assert key_unbound not in out


# --- e-mail: a message that may be out is never sent twice automatically ------------------


@dataclass
class SmtpWrites:
    """What the client wrote to the SMTP connection, in order, with "mark" where `send_smtp`
    awaited its before-the-end callback."""

    log: list[bytes | str] = field(default_factory=list)
    fail: bool = False

    async def mark(self) -> None:
        self.log.append("mark")
        if self.fail:
            raise ConnectionError("the record database is down")

    def before_mark(self) -> bytes:
        end = self.log.index("mark") if "mark" in self.log else len(self.log)
        return b"".join(item for item in self.log[:end] if isinstance(item, bytes))


@pytest.fixture
def smtp_writes(monkeypatch: pytest.MonkeyPatch) -> SmtpWrites:
    writes = SmtpWrites()
    write = SMTPProtocol.write

    def spy(protocol: SMTPProtocol, data: bytes) -> None:
        writes.log.append(data)
        write(protocol, data)

    monkeypatch.setattr(SMTPProtocol, "write", spy)
    return writes


async def test_the_end_of_the_data_is_sent_only_after_the_mark(
    servers: Servers, smtp_writes: SmtpWrites
) -> None:
    """send_smtp writes DATA, then the message's data (CRLF line ends, leading dots doubled),
    then awaits the callback that marks the message as possibly accepted, and only then the
    end of the data: before the mark no CRLF.CRLF has left, so the server cannot have taken
    the message. The server receives the message as given."""
    address = new_address()
    data = b"Subject: dots\r\nX-Zhicheng-Outbox-Key: k\r\n\r\n.\r\n..two\n.one\rlast"
    reply = await send_smtp(load_settings(), data, FROM, address, smtp_writes.mark)

    assert reply.startswith("250")
    [mail] = servers.smtp.to(address)
    assert mail.message.get_payload() == ".\r\n..two\r\n.one\r\nlast\r\n"
    before = smtp_writes.before_mark()
    assert before.endswith(b"DATA\r\n" + data_lines(data))
    assert b"\r\n.\r\n" not in before
    assert data_lines(data).endswith(b"\r\n...two\r\n..one\r\nlast\r\n")
    assert smtp_writes.log[smtp_writes.log.index("mark") + 1] == END_OF_DATA


async def test_a_mark_that_cannot_be_recorded_holds_the_end_of_the_data_back(
    servers: Servers, smtp_writes: SmtpWrites
) -> None:
    """The mark fails (the record database is down): the end of the data is never written,
    the connection is closed, the server keeps nothing, and the attempt is retried."""
    address = new_address()
    smtp_writes.fail = True
    with pytest.raises(Temporary, match="the end of the message data was held back"):
        await send_smtp(
            load_settings(), b"Subject: x\r\n\r\nbody\r\n", FROM, address, smtp_writes.mark
        )
    assert smtp_writes.log[-1] == "mark"  # nothing written after it: no end of data, no QUIT
    assert END_OF_DATA not in smtp_writes.log
    assert servers.smtp.to(address) == []


async def test_an_answer_to_the_end_of_the_data_is_final_or_retried(
    time_env: WorkflowEnvironment, delivery_worker: Worker, servers: Servers
) -> None:
    """The server answers the end of the data: 451 (deferred) clears the mark, so the retry
    sends it (one e-mail, attempt 2); 554 (refused) is `failed`, never resent."""
    deferred, refused = new_address(), new_address()
    servers.smtp.data_reply[deferred] = "451 4.3.0 try again later"
    servers.smtp.data_reply[refused] = "554 5.6.0 message content rejected"
    key_deferred = await queued(NotificationEvent.locked, None, deferred)
    key_refused = await queued(NotificationEvent.locked, None, refused)

    result = await deliver(time_env, delivery_worker, key_deferred)
    assert outcomes(result) == {"email": "sent"}
    [mail] = servers.smtp.to(deferred)
    assert mail.message_id == message_id(key_deferred, FROM)
    row = (await channels(key_deferred))["email"]
    assert (row["status"], row["attempts"]) == ("sent", 2)

    result = await deliver(time_env, delivery_worker, key_refused)
    assert outcomes(result) == {"email": "failed"}
    row = (await channels(key_refused))["email"]
    assert (row["status"], row["attempts"], row["maybe_sent_at"]) == ("failed", 1, None)
    assert row["error"] == "message refused: 554 5.6.0 message content rejected"
    assert servers.smtp.to(refused) == []


async def test_a_lost_smtp_reply_leaves_the_email_uncertain_not_resent(
    time_env: WorkflowEnvironment,
    delivery_worker: Worker,
    servers: Servers,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address = new_address()
    key = await queued(NotificationEvent.locked, None, address)
    servers.smtp.drop_reply.add(address)  # stored, then the connection drops before "250"

    result = await deliver(time_env, delivery_worker, key)

    assert outcomes(result) == {"email": "uncertain"}
    assert len(servers.smtp.to(address)) == 1
    row = (await channels(key))["email"]
    assert row["status"] == "uncertain" and row["maybe_sent_at"] is not None
    assert "may have been delivered" in row["error"]
    assert f"starter.py outbox resend {key} --channel email" in row["error"]
    await asyncio.sleep(1)  # longer than every retry interval: nothing else is sent
    assert len(servers.smtp.to(address)) == 1

    cli = Cli(capsys)
    code, out, _ = await cli("outbox", "list", "--status", "uncertain", "--limit", "1000")
    assert code == 0 and f"{key}  uncertain" in out
    # the operator checked: resend, deliberately
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", delivery_worker.task_queue)
    with time_env.auto_time_skipping_disabled():
        code, out, err = await cli("outbox", "resend", key, "--channel", "email", "--wait", "30")
    assert (code, err) == (0, ""), err
    assert f"{delivery_workflow_id(key, 1, Channel.email)}: started" in out
    assert "email: sent" in out
    mails = servers.smtp.to(address)
    assert len(mails) == 2
    assert mails[0].message["Message-ID"] == mails[1].message["Message-ID"]  # same message
    row = (await channels(key))["email"]
    assert (row["status"], row["resends"], row["attempts"]) == ("sent", 1, 2)
    code, _, err = await cli("outbox", "resend", "no/such/key", "--channel", "email")
    assert code == starter.EXIT_BAD_INPUT and "no outbox message" in err


# --- a worker killed (SIGKILL) at each step of sending ---------------------------------------


KILLED_ATTEMPT_TIMEOUT = timedelta(seconds=3)  # how long Temporal waits for a killed attempt


async def start_delivery_to_kill(env: WorkflowEnvironment, key: str, task_queue: str) -> None:
    request = delivery_input(key, load_settings()).model_copy(
        update={"attempt_timeout": KILLED_ATTEMPT_TIMEOUT}
    )
    await env.client.start_workflow(
        "Delivery", request, id=delivery_workflow_id(key), task_queue=task_queue
    )


@contextlib.asynccontextmanager
async def taken_over(
    env: WorkflowEnvironment, key: str, task_queue: str
) -> AsyncIterator[DeliveryResult]:
    """The next worker (in this process) takes over the killed worker's delivery: the killed
    attempt times out and is retried there. The dead worker's sticky queue is reset, so the
    workflow's next task comes to the next worker at once (not after the sticky timeout).
    Yields the delivery's result while that worker still runs."""
    workflow_id = delivery_workflow_id(key)
    await reset_sticky(env, workflow_id)
    async with build_worker(env.client, task_queue, settings=load_settings()):
        handle = env.client.get_workflow_handle(workflow_id, result_type=DeliveryResult)
        async with asyncio.timeout(60):
            yield await handle.result()


async def test_a_worker_killed_between_send_and_record(
    dev_env: WorkflowEnvironment, servers: Servers, tmp_path: Path
) -> None:
    """A real worker process is killed (SIGKILL) after both servers have the message and
    before it can record that: on the next worker, WeChat is resent with the same
    client_msg_id (deduplicated: one message), e-mail is `uncertain` (one message, not two)."""
    mobile, address, openid = new_mobile(), new_address(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    key = await queued(NotificationEvent.defense_arranged, mobile, address)
    at_the_end = servers.smtp.hold_at("end")
    servers.wechat.hold_reply.add(key)
    task_queue = f"delivery-kill-{uuid.uuid4().hex[:8]}"
    await start_delivery_to_kill(dev_env, key, task_queue)
    worker = WorkerProcess.start(dev_env, task_queue, tmp_path / "worker.log", servers.environ)
    try:
        async with asyncio.timeout(60):
            await servers.wechat.held.wait()
        await at_the_end.wait_reached()
        by_channel = await channels(key)
        assert {c: r["status"] for c, r in by_channel.items()} == {
            "email": "sending",
            "wechat": "sending",
        }
        worker.kill()  # between the send and its record
    finally:
        worker.stop()
        at_the_end.released.set()
        servers.wechat.release.set()

    async with taken_over(dev_env, key, task_queue) as result:
        pass

    assert outcomes(result) == {"email": "uncertain", "wechat": "sent"}
    assert len(servers.smtp.to(address)) == 1  # one e-mail, not two
    requests, sent = servers.wechat.for_key(key)
    assert (len(requests), len(sent)) == (2, 1)  # resent, and WeChat dropped the duplicate
    by_channel = await channels(key)
    assert by_channel["email"]["attempts"] == 1
    assert "the worker stopped" in by_channel["email"]["error"]
    assert by_channel["wechat"]["attempts"] == 2
    assert (await message_row(key))["status"] == "uncertain"


@pytest.mark.parametrize("phase", ["greeting", "EHLO", "MAIL", "RCPT", "body"])
async def test_a_worker_killed_before_the_end_of_the_data_sends_the_email_once(
    dev_env: WorkflowEnvironment, servers: Servers, tmp_path: Path, phase: str
) -> None:
    """The worker is killed (SIGKILL) while the SMTP server is at `phase` (Hold): the server
    never got the end of the data, so it keeps nothing; the channel is still `sending`,
    without the mark that the end of the data was about to be sent, so the next worker sends
    it again: one e-mail in all, with the message's own Message-ID.

    At `body` the server stops after the first line of the data. The worker's socket takes the
    rest of a small message at once, so the test holds the lock of the message's row (which
    `mark_maybe_sent` takes first) from RCPT on: the worker cannot pass the mark, nor write the
    end of the data, and is killed there or before it."""
    address = new_address()
    key = await queued(NotificationEvent.defense_arranged, None, address)  # e-mail only
    hold = servers.smtp.hold_at(phase)
    before = servers.smtp.hold_at("RCPT") if phase == "body" else None
    task_queue = f"delivery-kill-{uuid.uuid4().hex[:8]}"
    await start_delivery_to_kill(dev_env, key, task_queue)
    worker = WorkerProcess.start(dev_env, task_queue, tmp_path / "worker.log", servers.environ)
    try:
        async with contextlib.AsyncExitStack() as stack:
            if before is not None:
                await before.wait_reached()
                conn = await stack.enter_async_context(get_engine().begin())
                await lock_message(conn, key)  # until the worker is dead
                before.released.set()
            await hold.wait_reached()
            worker.kill()
    finally:
        worker.stop()
        servers.smtp.release_all()
    row = (await channels(key))["email"]
    assert (row["status"], row["attempts"], row["maybe_sent_at"]) == ("sending", 1, None)
    assert servers.smtp.to(address) == []

    async with taken_over(dev_env, key, task_queue) as result:
        pass

    assert outcomes(result) == {"email": "sent"}
    [mail] = servers.smtp.to(address)
    assert mail.message_id == message_id(key, FROM)
    row = (await channels(key))["email"]
    assert (row["status"], row["attempts"], row["provider_id"]) == (
        "sent",
        2,
        message_id(key, FROM),
    )
    assert row["maybe_sent_at"] is not None  # attempt 2 marked its end of data too


async def test_a_worker_killed_after_the_end_of_the_data_leaves_the_email_uncertain(
    dev_env: WorkflowEnvironment,
    servers: Servers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The worker is killed (SIGKILL) after the end of the data, before the server's reply:
    the mark was committed before the end was sent, so the next worker finds it and makes
    the channel `uncertain` (the server has the message: one e-mail, none sent again); an
    operator's resend sends exactly one more, with the same Message-ID."""
    address = new_address()
    key = await queued(NotificationEvent.defense_arranged, None, address)
    at_the_end = servers.smtp.hold_at("end")
    task_queue = f"delivery-kill-{uuid.uuid4().hex[:8]}"
    await start_delivery_to_kill(dev_env, key, task_queue)
    worker = WorkerProcess.start(dev_env, task_queue, tmp_path / "worker.log", servers.environ)
    try:
        await at_the_end.wait_reached()
        row = (await channels(key))["email"]
        assert row["status"] == "sending" and row["maybe_sent_at"] is not None  # marked first
        worker.kill()
    finally:
        worker.stop()
        at_the_end.released.set()

    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", task_queue)
    async with taken_over(dev_env, key, task_queue) as result:
        assert outcomes(result) == {"email": "uncertain"}
        assert len(servers.smtp.to(address)) == 1
        row = (await channels(key))["email"]
        assert (row["status"], row["attempts"]) == ("uncertain", 1)
        assert "about to send the end of the message data" in row["error"]
        # the operator checked with the recipient: one deliberate resend
        code, out, err = await Cli(capsys)(
            "outbox", "resend", key, "--channel", "email", "--wait", "30"
        )
        assert (code, err) == (0, ""), err
        assert "email: sent" in out

    mails = servers.smtp.to(address)
    assert len(mails) == 2
    assert [m.message_id for m in mails] == [message_id(key, FROM)] * 2
    row = (await channels(key))["email"]
    assert (row["status"], row["resends"], row["attempts"]) == ("sent", 1, 2)


async def test_without_a_configured_channel_messages_wait_until_delivered(
    time_env: WorkflowEnvironment,
    servers: Servers,
    own_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No SMTP_HOST and no WeChat app: no delivery starts, the message waits as `pending`;
    once the channels are on (a worker restarted with them), `starter.py outbox deliver`
    sends it."""
    mobile, address, openid = new_mobile(), new_address(), f"o-{uuid.uuid4().hex[:12]}"
    servers.bind(mobile, openid)
    task_queue = own_queue
    for name in ("SMTP_HOST", "WECHAT_APP_ID", "WECHAT_APP_SECRET"):
        monkeypatch.delenv(name)
    async with build_worker(time_env.client, task_queue, settings=load_settings()) as off:
        handle = await start(time_env, off, applicant=applicant(mobile, address))
        await act(handle, "submit", "applicant")
        await act(handle, "employer_return", "employer", reason="请补充继续教育证明")
    row = await outbox_row(handle.id, "employer_returned")
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert await channels(row["key"]) == {}
    with pytest.raises(RPCError, match="not found"):
        await time_env.client.get_workflow_handle(delivery_workflow_id(row["key"])).describe()

    # Delivering by hand with no channel on is refused, and the message stays pending.
    monkeypatch.setenv("TEMPORAL_ADDRESS", time_env.client.service_client.config.target_host)
    code, out, err = await Cli(capsys)("outbox", "deliver", "--workflow", handle.id)
    assert code == 3 and out == ""
    assert "refused (NoChannel)" in err and "SMTP_HOST is not set" in err
    assert "WECHAT_APP_ID and WECHAT_APP_SECRET are not set" in err
    assert (await outbox_row(handle.id, "employer_returned"))["status"] == "pending"
    with pytest.raises(RPCError, match="not found"):
        await time_env.client.get_workflow_handle(delivery_workflow_id(row["key"])).describe()

    for name in ("SMTP_HOST", "WECHAT_APP_ID", "WECHAT_APP_SECRET"):
        monkeypatch.setenv(name, servers.environ[name])
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", task_queue)
    async with build_worker(time_env.client, task_queue, settings=load_settings()):
        code, out, err = await Cli(capsys)("outbox", "deliver", "--workflow", handle.id)
        assert (code, err) == (0, "")
        # the receipt of the submission, the employer's notice and the return
        assert out.strip() == "3 pending message(s): 3 delivery workflow(s) started"
        result = await delivered(time_env, delivery_workflow_id(row["key"]))
    assert outcomes(result) == {"email": "sent", "wechat": "sent"}
    assert len(servers.smtp.to(address, row["key"])) == 1
    assert len(servers.wechat.for_key(row["key"])[1]) == 1


# --- the record of each channel, on SQLite and PostgreSQL (no servers needed) --------------


async def test_intent_and_outcome_records_on_both_databases(
    database: str,  # tests/helpers/databases.py: SQLite, and PostgreSQL when configured
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both channels claimed and recorded at once keep a right summary (the message row is
    locked first); a claim that finds `sending` makes e-mail uncertain and lets WeChat resend
    only inside its deduplication window; an operator's resend starts a new generation."""
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_FROM", FROM)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    env = ActivityEnvironment()
    engine = get_engine(database)
    activities = DeliveryActivities(engine, load_settings())
    mobile, address = new_mobile(), new_address()
    key = await queued(NotificationEvent.approved, mobile, address, engine=engine)
    assert (await message_row(key, engine))["context"]["declaration_id"].startswith("decl-2025-")

    plan = await env.run(activities.plan_delivery, PlanRequest(key=key))
    assert (plan.to_send, plan.settled) == ([Channel.email, Channel.wechat], [])
    email_claim, wechat_claim = await asyncio.gather(
        claim(key, Channel.email, None, engine=engine),
        claim(key, Channel.wechat, timedelta(minutes=9), engine=engine),
    )
    assert (email_claim.attempt, wechat_claim.attempt) == (1, 1)
    assert (await message_row(key, engine))["status"] == "sending"
    await asyncio.gather(
        record_outcome(
            key, Channel.email, 1, DeliveryStatus.sent, engine=engine, provider_id="<m>"
        ),
        record_outcome(
            key,
            Channel.wechat,
            1,
            DeliveryStatus.pending,
            engine=engine,
            error="no answer",
            maybe_sent=True,
        ),
    )
    row = await message_row(key, engine)
    assert (row["status"], row["attempts"]) == ("pending", 2)
    assert row["last_error"] == "wechat pending: no answer"

    # WeChat: inside the window it is sent again; outside it, uncertain
    again = await claim(key, Channel.wechat, timedelta(minutes=9), engine=engine)
    assert again.attempt == 2 and again.message is not None
    late = await claim(key, Channel.wechat, timedelta(0), engine=engine)  # finds `sending`
    assert late.outcome is not None and late.outcome.status is DeliveryStatus.uncertain
    assert "longer ago than WeChat deduplicates" in (late.outcome.detail or "")
    assert (await message_row(key, engine))["status"] == "uncertain"
    # the late answer of attempt 2 still counts: it was sent
    sent = await record_outcome(key, Channel.wechat, 2, DeliveryStatus.sent, engine=engine)
    assert sent.status is DeliveryStatus.sent
    assert (await message_row(key, engine))["status"] == "sent"

    # e-mail: a claim that finds `sending` sends again, unless that attempt had marked the end
    # of its data as about to be sent: then it is uncertain, never sent twice
    assert await prepare_resend(database, key, Channel.email) == 1
    resent = await claim(key, Channel.email, None, engine=engine)
    assert resent.resends == 1 and resent.attempt == 2
    stopped = await claim(key, Channel.email, None, engine=engine)  # 2 stopped before the end
    assert stopped.outcome is None and stopped.attempt == 3
    row = (await channels(key, engine))["email"]
    assert (row["status"], row["maybe_sent_at"]) == ("sending", None)
    assert row["error"].startswith("attempt 2 stopped before the end of the message data")
    with pytest.raises(ClaimLost):  # attempt 2, still running somewhere, may not end its data
        await mark_maybe_sent(key, Channel.email, 2, engine=engine)
    await mark_maybe_sent(key, Channel.email, 3, engine=engine)
    assert (await channels(key, engine))["email"]["maybe_sent_at"] is not None
    await record_outcome(  # the server answered the end of the data 451: not accepted
        key, Channel.email, 3, DeliveryStatus.pending, engine=engine, error="451", not_sent=True
    )
    row = (await channels(key, engine))["email"]
    assert (row["status"], row["maybe_sent_at"]) == ("pending", None)
    again = await claim(key, Channel.email, None, engine=engine)
    assert again.attempt == 4
    await mark_maybe_sent(key, Channel.email, 4, engine=engine)
    crashed = await claim(key, Channel.email, None, engine=engine)  # 4 stopped after the mark
    assert crashed.outcome is not None and crashed.outcome.status is DeliveryStatus.uncertain
    assert "about to send the end of the message data" in (crashed.outcome.detail or "")
    assert (await channels(key, engine))["email"]["attempts"] == 4
    # giving up: an unmarked attempt sent nothing (failed); a marked one may have (uncertain)
    give_up = GiveUpRequest(key=key, channel=Channel.email, reason="gave up after 24 h")
    assert await prepare_resend(database, key, Channel.email) == 2
    await claim(key, Channel.email, None, engine=engine)
    failed = await env.run(activities.give_up_delivery, give_up)
    assert (failed.status, failed.detail) == (DeliveryStatus.failed, "gave up after 24 h")
    assert await prepare_resend(database, key, Channel.email) == 3
    marked = await claim(key, Channel.email, None, engine=engine)
    await mark_maybe_sent(key, Channel.email, marked.attempt, engine=engine)
    given_up = await env.run(activities.give_up_delivery, give_up)
    assert given_up.status is DeliveryStatus.uncertain
    with pytest.raises(UnknownMessage):
        await prepare_resend(database, "no/such/key", Channel.email)
    [entry] = await list_outbox(database, status="uncertain")
    assert entry.key == key and {c["channel"] for c in entry.channels} == {"email", "wechat"}
