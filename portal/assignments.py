"""转办 (R26) on the organisations' pages: the employer's, the competent unit's and the
evaluation body's page of a declaration has a form to hand it to a colleague (an account of
the same organisation, chosen by display name, with a note); the page and the
organisation's list name its assignee, and the list filters "分配给我".

No confirmation step: an assignment changes no stage and is undone by handing it back; the
page says to whom it went (`?done=assign`). The colleague is checked here against the
accounts table (store/accounts.py colleagues) and sent as its actor id with its
organisation (client/assignments.py); the workflow checks the rest (rules/assignment.py).

Blind (R11): the evaluation body's pages get only the colleagues' names and the assignee's,
never the declaration's; an account's display name is no personal data of the applicant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from client.assignments import ASSIGN, assignment_data
from client.refused import Attempt, note_refusal
from models.common import Role, Stage
from portal.context import Portal, Refusal, actor_id_of
from rules.actions import HOLDERS
from rules.assignment import organisation_key
from store.accounts import colleagues, display_names
from store.config_files import InputError
from store.tables import DeclarationRow

MINE = "mine"  # the lists' query parameter: only what is assigned to me


def organisation_of(account: Any) -> str:
    return organisation_key(account.role, account.employer_uscc, account.display_name)


def mine_only(request: Any) -> bool:
    """Whether the list is filtered to the declarations assigned to the signed-in account."""
    return request.query_params.get(MINE) == "1"


def assigned_to(account: Any) -> Any:
    """The projection's filter for "分配给我" (the holder's assignee is the account)."""
    return DeclarationRow.assignee == actor_id_of(account)


def own_assignee(account: Any, assignee: str | None) -> str | None:
    """The row's assignee if it is one of this account's organisation role (the projection's
    is the current holder's: another organisation's assignee is not shown)."""
    return assignee if assignee and assignee.startswith(f"{account.role}:") else None


async def people_named(portal: Portal, actor_ids: Iterable[str]) -> dict[str, str]:
    """Each assignee's name (store/accounts.py display_names); a competent unit's accounts
    all bear the unit's name, so theirs says the username too."""
    names = await display_names(portal.engine(), actor_ids)
    unit = f"{Role.competent_unit.value}:"
    return {
        actor: f"{name}（{actor.removeprefix(unit)}）" if actor.startswith(unit) else name
        for actor, name in names.items()
    }


async def colleague_options(portal: Portal, account: Any) -> list[dict[str, str]]:
    """The colleagues to choose from: each account's username and how the form names it
    (its display name; with the username where two share one, as a competent unit's
    accounts all bear the unit's name; 本人 for the signed-in account)."""
    found = await colleagues(portal.engine(), account.role, organisation_of(account))
    counts: dict[str, int] = {}
    for row in found:
        counts[row.display_name] = counts.get(row.display_name, 0) + 1
    options = []
    for row in found:
        label = row.display_name
        if counts[row.display_name] > 1:
            label += f"（{row.username}）"
        if row.username == account.username:
            label += "（本人）"
        options.append({"username": row.username, "label": label})
    return options


async def assignment_view(portal: Portal, account: Any, state: Any) -> dict[str, Any]:
    """What the page of a declaration shows of its assignment: this organisation's current
    assignee by name, and the form's colleagues while the organisation holds it."""
    assigned = state.assignees.get(Role(account.role)) if state else None
    holds = state is not None and HOLDERS.get(Stage(state.stage)) is Role(account.role)
    names = await people_named(portal, [assigned.id] if assigned else [])
    return {
        "assignee": (names.get(assigned.id) or assigned.id) if assigned else None,
        "assignee_is_me": assigned is not None and assigned.id == actor_id_of(account),
        "colleagues": await colleague_options(portal, account) if holds else [],
    }


async def named_assignees(
    portal: Portal, account: Any, assignees: Iterable[str | None]
) -> dict[str, str]:
    """The names of the assignees of a list (this organisation's only)."""
    return await people_named(
        portal, {a for a in (own_assignee(account, x) for x in assignees) if a}
    )


async def assign_data(portal: Portal, account: Any, form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's colleague (a username of the account's own organisation, 400 otherwise)
    and note as the `assign` update takes them."""
    chosen = str(form.get("assignee", "")).strip()
    allowed = {c["username"] for c in await colleague_options(portal, account)}
    if chosen not in allowed:
        raise Refusal(
            "请从本单位的账号中选择转办对象。", "assignee: not a colleague", 400,
            {"assignee": "请选择本单位的一位同事。"},
        )  # fmt: skip
    note = str(form.get("note", "")).strip()
    data = {"assignee": chosen} | ({"note": note} if note else {})
    try:
        return await assignment_data(portal.engine(), Role(account.role), data)
    except InputError as exc:  # the account went meanwhile
        raise Refusal("请从本单位的账号中选择转办对象。", str(exc), 400) from None


async def assign(portal: Portal, account: Any, workflow_id: str, form: Mapping[str, Any]) -> str:
    """Send the form's `assign` as the account (portal/context.py Portal.send); the action.
    A colleague refused here goes on the record like any refused action (client/refused.py)."""
    try:
        data = await assign_data(portal, account, form)
    except Refusal as refusal:
        attempt = Attempt("portal", workflow_id, ASSIGN, account.role, actor_id_of(account))
        await note_refusal(portal.engine(), attempt, InputError(refusal.detail))
        raise
    await portal.send(account, workflow_id, ASSIGN, data, request_token=form.get("request_token"))
    return ASSIGN
