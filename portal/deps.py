"""What the portal's routes (portal/routers/) declare with `Depends`, from `app.state`
(portal.app.create_app): the shared context (`PortalDep`), the sessions (`SessionsDep`), the
login throttle, the client's address (`ClientAddress`), the upload store; for each role the
signed-in account (`CurrentEmployer`, ...: nobody is sent to the login page, another role gets
403) and its `Page` (`EmployerPage`, ...: the request, the context, the account and its
unread messages' count, for rendering; `AccountPage` for any role's); a form whose CSRF
token matched the session's (`CheckedForm`, 403 otherwise); the declaration behind a blind
code (`BlindDeclaration`, and `CommitteeDeclaration` for the committee's).

A route states its dependencies in the order they are checked: the account (or its page)
first, then the form (so a stranger is sent to the login page before any form is read), then
the record the route is about (for instance `OwnDeclaration` in portal/routers/employer.py:
404 for another employer's declaration). FastAPI runs them before it checks the route's own
path parameters.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time,
those of the dependencies made in a function (`page_of`) too.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from models.common import Role
from portal.blind import COMMITTEE_STAGES, blind_row
from portal.context import Portal, Refusal
from portal.security import LoginThrottle, client_address, csrf_matches
from portal.sessions import Sessions
from portal.uploads import UploadConfig, upload_config
from portal.verification import Verification
from store.accounts import Account, find_account
from store.inbox import unread_count
from store.observer_views import log_view


def get_portal(request: Request) -> Portal:
    return request.app.state.portal


PortalDep = Annotated[Portal, Depends(get_portal)]


def get_throttle(request: Request) -> LoginThrottle:
    return request.app.state.throttle


Throttle = Annotated[LoginThrottle, Depends(get_throttle)]


def get_sessions(request: Request) -> Sessions:
    return request.app.state.sessions


SessionsDep = Annotated[Sessions, Depends(get_sessions)]


def request_address(request: Request) -> str:
    """The client's address: X-Forwarded-For only from a trusted proxy
    (PORTAL_TRUSTED_PROXIES; portal.security.client_address)."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return client_address(peer, forwarded, request.app.state.trusted_proxies)


ClientAddress = Annotated[str, Depends(request_address)]


def get_verification(request: Request) -> Verification:
    return request.app.state.verification


VerificationDep = Annotated[Verification, Depends(get_verification)]


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


def require_any_role(*roles: Role) -> Callable[..., Awaitable[Account]]:
    """A dependency: the logged-in account, with one of `roles` (login page / 403)."""
    allowed = {role.value for role in roles}

    async def current(account: SignedIn) -> Account:
        if account is None:
            raise HTTPException(303, headers={"Location": "/login"})
        if account.role not in allowed:
            raise HTTPException(403, "这个页面不属于您的角色")
        return account

    current.__name__ = "current_" + "_or_".join(role.value for role in roles)
    return current


async def any_account(account: SignedIn) -> Account:
    """A dependency: the logged-in account, whatever its role (login page otherwise)."""
    if account is None:
        raise HTTPException(303, headers={"Location": "/login"})
    return account


@dataclass(frozen=True)
class Page:
    """What a role's page is made with: the request, the shared context and the account."""

    request: Request
    portal: Portal
    account: Account
    unread: int = 0  # the account's unread messages (store/inbox.py): the header's count

    def render(
        self, name: str, context: dict[str, Any], refusal: Refusal | None = None
    ) -> HTMLResponse:
        """The template with the account and its unread count (the header) and the session's
        CSRF token."""
        context = {"account": self.account, "inbox_unread": self.unread} | context
        return self.portal.render(self.request, name, context, refusal)


def page_of(current: Callable[..., Awaitable[Account]]) -> Callable[..., Awaitable[Page]]:
    """A dependency: the `Page` of the account that `current` (a require_role) admits."""

    async def page(
        request: Request, portal: PortalDep, account: Annotated[Account, Depends(current)]
    ) -> Page:
        if account.role == Role.observer.value:  # R26: each page an inspector opens
            path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            await log_view(portal.engine(), account.id, account.username, request.method, path)
        return Page(request, portal, account, await unread_count(portal.engine(), account))

    page.__name__ = f"page_of_{current.__name__}"
    return page


# One dependency function per role, shared by its `Current...` and `...Page`: FastAPI reads
# the account once per request.
_applicant = require_role(Role.applicant)
_employer = require_role(Role.employer)
_competent_unit = require_role(Role.competent_unit)
_evaluation_body = require_role(Role.evaluation_body)
_committee = require_role(Role.committee)
_supervisor = require_role(Role.supervisor)
_expert = require_role(Role.expert)
# R26: the supervisor's pages that only read are the observer's too (the discipline
# inspectors: every declaration, its audit trail, the refused attempts, the sessions)
_overseer = require_any_role(Role.supervisor, Role.observer)
# a committee session's page and record: the secretary's, the supervisor's, the observer's
_session_reader = require_any_role(Role.committee, Role.supervisor, Role.observer)

CurrentApplicant = Annotated[Account, Depends(_applicant)]
CurrentEmployer = Annotated[Account, Depends(_employer)]
CurrentCompetentUnit = Annotated[Account, Depends(_competent_unit)]
CurrentEvaluationBody = Annotated[Account, Depends(_evaluation_body)]
CurrentCommittee = Annotated[Account, Depends(_committee)]
CurrentSupervisor = Annotated[Account, Depends(_supervisor)]
CurrentExpert = Annotated[Account, Depends(_expert)]

ApplicantPage = Annotated[Page, Depends(page_of(_applicant))]
EmployerPage = Annotated[Page, Depends(page_of(_employer))]
CompetentUnitPage = Annotated[Page, Depends(page_of(_competent_unit))]
EvaluationBodyPage = Annotated[Page, Depends(page_of(_evaluation_body))]
CommitteePage = Annotated[Page, Depends(page_of(_committee))]
SupervisorPage = Annotated[Page, Depends(page_of(_supervisor))]
ExpertPage = Annotated[Page, Depends(page_of(_expert))]
OverseerPage = Annotated[Page, Depends(page_of(_overseer))]
SessionReaderPage = Annotated[Page, Depends(page_of(_session_reader))]
CurrentAccount = Annotated[Account, Depends(any_account)]
AccountPage = Annotated[Page, Depends(page_of(any_account))]


async def checked_form(request: Request) -> dict[str, str]:
    """The form's text fields, after its CSRF token matched the session's (403 otherwise).
    Its files stay in `await request.form()` (read once; Starlette keeps it)."""
    form = await request.form()
    token = form.get("csrf_token")  # a file under that name is no token
    if not isinstance(token, str) or not csrf_matches(request.session.get("csrf"), token):
        raise HTTPException(403, "页面已过期或表单不是从本系统的页面提交的，请刷新页面后重新提交。")
    return {k: v for k, v in form.items() if isinstance(v, str)}


CheckedForm = Annotated[dict[str, str], Depends(checked_form)]


async def blind_declaration(code: str, portal: PortalDep) -> Any:
    """The declaration (its projection row) behind the path's anonymous `code`, among those
    with the evaluation body; 404 otherwise (portal/blind.py)."""
    return await blind_row(portal, code)


BlindDeclaration = Annotated[Any, Depends(blind_declaration)]


async def committee_declaration(code: str, portal: PortalDep) -> Any:
    """The declaration behind the path's anonymous `code`, among those waiting for the
    committee; 404 otherwise."""
    return await blind_row(portal, code, COMMITTEE_STAGES)


CommitteeDeclaration = Annotated[Any, Depends(committee_declaration)]
