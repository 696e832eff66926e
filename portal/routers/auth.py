"""Logging in and out, changing one's password, and the home page (each role's own).

GET  /                 the signed-in account's home page, else the login page
GET  /login, POST ...  the login form (throttled: portal.security.LoginThrottle); a login
                       makes a new session (portal/sessions.py: the id is rotated)
POST /logout           ends the session
GET  /account/password, POST ...  the password change (old password, the new one twice);
                       every session of the account ends, this browser gets a new one
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from models.accounts import address_username, normalized_address
from models.common import Role
from models.records import ROLE_HOME
from portal.context import Refusal
from portal.deps import (
    AccountPage,
    CheckedForm,
    ClientAddress,
    PortalDep,
    SessionsDep,
    SignedIn,
    Throttle,
    checked_form,
)
from portal.security import check_password, new_password_hash
from store.accounts import change_password_hash, find_account
from store.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

router = APIRouter()

TOO_MANY = "登录失败次数过多，请15分钟后再试。"


def login_name(typed: str) -> str:
    """The username of a self-registered account (its mobile's 11 digits, its e-mail in
    lower case: models/accounts.py) for what was typed; what was typed when it is neither."""
    try:
        return address_username(*normalized_address(typed))
    except ValueError:
        return typed


@router.get("/", response_class=HTMLResponse)
async def home(account: SignedIn) -> Response:
    if account is None:
        return RedirectResponse("/login", 303)
    return RedirectResponse(ROLE_HOME[Role(account.role)], 303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, portal: PortalDep) -> Response:
    return portal.render(request, "login.html", {"username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    throttle: Throttle,
    sessions: SessionsDep,
    address: ClientAddress,
) -> Response:
    username, password = form.get("username", "").strip()[:64], form.get("password", "")
    engine = portal.engine()
    if await throttle.blocked(engine, username, address):
        refusal = Refusal(TOO_MANY, status=429)
        return portal.render(request, "login.html", {"username": username}, refusal)
    account = await find_account(engine, username=username) if username else None
    if account is None and username:  # a registered address typed another way (+86, caps)
        account = await find_account(engine, username=login_name(username))
    too_long = len(password) > MAX_PASSWORD_LENGTH  # never hashed
    if too_long or not await check_password(account.password_hash if account else None, password):
        await throttle.failed(engine, username, address)
        refusal = Refusal("用户名或密码不正确。", status=401)
        return portal.render(request, "login.html", {"username": username}, refusal)
    assert account is not None
    await throttle.succeeded(engine, username, address)
    await sessions.begin(request, account.id)  # a new session id and CSRF token
    return RedirectResponse(ROLE_HOME[Role(account.role)], 303)


@router.post("/logout", dependencies=[Depends(checked_form)])
async def logout(request: Request, sessions: SessionsDep) -> Response:
    await sessions.end(request)
    return RedirectResponse("/login", 303)


# --- the password change ---------------------------------------------------------------------


@router.get("/account/password", response_class=HTMLResponse)
async def password_page(page: AccountPage) -> Response:
    return page.render("account_password.html", {})


def password_problem(new: str, again: str, what: str = "新密码") -> str | None:
    """What is wrong with a password chosen twice (a change, a registration, a reset)."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return f"{what}至少{MIN_PASSWORD_LENGTH}个字符。"
    if len(new) > MAX_PASSWORD_LENGTH:
        return f"{what}最多{MAX_PASSWORD_LENGTH}个字符。"
    if new != again:
        return f"两次输入的{what}不一致。"
    return None


def new_password_problem(old: str, new: str, again: str) -> str | None:
    problem = password_problem(new, again)
    if problem:
        return problem
    if new == old:
        return "新密码不能与原密码相同。"
    return None


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(
    page: AccountPage,
    form: CheckedForm,
    throttle: Throttle,
    sessions: SessionsDep,
    address: ClientAddress,
) -> Response:
    """The old password is checked like a login (a wrong one counts as a failed login of the
    account, and a throttled account cannot change it); then every session of the account
    ends, this browser's too, and this browser gets a new one."""
    old, new = form.get("old_password", ""), form.get("new_password", "")
    again = form.get("new_password_again", "")
    account, engine = page.account, page.portal.engine()
    if await throttle.blocked(engine, account.username, address):
        return page.render("account_password.html", {}, Refusal(TOO_MANY, status=429))
    right = len(old) <= MAX_PASSWORD_LENGTH and await check_password(account.password_hash, old)
    if not right:
        await throttle.failed(engine, account.username, address)
        return page.render("account_password.html", {}, Refusal("原密码不正确。", status=400))
    problem = new_password_problem(old, new, again)
    if problem:
        return page.render("account_password.html", {}, Refusal(problem, status=400))
    await change_password_hash(engine, account.id, await new_password_hash(new))
    await sessions.begin(page.request, account.id)
    return page.render("account_password.html", {"changed": True})
