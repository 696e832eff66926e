"""The Round workflow's checks of a committee's votes (R20) and of a spot-check finding (R22):
what the update's validator refuses and what its handler then works on, from one function
each, so the validator returns None and the handler never checks differently. Plain
functions of the round's progress (tests/unit/test_workflow_builders.py)."""

from __future__ import annotations

from collections.abc import Sequence

from models.round import CommitteeSession, CommitteeVotes, SpotCheck, SpotCheckResult
from rules.actions import Refused


def votes_session(
    sessions: Sequence[CommitteeSession], year: int, action: CommitteeVotes
) -> CommitteeSession | Refused:
    """The valid session the votes are for, or why they are refused: one vote per
    declaration of the round, no more yes votes than members attending."""
    session = next((s for s in sessions if s.session_id == action.session_id), None)
    if session is None:
        return Refused("Invalid", f"no session {action.session_id}: open_session first")
    if not session.valid:
        return Refused(
            "Invalid",
            f"session {session.session_id} is not a valid meeting (R20): "
            f"{len(session.attending)} of {len(session.members)} members attended, "
            f"{session.required_attendance} needed",
        )
    prefix = f"decl-{year}-"
    ids = [vote.workflow_id for vote in action.votes]
    for vote in action.votes:
        if not vote.workflow_id.startswith(prefix):
            return Refused("Invalid", f"{vote.workflow_id} is not a declaration of {year}")
        attending = len(session.attending) if vote.attending is None else vote.attending
        if vote.attending is not None and vote.attending > len(session.attending):
            return Refused(
                "Invalid",
                f"{vote.workflow_id}: {vote.attending} attending it but only "
                f"{len(session.attending)} members attended",
            )
        if vote.yes_votes > attending:
            return Refused(
                "Invalid",
                f"{vote.workflow_id}: {vote.yes_votes} yes votes but only "
                f"{attending} members attended",
            )
    if len(set(ids)) != len(ids):
        return Refused("Invalid", "a declaration is listed twice")
    return session


def finding_check(
    spot_checks: Sequence[SpotCheck], year: int, action: SpotCheckResult
) -> SpotCheck | Refused:
    """The drawn spot check a finding belongs to, or why it is refused (a finding on a
    declaration of the round outside the sample counts as well)."""
    check = next((c for c in spot_checks if c.check_id == action.check_id), None)
    if check is None:
        return Refused("Invalid", f"no spot check {action.check_id}")
    if check.population is None:
        return Refused("WrongStage", f"spot check {action.check_id} is still being drawn")
    if not action.workflow_id.startswith(f"decl-{year}-"):
        return Refused("Invalid", f"{action.workflow_id} is not a declaration of {year}")
    return check
