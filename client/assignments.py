"""转办 (R26): the colleague an `assign` names, resolved against the accounts table before it
is sent (the workflow does no I/O). The portal and the command line both send it through
here: the colleague's account must exist with the assigner's role, and its organisation
(rules/assignment.py organisation_key) goes with it as `assignee_unit`, which the workflow
compares with the declaration's own holder."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from models.common import Role
from rules.assignment import ASSIGN, account_actor, organisation_key
from store.accounts import find_account
from store.config_files import InputError

__all__ = ["ASSIGN", "assignment_data"]


async def assignment_data(
    engine: AsyncEngine, role: Role, data: Mapping[str, Any]
) -> dict[str, Any]:
    """An `assign`'s data (`assignee`: the colleague's username, or its actor id
    `role:username`) as the update takes it: the colleague as an actor and its organisation
    from the accounts table; InputError when the assigner's role has no such account."""
    if "assignee_unit" in data:
        raise InputError("assignee_unit: filled in from the accounts table, not given")
    named = data.get("assignee")
    if not isinstance(named, str) or not named.strip():
        raise InputError('assignee: the colleague\'s username, as {"assignee": "<username>"}')
    username = named.strip().removeprefix(f"{role.value}:")
    account = await find_account(engine, username=username)
    if account is None or account.role != role.value:
        raise InputError(
            f"assignee: no {role.value} account named {username!r} (starter.py account create)"
        )
    unit = organisation_key(account.role, account.employer_uscc, account.display_name)
    assignee = account_actor(role, username).model_dump(mode="json")
    return {**data, "assignee": assignee, "assignee_unit": unit or None}
