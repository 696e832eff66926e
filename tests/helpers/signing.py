"""The tests' actor-signing key and signer (client/signing.py): tests/conftest.py gives the
key to everything the session builds (ZHICHENG_ACTOR_SIGNING_KEY: the workers, the portal,
the command line) and installs it for the validators as worker.build_worker would; the
helpers sign what they send with it, as the portal does."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle

from client.signing import ActorSigner

TEST_ACTOR_SIGNING_KEY = "7e3d0c5b9a14f2e86d4b1a0c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f"
TEST_SIGNER = ActorSigner(TEST_ACTOR_SIGNING_KEY)


def client_of(handle: WorkflowHandle[Any, Any]) -> Client:
    """The client a handle was made with (the SDK keeps it, but offers no accessor): its
    server's clock is the one the signature's issue time must agree with."""
    return handle._client


async def signed(
    handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """`payload` with its actor signed for `update` on the handle's workflow."""
    return await TEST_SIGNER.signed(client_of(handle), handle.id, update, payload)
