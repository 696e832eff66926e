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
from rules.assignment import ASSIGN, organisation_key
from store.accounts import find_account
from store.config_files import InputError

__all__ = ["ASSIGN", "assignment_data"]


async def assignment_data(
    engine: AsyncEngine, role: Role, data: Mapping[str, Any]
) -> dict[str, Any]:
    """An `assign`'s data with the colleague's organisation filled in from the accounts
    table: `assignee` is `{"role": ..., "id": <username>}` (the role may be left out: the
    assigner's); InputError when no such account of that role exists."""
    if "assignee_unit" in data:
        raise InputError("assignee_unit: filled in from the accounts table, not given")
    assignee = data.get("assignee")
    if isinstance(assignee, Mapping):
        assignee = {"role": role.value} | dict(assignee)
    if not isinstance(assignee, Mapping) or not isinstance(assignee.get("id"), str):
        raise InputError('assignee: the colleague\'s account, as {"id": "<username>"}')
    account = await find_account(engine, username=assignee["id"])
    if account is None or account.role != assignee.get("role"):
        raise InputError(
            f"assignee: no {assignee.get('role')} account named {assignee['id']!r} "
            "(starter.py account create)"
        )
    unit = organisation_key(account.role, account.employer_uscc, account.display_name)
    return {**data, "assignee": assignee, "assignee_unit": unit or None}
