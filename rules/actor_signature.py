"""Signed actors: who may say who acts.

An update's `actor` (role and id) is what its payload says, and anyone who reaches the Temporal
frontend can send a payload. So the component that authenticated the person signs the actor:
the portal for its session's account, the command line for its operator, the worker for the
round's own updates (`system`). The signature is an HMAC-SHA256, under a key the worker holds
too (ZHICHENG_ACTOR_SIGNING_KEY), over

    ["zhicheng-actor-v1", workflow id, update name, actor role, actor id, issued at, nonce]

as compact JSON (UTF-8; the instant in UTC with microseconds), sent beside the actor as
`signature = {issued_at, nonce, mac}` (models.common.ActorSignature). The update's validator
verifies it (`verify`) before anything else and refuses an unsigned, forged, stale or
other-workflow actor as `Unauthenticated`; validators refuse before anything is recorded, so a
refused update leaves no event in the history.

Pure: the caller gives the key, the instant and the nonce (client/signing.py draws them);
workflows verify with their own clock (`workflow.now()`) and the keys the worker installed
(rules/actor_keys.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from models.common import Actor, ActorSignature
from rules.actions import Refused

VERSION = "zhicheng-actor-v1"
MAX_AGE = timedelta(minutes=10)  # an update signed longer ago than this is refused
MAX_AHEAD = timedelta(minutes=2)  # the signer's clock may run this far ahead of the server's
UNAUTHENTICATED = "Unauthenticated"  # the refusal's kind (an ApplicationError type)


def signed_message(
    workflow_id: str, update: str, actor: Actor, issued_at: datetime, nonce: str
) -> bytes:
    """What the MAC covers, unambiguously (a JSON array, so no field can run into another)."""
    if issued_at.utcoffset() is None:
        raise ValueError("issued_at must be timezone-aware")
    instant = issued_at.astimezone(UTC).isoformat(timespec="microseconds")
    fields = [VERSION, workflow_id, update, actor.role.value, actor.id, instant, nonce]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def mac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(
    key: bytes,
    workflow_id: str,
    update: str,
    actor: Actor,
    issued_at: datetime,
    nonce: str,
) -> ActorSignature:
    """The signature of `actor` acting with `update` on `workflow_id` at `issued_at`."""
    if not key:
        raise ValueError("the actor-signing key is empty (ZHICHENG_ACTOR_SIGNING_KEY)")
    message = signed_message(workflow_id, update, actor, issued_at, nonce)
    return ActorSignature(issued_at=issued_at, nonce=nonce, mac=mac(key, message))


def signed_payload(
    payload: Mapping[str, Any],
    key: bytes,
    workflow_id: str,
    update: str,
    issued_at: datetime,
    nonce: str,
) -> dict[str, Any]:
    """An update's JSON payload (with its `actor`) and its `signature` added (replacing any)."""
    actor = Actor.model_validate(payload["actor"])
    signature = sign(key, workflow_id, update, actor, issued_at, nonce)
    return {**payload, "signature": signature.model_dump(mode="json")}


def _unauthenticated(message: str) -> Refused:
    return Refused(UNAUTHENTICATED, message)


def verify(
    keys: Iterable[bytes],
    workflow_id: str,
    update: str,
    actor: Actor,
    signature: ActorSignature | None,
    now: datetime,
    *,
    max_age: timedelta = MAX_AGE,
    max_ahead: timedelta = MAX_AHEAD,
) -> Refused | None:
    """None when one of `keys` signed this actor for this workflow and update, no longer than
    `max_age` before `now` (nor more than `max_ahead` after it); else the refusal, whose
    message says which check failed (never the expected MAC)."""
    keys = [key for key in keys if key]
    if not keys:
        return _unauthenticated(
            "the worker holds no actor-signing key (ZHICHENG_ACTOR_SIGNING_KEY): "
            "no update can be authenticated"
        )
    if signature is None:
        return _unauthenticated(
            f"{update}: the actor {actor.role.value}:{actor.id} is not signed; actions are "
            "taken through the portal or the command line, which sign who acts"
        )
    if not signature.nonce:
        return _unauthenticated(f"{update}: the actor's signature has no nonce")
    message = signed_message(workflow_id, update, actor, signature.issued_at, signature.nonce)
    if not any(hmac.compare_digest(mac(key, message), signature.mac) for key in keys):
        return _unauthenticated(
            f"{update}: the actor's signature does not verify (forged, or signed for another "
            "workflow, action or actor)"
        )
    age = now - signature.issued_at
    if age > max_age:
        return _unauthenticated(
            f"{update}: the actor's signature is stale: issued "
            f"{signature.issued_at.astimezone(UTC).isoformat(timespec='seconds')}, more than "
            f"{max_age.total_seconds() / 60:g} minutes before now"
        )
    if -age > max_ahead:
        return _unauthenticated(
            f"{update}: the actor's signature is issued in the future "
            f"({signature.issued_at.astimezone(UTC).isoformat(timespec='seconds')}): "
            "is the signer's clock right?"
        )
    return None
