"""client/signing.py (the signer the portal, the command line and the worker use) and
client/refused.py (which failures go on the record, and what of them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client.errors import ActionTimeout, Classified, Refusal
from client.inputs import action_payload
from client.refused import Attempt, note_refusal, recorded_message
from client.signing import ActorSigner
from models.common import Role
from models.declaration import Action
from rules.actor_signature import verify
from store.config_files import InputError
from store.db import dispose_engines, ensure_schema, get_engine
from store.refused_attempts import latest_refused_attempts

NOW = datetime(2025, 9, 3, 10, 0, tzinfo=UTC)
WF = "decl-2025-0123456789abcdef"


async def fixed_clock(_: Any) -> datetime:
    return NOW


async def test_the_signer_signs_what_the_validator_verifies() -> None:
    signer = ActorSigner("s" * 32, clock=fixed_clock)
    assert "s" * 32 not in repr(signer)
    payload = {"actor": {"role": "applicant", "id": "applicant:li"}}
    first = await signer.signed(None, WF, "submit", payload)  # type: ignore[arg-type]
    second = await signer.signed(None, WF, "submit", payload)  # type: ignore[arg-type]
    assert first["signature"]["nonce"] != second["signature"]["nonce"]  # fresh each time
    action = Action.model_validate(first)
    assert action.signature is not None and action.signature.issued_at == NOW
    refused = verify([b"s" * 32], WF, "submit", action.actor, action.signature, NOW)
    assert refused is None
    with pytest.raises(ValueError, match="ZHICHENG_ACTOR_SIGNING_KEY"):
        ActorSigner("")


def test_a_signature_cannot_come_in_the_data() -> None:
    with pytest.raises(InputError, match="signature"):
        action_payload("submit", Role.applicant, "li", {"signature": {"mac": "x"}})


def test_the_record_keeps_the_sentence_not_the_titles() -> None:
    message = (
        "materials not masked (name and employer must be covered for blind review): "
        "张三的学历证书.pdf, 业绩证明.pdf"
    )
    kept = recorded_message(message)
    assert "张三" not in kept and "业绩证明" not in kept
    assert kept.startswith("materials not masked (name and employer")
    assert recorded_message("first line\nsecond") == "first line"
    assert recorded_message("") == ""


async def test_only_refusals_go_on_the_record(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'record.db'}"
    await ensure_schema(url)
    engine = get_engine(url)
    attempt = Attempt("portal", WF, "submit", "applicant", "applicant:li")
    failures: list[tuple[BaseException | Classified, Refusal]] = [
        (ApplicationError("not in draft", type="WrongStage"), Refusal.refused),
        (InputError("reason: String should have at least 1 character"), Refusal.invalid_input),
        (RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b""),
         Refusal.ended),
        (RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b""), Refusal.unavailable),
        (ActionTimeout(WF, "submit", False, NOW - NOW), Refusal.timeout),
        (RuntimeError("boom"), Refusal.failed),
    ]  # fmt: skip
    for failure, kind in failures:
        assert (await note_refusal(engine, attempt, failure)).kind is kind
    rows, total = await latest_refused_attempts(engine)
    assert total == 3
    assert [row.kind for row in rows] == ["Ended", "InvalidInput", "WrongStage"]  # newest first
    assert {(row.source, row.actor_id, row.action, row.workflow_id) for row in rows} == {
        ("portal", "applicant:li", "submit", WF)
    }
    page, _ = await latest_refused_attempts(engine, limit=1, offset=1)
    assert [row.kind for row in page] == ["InvalidInput"]
    await dispose_engines(url)


async def test_a_record_that_cannot_be_written_does_not_hide_the_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"  # no tables
    attempt = Attempt("cli", WF, "submit", "applicant", "op")
    found = await note_refusal(get_engine(url), attempt, ApplicationError("x", type="WrongRole"))
    assert found == Classified(Refusal.refused, "x", "WrongRole")
    assert "refused attempt not recorded" in caplog.text
    await dispose_engines(url)
