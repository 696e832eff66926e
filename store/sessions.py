"""The portal's server-side sessions and its failed logins, in the record database (so every
portal replica sees the same ones; the policy is portal/sessions.py's and portal/security.py's).

A session's cookie holds only a random id (`new_session_id`); a row keeps its SHA-256
(`session_hash`), the account, the session's CSRF token and when it began and was last used:
a reader of the database cannot turn a row back into a cookie. A failed login is one row per
key it counts against (an account's, a client address's: `failure_key`), hashed too, so that
what was typed as a username is not kept.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base


class PortalSession(Base):
    """One signed-in browser: from its login until its logout, its account's password
    change, or its idle or absolute timeout."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_account", "account_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the id
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    csrf: Mapped[str] = mapped_column(String(64))  # the session's CSRF token
    created_at: Mapped[datetime]  # the login: the absolute timeout counts from it
    last_seen_at: Mapped[datetime]  # the idle timeout counts from it (updated now and then)


class LoginFailure(Base):
    """One failed login, counted against one key (`failure_key`) until it is older than the
    throttle's window."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_key_at", "key", "at"),
        Index("ix_login_failures_at", "at"),
    )

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]


# --- sessions --------------------------------------------------------------------------------


def new_session_id() -> str:
    """A session id for the cookie: 256 random bits."""
    return secrets.token_urlsafe(32)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def create_session(
    engine: AsyncEngine, account_id: int, csrf: str, now: datetime, *, replaces: str | None = None
) -> str:
    """A new session of `account_id`; its id (for the cookie). `replaces`: the id of the
    browser's session before (a login over a session, a password change), ended in the same
    transaction."""
    session_id = new_session_id()
    async with engine.begin() as conn:
        if replaces:
            await conn.execute(
                delete(PortalSession).where(PortalSession.id_hash == session_hash(replaces))
            )
        await conn.execute(
            insert(PortalSession).values(
                id_hash=session_hash(session_id),
                account_id=account_id,
                csrf=csrf,
                created_at=now,
                last_seen_at=now,
            )
        )
    return session_id


async def find_session(engine: AsyncEngine, session_id: str) -> Any:
    """The session's row (id_hash, account_id, csrf, created_at, last_seen_at), or None."""
    async with engine.connect() as conn:
        query = select(PortalSession.__table__).where(
            PortalSession.id_hash == session_hash(session_id)
        )
        return (await conn.execute(query)).first()


async def touch_session(engine: AsyncEngine, id_hash: str, now: datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(PortalSession).where(PortalSession.id_hash == id_hash).values(last_seen_at=now)
        )


async def end_session(engine: AsyncEngine, session_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            delete(PortalSession).where(PortalSession.id_hash == session_hash(session_id))
        )


async def end_account_sessions(conn: AsyncConnection, account_id: int) -> None:
    """Every session of the account (in the caller's transaction: a password change)."""
    await conn.execute(delete(PortalSession).where(PortalSession.account_id == account_id))


async def end_expired_sessions(
    engine: AsyncEngine, *, idle_before: datetime, created_before: datetime
) -> None:
    """The sessions idle since before `idle_before` or begun before `created_before`."""
    async with engine.begin() as conn:
        await conn.execute(
            delete(PortalSession).where(
                or_(
                    PortalSession.last_seen_at < idle_before,
                    PortalSession.created_at < created_before,
                )
            )
        )


# --- failed logins ---------------------------------------------------------------------------


def failure_key(kind: str, value: str) -> str:
    """What a failed login counts against: `kind` (account, address) and its value, hashed."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


async def count_failures(
    engine: AsyncEngine, keys: Iterable[str], since: datetime
) -> dict[str, int]:
    """The failures since `since` of each key (0 for a key without any)."""
    wanted = list(keys)
    async with engine.connect() as conn:
        query = (
            select(LoginFailure.key, func.count())
            .where(LoginFailure.key.in_(wanted), LoginFailure.at > since)
            .group_by(LoginFailure.key)
        )
        counted = {key: int(count) for key, count in (await conn.execute(query)).all()}
    return {key: counted.get(key, 0) for key in wanted}


async def record_failure(
    engine: AsyncEngine, keys: Iterable[str], now: datetime, *, forget_before: datetime
) -> None:
    """One failure against each key; failures older than `forget_before` are deleted."""
    async with engine.begin() as conn:
        await conn.execute(insert(LoginFailure), [{"key": key, "at": now} for key in keys])
        await conn.execute(delete(LoginFailure).where(LoginFailure.at < forget_before))


async def clear_failures(engine: AsyncEngine, key: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(LoginFailure).where(LoginFailure.key == key))
