"""Signing the actor of every update this process sends (rules/actor_signature.py): the
portal for its session's account, the command line for its operator, the worker for the
round's own updates (activities/coordination.py gets `signer.signed` from worker.py).

    signer = ActorSigner.from_settings(settings)          # ZHICHENG_ACTOR_SIGNING_KEY
    payload = await signer.signed(client, workflow_id, "submit", payload)

Each signature gets a fresh random nonce and the time it is issued. That time is the Temporal
server's own where the server says it (the time-skipping test server, whose clock runs ahead
of this host's once it has skipped time: tests, the e2e run, demos), else this host's clock
(kept right by NTP in production: the validator allows MAX_AHEAD ahead and MAX_AGE old).
"""

from __future__ import annotations

import secrets
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.empty_pb2 import Empty
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from rules.actor_signature import signed_payload
from settings import Settings

Clock = Callable[[Client], Awaitable[datetime]]

# Clients whose server has no test service (every real server answers UNIMPLEMENTED, or
# refuses the call): asked once, then this host's clock for good.
_no_server_clock: weakref.WeakSet[Client] = weakref.WeakSet()
# Answers that say nothing about the server yet: asked again next time.
_TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
    }
)
ASK_TIMEOUT = timedelta(seconds=5)


async def server_now(client: Client) -> datetime:
    """Now, by the time-skipping test server's clock when `client` talks to one, else by
    this host's."""
    if client not in _no_server_clock:
        try:
            response = await client.test_service.get_current_time(Empty(), timeout=ASK_TIMEOUT)
        except RPCError as exc:
            if exc.status not in _TRANSIENT:
                _no_server_clock.add(client)
        else:
            return response.time.ToDatetime(tzinfo=UTC)
    return datetime.now(UTC)


def new_nonce() -> str:
    return secrets.token_hex(16)


class ActorSigner:
    """Signs update payloads under one key (the worker verifies with the same)."""

    def __init__(self, key: str | bytes, clock: Clock = server_now) -> None:
        self._key = key.encode("utf-8") if isinstance(key, str) else key
        if not self._key:
            raise ValueError("the actor-signing key is empty (ZHICHENG_ACTOR_SIGNING_KEY)")
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ActorSigner:
        return cls(settings.actor_signing_key)

    def __repr__(self) -> str:  # never the key
        return "ActorSigner(<key>)"

    async def signed(
        self, client: Client, workflow_id: str, update: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`payload` (an update's JSON object, with its `actor`) with the actor's signature
        for `update` on `workflow_id`, issued now."""
        issued_at = await self._clock(client)
        return signed_payload(payload, self._key, workflow_id, update, issued_at, new_nonce())
