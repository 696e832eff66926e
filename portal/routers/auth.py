"""Logging in and out, and the home page (each role's own).

GET  /                 the signed-in account's home page, else the login page
GET  /login, POST ...  the login form (throttled: portal.security.LoginThrottle)
POST /logout           ends the session
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.common import Role
from portal.context import Refusal
from portal.deps import CheckedForm, PortalDep, SignedIn, Throttle, checked_form
from portal.security import new_csrf_token
from store.accounts import find_account
from store.passwords import verify_password

router = APIRouter()

HOME = {
    Role.applicant: "/applicant",
    Role.employer: "/employer",
    Role.evaluation_body: "/evaluation",
    Role.supervisor: "/supervisor",
    Role.competent_unit: "/competent-unit",
    Role.committee: "/committee",
}


@router.get("/", response_class=HTMLResponse)
async def home(account: SignedIn) -> Response:
    if account is None:
        return RedirectResponse("/login", 303)
    return RedirectResponse(HOME[Role(account.role)], 303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, portal: PortalDep) -> Response:
    return portal.render(request, "login.html", {"username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, portal: PortalDep, form: CheckedForm, throttle: Throttle
) -> Response:
    username, password = form.get("username", "").strip(), form.get("password", "")
    address = request.client.host if request.client else "?"
    if throttle.blocked(username, address):
        refusal = Refusal("登录失败次数过多，请15分钟后再试。", status=429)
        return portal.render(request, "login.html", {"username": username}, refusal)
    account = await find_account(portal.engine(), username=username)
    if not verify_password(account.password_hash if account else None, password):
        throttle.failed(username, address)
        refusal = Refusal("用户名或密码不正确。", status=401)
        return portal.render(request, "login.html", {"username": username}, refusal)
    throttle.succeeded(username, address)
    request.session.clear()  # a fresh session (and CSRF token) at login
    request.session.update(uid=account.id, csrf=new_csrf_token())
    return RedirectResponse(HOME[Role(account.role)], 303)


@router.post("/logout", dependencies=[Depends(checked_form)])
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", 303)
