"""Signed actors and refused attempts on the real dev server (docs/security.md).

A plain Temporal client can reach the frontend and send any payload; only an actor signed by
the portal, the command line or the worker (rules/actor_signature.py, client/signing.py) is
accepted. An unsigned, forged, stale or other-workflow actor is refused by the validator as
`Unauthenticated` and leaves the history exactly as it was. Every action the portal or the
command line had refused is on the record (`refused_attempts`) and on the supervisor's page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from client.rounds import start_round
from client.signing import ActorSigner, new_nonce, server_now
from models.calendar import YearCalendar
from models.common import Role, Stage
from models.round import Committee, CommitteeMember, ListingSource, RoundInput
from portal.app import create_app
from portal.security import LoginThrottle
from rules.actor_signature import signed_payload
from rules.calendar_source import build_calendar
from store.db import get_engine
from store.refused_attempts import RefusedAttempt
from tests.helpers.declaration_support import (
    WORKFLOW_TASK_EVENTS,
    round_around,
    settled_event_types,
    start,
    state,
)
from tests.helpers.portal_support import account, action_form, browser_for, login, submitted
from tests.helpers.samples import SAMPLE_USCC
from tests.helpers.signing import TEST_ACTOR_SIGNING_KEY, signed

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROUND_YEAR = 2078  # a round of its own on the session's dev server
COMMITTEE = Committee(members=[CommitteeMember(id=f"expert-{n}", name=f"专家{n}") for n in (1, 2)])
KEY = TEST_ACTOR_SIGNING_KEY.encode()
OTHER_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


async def refused(send: Awaitable[Any]) -> ApplicationError:
    """The validator's refusal of an update: its ApplicationError."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await send
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


async def without_workflow_tasks(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    """The settled history's events but the workflow tasks': after a declaration has accepted
    an update, the dev server sometimes keeps the empty workflow task that carried a later
    rejected update (scheduled, started, completed: no update event, no command), which it
    never does on a fresh one (test_dev_server.py). What the update itself leaves is this."""
    return [t for t in await settled_event_types(handle) if t not in WORKFLOW_TASK_EVENTS]


async def unauthenticated(send: Awaitable[Any]) -> str:
    cause = await refused(send)
    assert cause.type == "Unauthenticated", (cause.type, cause.message)
    return cause.message


@pytest_asyncio.fixture(scope="module")
async def round_handle(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> AsyncIterator[WorkflowHandle[Any, Any]]:
    now = await dev_env.get_current_time()
    years = {y: YearCalendar() for y in (now.year, now.year + 1, ROUND_YEAR)}
    config = round_around(now, year=ROUND_YEAR, calendar=build_calendar(years, years))
    round_input = RoundInput(config=config, committee=COMMITTEE, listing=ListingSource.record)
    handle = await start_round(dev_env.client, round_input, dev_worker.task_queue)
    yield handle
    await handle.terminate("test over")


@pytest_asyncio.fixture(scope="module")
async def portal(dev_env: WorkflowEnvironment, dev_worker: Worker, database_url: str) -> FastAPI:
    return create_app(
        client=dev_env.client,
        database_url=database_url,
        secret="signed-actors-portal-secret",
        throttle=LoginThrottle(per_account=50, per_address=500, window=900),
    )


def window_change(role: str = "system") -> dict[str, Any]:
    return {
        "actor": {"role": role, "id": f"round-{ROUND_YEAR}"},
        "reason": "a plain client moves the windows",
        "submission_closes_at": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
    }


# --- A: actors that cannot be forged ---------------------------------------------------------


async def test_a_plain_clients_change_windows_as_system_is_refused_without_a_trace(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    round_handle: WorkflowHandle[Any, Any],
) -> None:
    handle = await start(dev_env, dev_worker)
    before = await settled_event_types(handle)
    deadlines = (await state(handle)).deadlines
    message = await unauthenticated(handle.execute_update("change_windows", window_change()))
    assert "is not signed" in message
    assert await settled_event_types(handle) == before
    assert (await state(handle)).deadlines == deadlines

    # the round's own change_windows, as its supervisor, from a plain client: refused too
    round_before = await settled_event_types(round_handle)
    message = await unauthenticated(
        round_handle.execute_update("change_windows", window_change("supervisor"))
    )
    assert "is not signed" in message
    assert await settled_event_types(round_handle) == round_before


async def test_forged_expired_and_altered_signatures_are_refused_without_a_trace(
    dev_env: WorkflowEnvironment, dev_worker: Worker
) -> None:
    handle = await start(dev_env, dev_worker)
    before = await settled_event_types(handle)
    payload = {"actor": {"role": "applicant", "id": "applicant-1"}}
    good = await signed(handle, "submit", payload)
    now = await server_now(dev_env.client)

    forged = good | {"signature": good["signature"] | {"mac": "0" * 64}}
    other_key = await ActorSigner(OTHER_KEY).signed(dev_env.client, handle.id, "submit", payload)
    expired = signed_payload(payload, KEY, handle.id, "submit", now - timedelta(minutes=11), "n1")
    ahead = signed_payload(payload, KEY, handle.id, "submit", now + timedelta(minutes=5), "n2")
    promoted = good | {"actor": {"role": "applicant", "id": "someone-else"}}
    no_nonce = good | {"signature": good["signature"] | {"nonce": ""}}

    for bad in (forged, other_key, promoted):
        assert "does not verify" in await unauthenticated(handle.execute_update("submit", bad))
    assert "stale" in await unauthenticated(handle.execute_update("submit", expired))
    assert "in the future" in await unauthenticated(handle.execute_update("submit", ahead))
    assert "no nonce" in await unauthenticated(handle.execute_update("submit", no_nonce))
    assert await settled_event_types(handle) == before
    assert (await state(handle)).stage is Stage.draft

    # the genuine one is accepted
    await handle.execute_update("submit", good)
    assert (await state(handle)).stage is Stage.employer_review


class RecordingSigner(ActorSigner):
    """The portal's signer, keeping what it signed (what someone could capture on the wire)."""

    def __init__(self) -> None:
        super().__init__(TEST_ACTOR_SIGNING_KEY)
        self.payloads: list[tuple[str, str, dict[str, Any]]] = []

    async def signed(
        self, client: Client, workflow_id: str, update: str, payload: Any
    ) -> dict[str, Any]:
        result = await super().signed(client, workflow_id, update, payload)
        self.payloads.append((workflow_id, update, result))
        return result


async def test_a_portal_actor_signed_for_one_declaration_is_refused_on_another(
    dev_env: WorkflowEnvironment, dev_worker: Worker, database_url: str, portal: FastAPI
) -> None:
    a = await submitted(dev_env, dev_worker)
    b = await start(dev_env, dev_worker)  # another declaration, that has taken no update yet
    recording = RecordingSigner()
    original, portal.state.portal.signer = portal.state.portal.signer, recording
    try:
        async with await browser_for(portal) as browser:
            token = await login(
                browser, await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
            )
            response = await browser.post(
                f"/employer/{a.id}/approve", data=action_form(token, confirmed="yes")
            )
            assert response.status_code == 303, response.text
    finally:
        portal.state.portal.signer = original
    assert (await state(a)).stage is Stage.publicity
    [(workflow_id, update, captured)] = recording.payloads
    assert (workflow_id, update) == (a.id, "start_publicity")
    assert captured["actor"]["id"].startswith("employer:employer-")

    before = await settled_event_types(b)
    assert "does not verify" in await unauthenticated(b.execute_update(update, captured))
    assert await settled_event_types(b) == before
    assert (await state(b)).stage is Stage.draft
    # nor for another action on the same declaration (the update's name is signed too)
    a_before = await without_workflow_tasks(a)
    wrong_action = captured | {"reason": "退回"}
    assert "does not verify" in await unauthenticated(
        a.execute_update("employer_return", wrong_action)
    )
    assert await without_workflow_tasks(a) == a_before
    assert (await state(a)).stage is Stage.publicity


async def test_on_a_real_server_signatures_are_issued_by_this_hosts_clock(
    dev_env: WorkflowEnvironment,
) -> None:
    """The dev server has no test service (only the time-skipping one tells its clock)."""
    before = datetime.now(UTC)
    issued = await server_now(dev_env.client)
    assert before <= issued <= datetime.now(UTC)
    assert new_nonce() != new_nonce() and len(new_nonce()) == 32


# --- B: refused attempts on the record -------------------------------------------------------


async def rows_for(database_url: str, *workflow_ids: str) -> list[Any]:
    async with get_engine(database_url).connect() as conn:
        statement = (
            select(RefusedAttempt.__table__)
            .where(RefusedAttempt.workflow_id.in_(workflow_ids))
            .order_by(RefusedAttempt.id)
        )
        return list((await conn.execute(statement)).all())


def cli_for(
    dev_env: WorkflowEnvironment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., Awaitable[tuple[int, str]]]:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)

    async def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = await starter.run(list(argv))
        return code, capsys.readouterr().err

    return run


async def test_refused_portal_and_command_line_actions_are_on_the_record_and_the_page(
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
    database_url: str,
    portal: FastAPI,
    round_handle: WorkflowHandle[Any, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handle = await submitted(dev_env, dev_worker)
    employer = await account(database_url, Role.employer, employer_uscc=SAMPLE_USCC)
    committee = await account(database_url, Role.committee)
    async with await browser_for(portal) as browser:
        token = await login(browser, employer)
        # invalid input: a return needs a reason (checked before anything is sent)
        response = await browser.post(
            f"/employer/{handle.id}/return", data=action_form(token, reason=" ")
        )
        assert response.status_code == 400
        # accepted, then the same again: WrongStage
        for expected in (303, 409):
            response = await browser.post(
                f"/employer/{handle.id}/approve", data=action_form(token, confirmed="yes")
            )
            assert response.status_code == expected, response.text
        # a portal holding another key than the worker's: Unauthenticated
        original = portal.state.portal.signer
        portal.state.portal.signer = ActorSigner(OTHER_KEY)
        try:
            response = await browser.post(
                f"/employer/{handle.id}/return", data=action_form(token, reason="补充")
            )
        finally:
            portal.state.portal.signer = original
        assert response.status_code == 403
        assert "系统未能确认办理人身份" in response.text
    async with await browser_for(portal) as browser:
        token = await login(browser, committee)
        # a round action through the portal: a member who is not on the committee
        response = await browser.post(
            "/committee/sessions",
            data=action_form(token, year=str(ROUND_YEAR), session_id="s-1", attending=["nobody"]),
        )
        assert response.status_code == 409, response.text

    cli = cli_for(dev_env, monkeypatch, capsys)
    code, err = await cli(
        "declaration", "act", handle.id, "submit", "--role", "applicant", "--actor-id", "op-li"
    )
    assert code == starter.EXIT_REFUSED and "WrongStage" in err
    code, err = await cli(
        "declaration", "act", handle.id, "employer_return", "--role", "employer",
        "--actor-id", "op-li", "--data", json.dumps({"reason": ""}),
    )  # fmt: skip
    assert code == starter.EXIT_BAD_INPUT, err
    code, err = await cli(
        "round", "act", str(ROUND_YEAR), "close", "--role", "employer", "--actor-id", "op-wang"
    )
    assert code == starter.EXIT_REFUSED and "WrongRole" in err
    monkeypatch.setenv("ZHICHENG_ACTOR_SIGNING_KEY", OTHER_KEY)  # not the worker's
    code, err = await cli(
        "declaration", "act", handle.id, "raise_objection", "--role", "employer",
        "--actor-id", "op-li", "--data", json.dumps({"summary": "异议"}),
    )  # fmt: skip
    assert code == starter.EXIT_REFUSED and "Unauthenticated" in err
    monkeypatch.setenv("ZHICHENG_ACTOR_SIGNING_KEY", TEST_ACTOR_SIGNING_KEY)
    # `system` is the worker's: the command line does not offer it
    code, err = await cli(
        "declaration", "act", handle.id, "change_windows", "--role", "system", "--actor-id", "x"
    )
    assert code == starter.EXIT_BAD_INPUT and "unknown choice 'system'" in err

    rows = await rows_for(database_url, handle.id, round_handle.id)
    employer_id = f"employer:{employer}"
    seen = [(r.source, r.actor_role, r.actor_id, r.action, r.workflow_id, r.kind) for r in rows]
    assert seen == [
        ("portal", "employer", employer_id, "employer_return", handle.id, "InvalidInput"),
        ("portal", "employer", employer_id, "start_publicity", handle.id, "WrongStage"),
        ("portal", "employer", employer_id, "employer_return", handle.id, "Unauthenticated"),
        ("portal", "committee", f"committee:{committee}", "open_session", round_handle.id,
         "Invalid"),
        ("cli", "applicant", "op-li", "submit", handle.id, "WrongStage"),
        ("cli", "employer", "op-li", "employer_return", handle.id, "InvalidInput"),
        ("cli", "employer", "op-wang", "close", round_handle.id, "WrongRole"),
        ("cli", "employer", "op-li", "raise_objection", handle.id, "Unauthenticated"),
    ]  # fmt: skip
    assert rows[1].message == (
        "start_publicity is not allowed in stage publicity (only in: employer_review)"
    )
    assert "not committee members: nobody" in rows[3].message
    assert all(r.at.tzinfo is not None for r in rows)
    # no personal data: nothing of the declaration's applicant is in the record
    assert not any("张三" in r.message or "13800138000" in r.message for r in rows)

    async with await browser_for(portal) as browser:
        await login(browser, await account(database_url, Role.supervisor))
        page = (await browser.get("/supervisor")).text
        assert "被拒绝的操作" in page
        shown = ["所处阶段不能办理", "身份签名无效", "填写内容不完整或格式不对", "角色无权办理"]
        shown += ["命令行", "门户", "op-wang", employer_id, round_handle.id, "召开评审会议"]
        for text in shown:
            assert text in page, text
        # newest first: the command line's round refusal above the portal's
        section = page[page.index('id="refused"') :]
        assert section.index("op-wang") < section.index(f"committee:{committee}")
        assert (await browser.get("/supervisor?refused_page=2")).status_code == 200
        assert (await browser.get("/supervisor?refused_page=0")).status_code == 422


async def test_the_record_refuses_updates_and_deletes(database: str) -> None:
    """Append-only in the database too (migration 0005's triggers)."""
    from client.refused import Attempt, note_refusal

    engine = get_engine(database)
    attempt = Attempt("cli", "decl-2025-0000000000000000", "submit", "applicant", "op")
    cause = ApplicationError("submit is not allowed in stage draft", type="WrongStage")
    await note_refusal(engine, attempt, cause)
    for statement in ("UPDATE refused_attempts SET kind = 'x'", "DELETE FROM refused_attempts"):
        with pytest.raises(Exception, match="append-only"):
            async with engine.begin() as conn:
                await conn.exec_driver_sql(statement)
    async with engine.connect() as conn:
        kinds = [row.kind for row in await conn.execute(select(RefusedAttempt.__table__))]
    assert kinds == ["WrongStage"]
