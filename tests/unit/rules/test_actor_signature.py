"""rules/actor_signature.py: what is signed, and every way a signature is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from models.common import Actor, ActorSignature, Role
from models.declaration import Action
from models.round import RoundAction
from rules import actor_keys
from rules.actor_signature import (
    MAX_AGE,
    MAX_AHEAD,
    UNAUTHENTICATED,
    sign,
    signed_message,
    signed_payload,
    verify,
)

KEY = b"k" * 32
OTHER = b"o" * 32
NOW = datetime(2025, 10, 8, 9, 30, tzinfo=UTC)
EMPLOYER = Actor(role=Role.employer, id="employer:hr-01")
WF = "decl-2025-0123456789abcdef"


def signature(**changes: object) -> ActorSignature:
    fields: dict[str, object] = {
        "key": KEY,
        "workflow_id": WF,
        "update": "start_publicity",
        "actor": EMPLOYER,
        "issued_at": NOW,
        "nonce": "a" * 32,
    }
    fields.update(changes)
    return sign(**fields)  # type: ignore[arg-type]


def check(sig: ActorSignature | None, **changes: object) -> str | None:
    fields: dict[str, object] = {
        "keys": [KEY],
        "workflow_id": WF,
        "update": "start_publicity",
        "actor": EMPLOYER,
        "signature": sig,
        "now": NOW,
    }
    fields.update(changes)
    refused = verify(**fields)  # type: ignore[arg-type]
    if refused is None:
        return None
    assert refused.kind == UNAUTHENTICATED
    return refused.message


def test_a_signature_verifies_for_what_it_was_made_for() -> None:
    assert check(signature()) is None
    assert check(signature(), now=NOW + MAX_AGE) is None  # at its age limit
    assert check(signature(), now=NOW - MAX_AHEAD) is None  # the signer's clock a bit ahead


def test_unsigned_is_refused() -> None:
    message = check(None)
    assert message is not None and "is not signed" in message
    assert "employer:employer:hr-01" in message  # role:id of who it claims to be


@pytest.mark.parametrize(
    ("what", "changes"),
    [
        ("another workflow", {"workflow_id": "decl-2025-fedcba9876543210"}),
        ("another update", {"update": "recommend"}),
        ("another role", {"actor": Actor(role=Role.supervisor, id="employer:hr-01")}),
        ("another id", {"actor": Actor(role=Role.employer, id="employer:hr-02")}),
        ("a key the worker does not hold", {"keys": [OTHER]}),
    ],
)
def test_a_signature_does_not_travel(what: str, changes: dict[str, object]) -> None:
    message = check(signature(), **changes)
    assert message is not None and "does not verify" in message, what


def test_a_forged_mac_or_a_moved_time_or_nonce_does_not_verify() -> None:
    good = signature()
    for forged in (
        good.model_copy(update={"mac": "0" * 64}),
        good.model_copy(update={"mac": good.mac.upper()}),
        good.model_copy(update={"mac": ""}),
        good.model_copy(update={"issued_at": NOW + timedelta(seconds=1)}),
        good.model_copy(update={"nonce": "b" * 32}),
    ):
        message = check(forged)
        assert message is not None and "does not verify" in message, forged


def test_stale_and_future_signatures_are_refused() -> None:
    message = check(signature(), now=NOW + MAX_AGE + timedelta(seconds=1))
    assert message is not None and "stale" in message and "10 minutes" in message
    message = check(signature(), now=NOW - MAX_AHEAD - timedelta(seconds=1))
    assert message is not None and "in the future" in message
    assert check(signature(), now=NOW + timedelta(minutes=10), max_age=timedelta(minutes=5))


def test_no_key_no_nonce() -> None:
    message = check(signature(), keys=[])
    assert message is not None and "holds no actor-signing key" in message
    assert check(signature(), keys=[b""]) is not None
    message = check(signature(nonce=""))
    assert message is not None and "no nonce" in message


def test_rotation_accepts_any_installed_key() -> None:
    assert check(signature(key=OTHER), keys=[KEY, OTHER]) is None


def test_the_message_is_unambiguous_and_in_utc() -> None:
    one = signed_message("a,b", "c", EMPLOYER, NOW, "n")
    other = signed_message("a", "b,c", EMPLOYER, NOW, "n")
    assert one != other
    assert one.startswith(b'["zhicheng-actor-v1","a,b","c","employer"')
    shanghai = NOW.astimezone(timezone(timedelta(hours=8)))
    assert signed_message(WF, "u", EMPLOYER, shanghai, "n") == signed_message(
        WF, "u", EMPLOYER, NOW, "n"
    )
    assert "2025-10-08T09:30:00.000000+00:00" in one.decode()
    with pytest.raises(ValueError, match="timezone-aware"):
        signed_message(WF, "u", EMPLOYER, NOW.replace(tzinfo=None), "n")
    with pytest.raises(ValueError, match="ZHICHENG_ACTOR_SIGNING_KEY"):
        signature(key=b"")


def test_signed_payload_adds_or_replaces_the_signature_and_keeps_the_rest() -> None:
    payload = {"actor": EMPLOYER.model_dump(mode="json"), "note": "ok", "signature": "old"}
    result = signed_payload(payload, KEY, WF, "start_publicity", NOW, "a" * 32)
    assert result["note"] == "ok" and result["actor"] == payload["actor"]
    assert result["signature"] == signature().model_dump(mode="json")
    parsed = Action.model_validate(result)  # what the workflow decodes
    assert check(parsed.signature, actor=parsed.actor) is None


def test_unsigned_payloads_recorded_before_still_parse() -> None:
    """Old histories replay: the field is optional in every action model."""
    old = {"actor": {"role": "employer", "id": "hr-01"}, "note": None}
    assert Action.model_validate(old).signature is None
    assert RoundAction.model_validate(old).signature is None


@pytest.fixture
def no_keys() -> Iterator[None]:
    installed = actor_keys.verifying_keys()
    actor_keys.clear()
    try:
        yield
    finally:
        actor_keys.clear()
        actor_keys.install(*installed)


def test_the_installed_keys_add_up(no_keys: None) -> None:
    assert actor_keys.verifying_keys() == ()
    actor_keys.install(KEY)
    actor_keys.install(OTHER, KEY, b"")
    assert actor_keys.verifying_keys() == (KEY, OTHER)
