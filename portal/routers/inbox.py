"""The in-portal inbox (站内消息) of every account: the messages addressed to its organisation
or person (store/inbox.py says which), newest first, a page at a time, each with its subject,
time (Beijing), body and a link to the declaration's page for the account's role; each
account marks them read for itself. The header of every page shows the unread count
(portal/deps.py `Page.unread`).

    GET  /inbox?page=N        the N-th page
    POST /inbox/read          one message read (the form: ref, page: the message's keyed
                              reference, portal.security.message_ref, never its key)
    POST /inbox/read-all      every message of the account read
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.common import Role
from models.records import BLIND_ROLES, message_path
from portal.deps import AccountPage, CheckedForm
from portal.security import blind_code, message_ref
from store.inbox import inbox_page, mark_read, unread_keys

router = APIRouter()
BLIND_PAGES = {Role.evaluation_body: "/evaluation", Role.committee: "/committee/declarations"}


def message_link(role: Role, workflow_id: str, secret: str) -> str:
    """The page a message links to for `role`: a blind reviewer's by the declaration's
    anonymous code (R11: the workflow id is never shown to them), the others' as the
    message's own link (models/records.py message_path)."""
    if role in BLIND_ROLES and workflow_id.startswith("decl-"):
        return f"{BLIND_PAGES[role]}/{blind_code(workflow_id, secret)}"
    return message_path(role, workflow_id)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(
    page: AccountPage, number: Annotated[int, Query(alias="page", ge=1)] = 1
) -> Response:
    role = Role(page.account.role)
    found = await inbox_page(page.portal.engine(), page.account, number)
    messages = [
        {
            "ref": message_ref(m.key, page.portal.secret),
            "subject": m.subject,
            "body": m.body,
            "created_at": m.created_at,
            "read": m.read,
            "link": message_link(role, m.workflow_id, page.portal.secret),
        }
        for m in found.messages
    ]
    # the count of this page, not of the header's dependency: the same query, just read
    context = {"messages": messages, "inbox": found, "inbox_unread": found.unread}
    return page.render("inbox.html", context)


def _back(form: dict[str, str]) -> str:
    number = form.get("page", "1")
    return f"/inbox?page={int(number)}" if number.isdigit() and int(number) > 1 else "/inbox"


@router.post("/inbox/read")
async def read_one(page: AccountPage, form: CheckedForm) -> Response:
    ref, engine, secret = form.get("ref", ""), page.portal.engine(), page.portal.secret
    if ref:
        keys = [k for k in await unread_keys(engine, page.account) if message_ref(k, secret) == ref]
        if keys:
            await mark_read(engine, page.account, keys)
    return RedirectResponse(_back(form), 303)


@router.post("/inbox/read-all")
async def read_all(page: AccountPage, form: CheckedForm) -> Response:
    await mark_read(page.portal.engine(), page.account)
    return RedirectResponse(_back(form), 303)
