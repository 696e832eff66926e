"""Refused attempts on the record: the one function the portal's send path and the command
line's act path call when an action failed. client.errors.classify decides whether it was a
refusal (the workflow's validator refused it: wrong role, stage or window, invalid,
unauthenticated; the payload failed its check before it was sent; the declaration has ended);
if so, one row goes to the append-only `refused_attempts` table (store/refused_attempts.py),
which the supervisor's page shows. Anything else (Temporal unreachable, no worker, a time-out)
is not a refusal and is not written.

Who, what, when, which workflow and why, and no personal data beyond the actor id: the
message is the refusal's own line, minus what it would quote of the payload (the titles of
unmasked materials).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from client.errors import Classified, Refusal, classify
from models.text import storable

if TYPE_CHECKING:  # the command line imports this module: no database library until used
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# The kinds of client/errors.py that are a refusal of the action itself.
REFUSED_KINDS = frozenset({Refusal.refused, Refusal.invalid_input, Refusal.ended})
# The name a kind without a reason of its own is recorded under.
KIND_NAMES = {Refusal.invalid_input: "InvalidInput", Refusal.ended: "Ended"}

# workflows/declaration.py names the unmasked materials by their titles (the applicant's
# words): the record keeps the sentence, not the titles.
_QUOTED_TITLES = re.compile(r"^(.*materials not masked \([^)]*\)): .*$", re.DOTALL)


@dataclass(frozen=True)
class Attempt:
    """An action someone tried: where from (`portal` or `cli`), on which workflow, as whom."""

    source: str
    workflow_id: str
    action: str
    actor_role: str
    actor_id: str


def recorded_message(message: str) -> str:
    """The refusal's message as it is recorded: its first line, without quoted titles."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return _QUOTED_TITLES.sub(r"\1: (titles not recorded)", first)


async def note_refusal(
    engine: AsyncEngine,
    attempt: Attempt,
    failure: BaseException | Classified,
    *,
    at: datetime | None = None,
) -> Classified:
    """Classify `failure` (or take its classification); if it is a refusal, append it to
    refused_attempts. Returns the classification. Never raises for the record: a record
    database that cannot be written is logged, and the refusal goes on to the person.
    Characters the database cannot keep are replaced (models/text.py): a NUL in an actor id
    is refused, and its refusal still recorded."""
    classified = failure if isinstance(failure, Classified) else classify(failure)
    if classified.kind not in REFUSED_KINDS:
        return classified
    from store.refused_attempts import append_refused_attempt

    kind = classified.reason or KIND_NAMES.get(classified.kind, "Refused")
    try:
        await append_refused_attempt(
            engine,
            at=at or datetime.now(UTC),
            source=attempt.source,
            actor_role=storable(attempt.actor_role[:32]),
            actor_id=storable(attempt.actor_id[:128]),
            action=storable(attempt.action[:64]),
            workflow_id=storable(attempt.workflow_id[:200]),
            kind=storable(kind[:64]),
            message=storable(recorded_message(classified.message)),
        )
    except Exception as exc:  # the refusal matters more than its record
        log.warning(
            "refused attempt not recorded (%s %s on %s): %s",
            attempt.source,
            attempt.action,
            attempt.workflow_id,
            exc,
        )
    return classified
