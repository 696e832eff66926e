"""What the portal's routes (portal/routers/) declare with `Depends`, from `app.state`
(portal.app.create_app): the shared context (`Portal`), the login throttle, the upload store;
the signed-in account, for each role a dependency that sends nobody to the login page and
another role away with 403; a form whose CSRF token matched the session's; the declaration
behind a blind code.

A route states its dependencies in the order they are checked: the account first, then the
form (so a stranger is sent to the login page before any form is read), then the record the
route is about (for instance `OwnDeclaration` in portal/routers/employer.py: 404 for another
employer's declaration).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from models.common import Role
from portal.accounts import find_account
from portal.blind import blind_row
from portal.context import Portal
from portal.security import LoginThrottle, csrf_matches
from portal.uploads import UploadConfig, upload_config
from store.accounts import Account


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_throttle(request: Request) -> LoginThrottle:
    return request.app.state.throttle


Throttle = Annotated[LoginThrottle, Depends(get_throttle)]


def get_uploads(request: Request) -> UploadConfig:
    """The app's upload store (portal.uploads.upload_config: `app.state.uploads`)."""
    return upload_config(request.app)


Uploads = Annotated[UploadConfig, Depends(get_uploads)]


async def signed_in(request: Request, portal: PortalDep) -> Account | None:
    """The session's account (a row of the accounts table), None when nobody is logged in."""
    uid = request.session.get("uid")
    return await find_account(portal.engine(), id=uid) if uid is not None else None


SignedIn = Annotated[Account | None, Depends(signed_in)]


def require_role(role: Role) -> Callable[..., Awaitable[Account]]:
    """A dependency: the logged-in account, which must have `role` (login page / 403)."""

    async def current(account: SignedIn) -> Account:
        if account is None:
            raise HTTPException(303, headers={"Location": "/login"})
        if account.role != role.value:
            raise HTTPException(403, "这个页面不属于您的角色")
        return account

    current.__name__ = f"current_{role.value}"
    return current


CurrentApplicant = Annotated[Account, Depends(require_role(Role.applicant))]
CurrentEmployer = Annotated[Account, Depends(require_role(Role.employer))]
CurrentCompetentUnit = Annotated[Account, Depends(require_role(Role.competent_unit))]
CurrentEvaluationBody = Annotated[Account, Depends(require_role(Role.evaluation_body))]
CurrentCommittee = Annotated[Account, Depends(require_role(Role.committee))]
CurrentSupervisor = Annotated[Account, Depends(require_role(Role.supervisor))]


async def checked_form(request: Request) -> dict[str, str]:
    """The form's text fields, after its CSRF token matched the session's (403 otherwise).
    Its files stay in `await request.form()` (read once; Starlette keeps it)."""
    form = await request.form()
    if not csrf_matches(request.session.get("csrf"), form.get("csrf_token")):  # type: ignore[arg-type]
        raise HTTPException(403, "CSRF token missing or wrong")
    return {k: v for k, v in form.items() if isinstance(v, str)}


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


async def blind_declaration(code: str, portal: PortalDep) -> Any:
    """The declaration (its projection row) behind the path's anonymous `code`, among those
    with the evaluation body; 404 otherwise (portal/blind.py)."""
    return await blind_row(portal, code)


BlindDeclaration = Annotated[Any, Depends(blind_declaration)]
