"""The one authentication every validator makes first (rules/actor_signature.py): the actor
must be signed for this workflow and this update, recently, under a key the worker installed
(rules/actor_keys.py). Validators only: they never run on replay, so reading the installed
keys and the clock here cannot change a replayed history."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.common import Actor, ActorSignature
    from rules import actor_keys
    from rules.actions import Refused
    from rules.actor_signature import verify


def actor_refusal(update: str, actor: Actor, signature: ActorSignature | None) -> Refused | None:
    """Why this update's actor is not authenticated (`Unauthenticated`); None when it is."""
    return verify(
        actor_keys.verifying_keys(),
        workflow.info().workflow_id,
        update,
        actor,
        signature,
        workflow.now(),
    )
