"""转办 (R26, "谁审核、谁负责"): an account of the organisation that holds a declaration hands
it to a colleague, who is then named as its assignee (`assign`, workflows/declaration.py).

Who may assign in which stage is the action table's (rules/actions.py HOLDERS). What the
workflow checks of the colleague here is what it can know without I/O: the colleague has
the assigner's role, and the organisation the colleague's account belongs to (the client
reads it from the accounts table and sends it as `assignee_unit`) is the declaration's own
holder: for an employer its unified social credit code, for a competent unit its name, as
the declaration names them. That the colleague's account exists is the client's check.
"""

from __future__ import annotations

from models.common import Actor, Role
from rules.actions import Refused

ASSIGN = "assign"  # the action (rules/actions.py ACTIONS, the workflow's update)


def organisation_key(role: Role | str, employer_uscc: str | None, display_name: str) -> str:
    """The organisation an account belongs to, as assignments compare it: an employer
    account's unified social credit code, a competent-unit account's name (its display
    name, surrounding blanks ignored), '' for the evaluation body (one organisation)."""
    if Role(role) is Role.employer:
        return employer_uscc or ""
    if Role(role) is Role.competent_unit:
        return display_name.strip()
    return ""


def account_actor(role: Role | str, username: str) -> Actor:
    """The actor of a portal account, as the portal acts for it (its id `role:username`):
    how an assignee travels."""
    role = Role(role)
    return Actor(role=role, id=f"{role.value}:{username}")


def assignment_refusal(
    actor: Actor,
    assignee: Actor,
    assignee_unit: str | None,
    *,
    employer_uscc: str,
    competent_unit: str | None,
    current: Actor | None,
) -> Refused | None:
    """Why `actor` may not hand the declaration to `assignee` (of the organisation
    `assignee_unit`); None when it may. The role and the stage are checked before
    (rules.actions.action_refusal)."""
    holder = {
        Role.employer: employer_uscc,
        Role.competent_unit: (competent_unit or "").strip(),
        Role.evaluation_body: "",
    }
    if (
        assignee.role is not actor.role
        or not assignee.id.startswith(f"{actor.role.value}:")  # an account's: role:username
        or (assignee_unit or "") != holder.get(actor.role)
    ):
        return Refused(
            "Invalid",
            f"the assignee {assignee.id} is not an account of the organisation that holds "
            "this declaration",
            {"problem": "assignee_elsewhere"},
        )
    if current is not None and current == assignee:
        return Refused(
            "Invalid",
            f"the declaration is already assigned to {assignee.id}",
            {"problem": "already_assigned"},
        )
    return None
