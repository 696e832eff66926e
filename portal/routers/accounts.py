"""An applicant's own account: registering it with a code sent to the mobile or the e-mail
address, and resetting its password the same way (portal/verification.py: the codes, their
limits; docs/security.md "Registration and password reset").

GET  /register, POST ...          name, ID card, mobile and/or e-mail, the password twice ->
                                  a code to the chosen address
POST /register/verify             the code -> the applicant account (username: the address)
POST /register/resend             a new code for the same details (the limits apply)
GET  /password/reset, POST ...    the address -> a code, when it is an account's (the same
                                  answer when it is not)
POST /password/reset/verify       the code and the new password twice -> every session of the
                                  account ends
POST /password/reset/resend       a new code

What the pages say of other people's accounts: nothing before the code is entered; after a
right code (the person holds the address), that the address, or the ID card, has an account
already (docs/portal.md, "Registering").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from models.accounts import AddressKind, Registration, address_username, normalized_address
from portal.context import Portal, Refusal, log
from portal.deps import CheckedForm, ClientAddress, PortalDep, Throttle, VerificationDep
from portal.field_errors import field_errors
from portal.routers.auth import password_problem
from portal.security import new_password_hash
from portal.verification import (
    REGISTER,
    RESET,
    Issued,
    Verification,
    masked_address,
    masked_id_card,
)
from rules.identity import applicant_key
from store.accounts import (
    Registered,
    find_account,
    find_by_address,
    register_applicant,
    set_password_hash,
)
from store.tables import utcnow
from store.verification import use_code

router = APIRouter()

REGISTRATION_FIELDS = {
    "name": "姓名",
    "id_card": "居民身份证号码",
    "mobile": "手机号码",
    "email": "电子邮箱",
    "send_to": "验证码发送至",
}
REGISTRATION_MESSAGES = {  # a field's own message for what its validator refuses
    "name": "请填写姓名。",
    "id_card": "身份证号码无效：请核对18位号码及最后一位校验码。",
    "mobile": "手机号码无效：请填写中国大陆手机号码。",
    "email": "电子邮箱格式不正确。",
}
KIND_ZH = {AddressKind.mobile: "手机号码", AddressKind.email: "电子邮箱"}
VIA_ZH = {
    AddressKind.mobile: "“新疆专业技术人员管理平台”微信公众号（绑定该手机号码的微信）",
    AddressKind.email: "电子邮件",
}
SHOWN = ("name", "id_card", "mobile", "email", "send_to")  # never the passwords
USED = "该验证码已使用或已失效，请重新获取验证码，或直接登录。"


def register_page(
    request: Request,
    portal: Portal,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    refusal: Refusal | None = None,
) -> HTMLResponse:
    if errors and refusal is None:
        refusal = Refusal(f"有{len(errors)}处填写有误，请按各项后的提示修改。", status=400)
    context = {"values": {k: values.get(k, "") for k in SHOWN}, "errors": errors or {}}
    return portal.render(request, "register.html", context, refusal)


def code_page(
    request: Request,
    portal: Portal,
    purpose: str,
    issued: Issued,
    pending: dict[str, Any],
    refusal: Refusal | None = None,
) -> HTMLResponse:
    """The page that asks for the code (and, for a reset, the new password)."""
    verification: Verification = request.app.state.verification
    context = {
        "token": issued.token,
        "shown_to": issued.shown_to,
        "via": VIA_ZH[AddressKind(pending.get("kind", "mobile"))],
        "minutes": int(verification.policy.lifetime.total_seconds() // 60),
    }
    name = "register_verify.html" if purpose == REGISTER else "password_reset_verify.html"
    return portal.render(request, name, context, refusal)


# --- registering -----------------------------------------------------------------------------


@router.get("/register", response_class=HTMLResponse)
async def register_form(request: Request, portal: PortalDep) -> Response:
    return register_page(request, portal, {"send_to": AddressKind.mobile.value})


@router.post("/register", response_class=HTMLResponse)
async def register(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    verification: VerificationDep,
    address: ClientAddress,
) -> Response:
    values = {k: form.get(k, "").strip() for k in SHOWN}
    data: dict[str, Any] = {k: v for k, v in values.items() if v or k in ("name", "id_card")}
    data.setdefault("send_to", "")
    errors: dict[str, str] = {}
    try:
        registration = Registration.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(
            exc.errors(include_url=False), REGISTRATION_FIELDS, REGISTRATION_MESSAGES
        )
        registration = None
    if registration is not None and registration.address is None:
        kind = registration.send_to
        errors[kind.value] = f"验证码将发送至{KIND_ZH[kind]}，请填写。"
    problem = password_problem(form.get("password", ""), form.get("password_again", ""), "密码")
    if problem:
        errors["password"] = problem
    if errors or registration is None or registration.address is None:
        return register_page(request, portal, values, errors)
    kind, to = registration.send_to, registration.address
    try:  # before the password is hashed: a refused request costs no argon2
        await verification.within_limits(to, address)
    except Refusal as refusal:
        return register_page(request, portal, values, refusal=refusal)
    key = applicant_key(registration.id_card, portal.settings.applicant_key_secret)
    pending = {
        "kind": kind.value,
        "address": to,
        "username": address_username(kind, to),
        "name": registration.name,
        "applicant_key": key,
        "id_card_sealed": portal.id_cards.seal(registration.id_card, bound_to=key),
        # only the address the code proves is the account's (the other one given could be
        # anyone's: kept, it would lock its owner out of registering with it)
        "mobile": to if kind is AddressKind.mobile else None,
        "email": to if kind is AddressKind.email else None,
        "password_hash": await new_password_hash(form.get("password", "")),
    }
    try:
        issued = await verification.issue(
            REGISTER, kind, to, address, recipient_name=registration.name, pending=pending
        )
    except Refusal as refusal:
        return register_page(request, portal, values, refusal=refusal)
    return code_page(request, portal, REGISTER, issued, pending)


@router.post("/register/verify", response_class=HTMLResponse)
async def register_verify(
    request: Request, portal: PortalDep, form: CheckedForm, verification: VerificationDep
) -> Response:
    token = form.get("token", "")
    try:
        row = await verification.check(REGISTER, token, form.get("code", ""))
    except Refusal as refusal:
        return await code_page_again(request, portal, verification, REGISTER, token, refusal)
    pending = row.pending or {}
    async with portal.engine().begin() as conn:
        if not await use_code(conn, row.id, utcnow()):  # the same form posted twice at once
            return register_page(request, portal, {}, refusal=Refusal(USED, status=400))
        outcome = await register_applicant(
            conn,
            username=pending["username"],
            password_hash=pending["password_hash"],
            display_name=pending["name"],
            applicant_key=pending["applicant_key"],
            id_card_sealed=pending["id_card_sealed"],
            mobile=pending["mobile"],
            email=pending["email"],
        )
    kind = AddressKind(pending["kind"])
    if outcome is Registered.address_taken:  # told only to whoever holds the address
        text = f"该{KIND_ZH[kind]}已注册过账户，请直接登录；忘记密码可通过“找回密码”重新设置。"
        return register_page(request, portal, {}, refusal=Refusal(text, outcome.value, 409))
    if outcome is Registered.applicant_taken:
        text = (
            "该身份证号码已注册过账户，请用原账户登录（忘记密码可通过“找回密码”重新设置）。"
            f"如该账户不是您本人注册的，请持本人身份证件联系：{portal.settings.document_contact}。"
        )
        return register_page(request, portal, {}, refusal=Refusal(text, outcome.value, 409))
    log.info("applicant account registered (code %s)", row.ref)
    context = {
        "username": pending["username"],
        "name": pending["name"],
        "id_card": masked_id_card(
            portal.id_cards.open(pending["id_card_sealed"], pending["applicant_key"])
        ),
    }
    return portal.render(request, "register_done.html", context)


async def code_page_again(
    request: Request,
    portal: Portal,
    verification: Verification,
    purpose: str,
    token: str,
    refusal: Refusal,
) -> HTMLResponse:
    """After a wrong code, the same code page again (its token still names the code); after
    a dead one, the first form (a new code is asked for there, or with resend)."""
    try:
        row = await verification.pending_code(purpose, token)
    except Refusal:
        row = None
    if row is None:
        if purpose == REGISTER:
            return register_page(request, portal, {}, refusal=refusal)
        return reset_page(request, portal, "", refusal=refusal)
    pending = row.pending or {}
    return code_page(request, portal, purpose, Issued(token, shown_of(pending)), pending, refusal)


def shown_of(pending: dict[str, Any]) -> str:
    return masked_address(pending.get("kind", "mobile"), pending.get("address", "?@?"))


async def resend(
    request: Request,
    portal: Portal,
    verification: Verification,
    purpose: str,
    token: str,
    address: str,
) -> HTMLResponse:
    """A new code for the details of an earlier one (its token), which stops working."""
    row = await verification.earlier_code(purpose, token)
    if row is None or not row.pending:
        refusal = Refusal(USED, "resend: unknown or used code", 400)
        if purpose == REGISTER:
            return register_page(request, portal, {}, refusal=refusal)
        return reset_page(request, portal, "", refusal=refusal)
    pending = row.pending
    try:
        issued = await verification.issue(
            purpose,
            AddressKind(pending["kind"]),
            pending["address"],
            address,
            recipient_name=pending.get("name", ""),
            pending=pending,
            account_id=row.account_id,
            send=purpose == REGISTER or row.account_id is not None,
        )
    except Refusal as refusal:
        return code_page(
            request, portal, purpose, Issued(token, shown_of(pending)), pending, refusal
        )
    return code_page(request, portal, purpose, issued, pending)


@router.post("/register/resend", response_class=HTMLResponse)
async def register_resend(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    verification: VerificationDep,
    address: ClientAddress,
) -> Response:
    return await resend(request, portal, verification, REGISTER, form.get("token", ""), address)


# --- resetting a password --------------------------------------------------------------------


def reset_page(
    request: Request,
    portal: Portal,
    address: str,
    errors: dict[str, str] | None = None,
    refusal: Refusal | None = None,
) -> HTMLResponse:
    if errors and refusal is None:
        refusal = Refusal(next(iter(errors.values())), status=400)
    context = {"address": address, "errors": errors or {}}
    return portal.render(request, "password_reset.html", context, refusal)


@router.get("/password/reset", response_class=HTMLResponse)
async def reset_form(request: Request, portal: PortalDep) -> Response:
    return reset_page(request, portal, "")


@router.post("/password/reset", response_class=HTMLResponse)
async def reset(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    verification: VerificationDep,
    address: ClientAddress,
) -> Response:
    """The same answer whether or not the address is an account's: a code is made and
    counted either way, and sent only to an account's address."""
    typed = form.get("address", "").strip()[:320]
    try:
        kind, to = normalized_address(typed)
    except ValueError:
        errors = {"address": "请填写注册时使用的手机号码或电子邮箱。"}
        return reset_page(request, portal, typed, errors)
    account = await find_by_address(portal.engine(), to)
    name = account.display_name if account is not None else ""
    pending = {"kind": kind.value, "address": to, "name": name}
    try:
        issued = await verification.issue(
            RESET,
            kind,
            to,
            address,
            recipient_name=name,
            pending=pending,
            account_id=account.id if account is not None else None,
            send=account is not None,
        )
    except Refusal as refusal:
        return reset_page(request, portal, typed, refusal=refusal)
    return code_page(request, portal, RESET, issued, pending)


@router.post("/password/reset/verify", response_class=HTMLResponse)
async def reset_verify(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    verification: VerificationDep,
    throttle: Throttle,
    address: ClientAddress,
) -> Response:
    token, new = form.get("token", ""), form.get("new_password", "")
    problem = password_problem(new, form.get("new_password_again", ""))
    if problem:  # said before the code is looked at: a typo costs no try
        refusal = Refusal(problem, "password", 400)
        return await code_page_again(request, portal, verification, RESET, token, refusal)
    try:
        row = await verification.check(RESET, token, form.get("code", ""))
    except Refusal as refusal:
        return await code_page_again(request, portal, verification, RESET, token, refusal)
    if row.account_id is None:  # cannot be right (nothing was sent); said as a wrong code
        return reset_page(request, portal, "", refusal=Refusal(USED, "no account", 400))
    password_hash = await new_password_hash(new)
    async with portal.engine().begin() as conn:
        if not await use_code(conn, row.id, utcnow()):
            return reset_page(request, portal, "", refusal=Refusal(USED, "used", 400))
        await set_password_hash(conn, row.account_id, password_hash)  # every session ends
    account = await find_account(portal.engine(), id=row.account_id)
    if account is not None:  # the address is proven: its login failures are forgiven
        await throttle.succeeded(portal.engine(), account.username, address)
    log.info("password reset (code %s)", row.ref)
    return portal.render(request, "password_reset_done.html", {})


@router.post("/password/reset/resend", response_class=HTMLResponse)
async def reset_resend(
    request: Request,
    portal: PortalDep,
    form: CheckedForm,
    verification: VerificationDep,
    address: ClientAddress,
) -> Response:
    return await resend(request, portal, verification, RESET, form.get("token", ""), address)
