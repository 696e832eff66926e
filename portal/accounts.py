"""Account records: create, find (the record database, store/accounts.py)."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from stdnum.cn import uscc as uscc_code

from models.common import Role
from portal.security import hash_password
from store.accounts import Account

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
) -> bool:
    """False when the username is taken (nothing changed)."""
    role = Role(role)
    if role is Role.system:
        raise AccountError("role system is the automation's, not a person's")
    if not username or len(username) > 64:
        raise AccountError("username: 1 to 64 characters")
    if len(password) < 8:
        raise AccountError("password: at least 8 characters")
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
    if await find_account(engine, username=username) is not None:
        return False
    async with engine.begin() as conn:
        await conn.execute(
            insert(Account).values(
                username=username,
                password_hash=hash_password(password),
                role=role.value,
                display_name=display_name or username,
                employer_uscc=employer_uscc,
                applicant_key=applicant_key,
            )
        )
    return True
