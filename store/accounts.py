"""Portal accounts: who may log in, in which role, bound to what.

An employer account is bound to one employer by its unified social credit code; an applicant
account to one applicant by the applicant key (rules.identity). An applicant account that has
the ID-card number (self-registered, or made with it) keeps it sealed (AES-GCM,
client/codec.py FieldCipher, bound to the applicant key) to prefill the declaration form, and
the addresses it registered with (docs/security.md "Personal data at rest")."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column
from stdnum.cn import uscc as uscc_code

from models.common import Role
from rules.assignment import organisation_key
from store.experts import Expert
from store.passwords import MIN_PASSWORD_LENGTH, hash_password
from store.sessions import end_account_sessions
from store.tables import Base, utcnow


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("mobile", name="uq_accounts_mobile"),
        UniqueConstraint("email", name="uq_accounts_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id (portal.security)
    role: Mapped[str] = mapped_column(String(32))  # models.common.Role, never "system"
    display_name: Mapped[str] = mapped_column(String(100), default="")
    employer_uscc: Mapped[str | None] = mapped_column(String(18))  # employer accounts only
    expert_code: Mapped[str | None] = mapped_column(String(16))  # expert accounts only (E0001)
    applicant_key: Mapped[str | None] = mapped_column(String(64))  # applicant accounts only
    # the ID-card number sealed under the applicant key (client/codec.py FieldCipher); NULL
    # for accounts made without it
    id_card_sealed: Mapped[str | None] = mapped_column(String(200))
    # the addresses an applicant registered with (models/accounts.py forms: E.164, lower
    # case): a password reset's code goes to them; one account per address
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- creating and finding accounts (the command line, the portal) ---------------------------

PEOPLE_ROLES = [role for role in Role if role is not Role.system]


class AccountError(ValueError):
    pass


async def find_account(engine: AsyncEngine, *, username: str | None = None, id: int | None = None):
    async with engine.connect() as conn:
        column, value = (Account.username, username) if id is None else (Account.id, id)
        row = (await conn.execute(select(Account).where(column == value))).first()
    return row


async def create_account(
    engine: AsyncEngine,
    *,
    role: Role | str,
    username: str,
    password: str,
    display_name: str = "",
    employer_uscc: str | None = None,
    applicant_key: str | None = None,
    id_card_sealed: str | None = None,
    expert_code: str | None = None,
) -> bool:
    """False when the username is taken (nothing changed). `id_card_sealed`: the applicant's
    ID-card number sealed under `applicant_key` (client/codec.py FieldCipher); `expert_code`:
    an expert account's pool code (store/experts.py), which must exist."""
    role = Role(role)
    if role is Role.system:
        raise AccountError("role system is the automation's, not a person's")
    if not username or len(username) > 64:
        raise AccountError("username: 1 to 64 characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if role is Role.employer:
        if not employer_uscc:
            raise AccountError("an employer account needs --uscc (统一社会信用代码)")
        try:
            employer_uscc = uscc_code.validate(employer_uscc)
        except Exception as exc:
            raise AccountError(f"--uscc: not a valid unified social credit code: {exc}") from None
    elif employer_uscc:
        raise AccountError("--uscc is for employer accounts only")
    if role is Role.applicant and not applicant_key:
        raise AccountError("an applicant account needs --id-card (its applicant key is stored)")
    if role is not Role.applicant and applicant_key:
        raise AccountError("--id-card is for applicant accounts only")
    if role is Role.expert and not expert_code:
        raise AccountError("an expert account needs --expert-code (the pool's E0001)")
    if role is not Role.expert and expert_code:
        raise AccountError("--expert-code is for expert accounts only")
    if await find_account(engine, username=username) is not None:
        return False
    async with engine.begin() as conn:
        if expert_code is not None:
            known = await conn.scalar(select(Expert.code).where(Expert.code == expert_code))
            if known is None:
                raise AccountError(f"--expert-code: no expert {expert_code} in the pool")
        await conn.execute(
            insert(Account).values(
                username=username,
                password_hash=hash_password(password),
                role=role.value,
                display_name=display_name or username,
                employer_uscc=employer_uscc,
                applicant_key=applicant_key,
                id_card_sealed=id_card_sealed if applicant_key else None,
                expert_code=expert_code,
            )
        )
    return True


async def find_by_address(engine: AsyncEngine, address: str) -> Any:
    """The account that registered `address` as its mobile or e-mail (models/accounts.py
    forms); None otherwise. A username that looks like an address is no registered address."""
    query = select(Account).where(or_(Account.mobile == address, Account.email == address))
    async with engine.connect() as conn:
        return (await conn.execute(query.limit(1))).first()


class Registered(StrEnum):
    """What registering an applicant account came to."""

    created = "created"
    address_taken = "address_taken"  # an account has this address or username already
    applicant_taken = "applicant_taken"  # an account is bound to this applicant key already


async def register_applicant(
    conn: AsyncConnection,
    *,
    username: str,
    password_hash: str,
    display_name: str,
    applicant_key: str,
    id_card_sealed: str,
    mobile: str | None,
    email: str | None,
) -> Registered:
    """A self-registered applicant account, in the caller's transaction (the verification
    code is used up in it too): one account per applicant key and per address."""
    addresses = [a for a in (username, mobile, email) if a]
    taken = select(Account.id).where(
        or_(
            Account.username.in_(addresses),
            Account.mobile.in_(addresses),
            Account.email.in_(addresses),
        )
    )
    if (await conn.execute(taken.limit(1))).first() is not None:
        return Registered.address_taken
    bound = select(Account.id).where(Account.applicant_key == applicant_key)
    if (await conn.execute(bound.limit(1))).first() is not None:
        return Registered.applicant_taken
    await conn.execute(
        insert(Account).values(
            username=username,
            password_hash=password_hash,
            role=Role.applicant.value,
            display_name=display_name,
            applicant_key=applicant_key,
            id_card_sealed=id_card_sealed,
            mobile=mobile,
            email=email,
        )
    )
    return Registered.created


async def change_password_hash(engine: AsyncEngine, account_id: int, password_hash: str) -> None:
    """The account's new password (hashed by the caller: store.passwords.hash_password, off
    the event loop); every session of the account ends with it, in the same transaction."""
    async with engine.begin() as conn:
        await set_password_hash(conn, account_id, password_hash)


async def set_password_hash(conn: AsyncConnection, account_id: int, password_hash: str) -> None:
    """change_password_hash in the caller's transaction (a reset uses its code up in it)."""
    await conn.execute(
        update(Account).where(Account.id == account_id).values(password_hash=password_hash)
    )
    await end_account_sessions(conn, account_id)


async def display_names(engine: AsyncEngine, actor_ids: Iterable[str]) -> dict[str, str]:
    """R26 ("谁审核、谁负责"): the person behind each portal actor id (`role:username`, the
    portal's actor of an update) by the account's display name; ids of no account are left
    out (the command line's operators, the system)."""
    wanted = {}
    for actor_id in actor_ids:
        role, _, username = actor_id.partition(":")
        if username:
            wanted[username] = (role, actor_id)
    if not wanted:
        return {}
    query = select(Account.username, Account.role, Account.display_name).where(
        Account.username.in_(list(wanted))
    )
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    return {
        wanted[r.username][1]: r.display_name for r in found if str(r.role) == wanted[r.username][0]
    }


async def colleagues(engine: AsyncEngine, role: Role | str, organisation: str) -> list[Any]:
    """R26 (转办): the accounts of one organisation (`role` and its organisation key,
    rules/assignment.py organisation_key), by display name then username: whom a declaration
    can be handed to. The key of a competent unit is its accounts' display name, so those
    are compared after reading (surrounding blanks ignored)."""
    role = Role(role)
    query = select(Account).where(Account.role == role.value)
    if role is Role.employer:
        query = query.where(Account.employer_uscc == organisation)
    async with engine.connect() as conn:
        found = (await conn.execute(query)).all()
    same = [
        r for r in found if organisation_key(role, r.employer_uscc, r.display_name) == organisation
    ]
    return sorted(same, key=lambda r: (r.display_name, r.username))
