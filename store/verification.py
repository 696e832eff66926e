"""Verification codes sent to a mobile or an e-mail address (registration, password reset:
the policy is portal/verification.py's), in the record database so that every portal replica
sees the same codes, tries and sends.

A row is one code sent (or, for a password reset to an unknown address, one that was not
sent but is counted the same). It keeps only hashes of what a person types or is identified
by: the browser's token (`token_hash`, SHA-256), the code (`code_hash`, keyed), the address
and the client's address (`address_key`, `client_key`, keyed by the caller), never the code
or the address themselves. A registration's details wait in `pending` until the code is
entered (the ID-card number sealed, the password as its argon2 hash) and are cleared then.
Rows are deleted a day after they were made.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base


class VerificationCode(Base):
    """One code sent to an address for a purpose (`register`, `reset`)."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        Index("ix_verification_codes_address", "address_key", "created_at"),
        Index("ix_verification_codes_client", "client_key", "created_at"),
        Index("ix_verification_codes_created", "created_at"),
    )

    # BIGINT on PostgreSQL; SQLite autoincrements only an INTEGER PRIMARY KEY
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # the browser's token
    ref: Mapped[str] = mapped_column(String(32))  # its outbox message: account-{ref}/...
    purpose: Mapped[str] = mapped_column(String(16))
    address_key: Mapped[str] = mapped_column(String(64))
    client_key: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))  # entries
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]  # entered right, or replaced by a newer code
    # a reset's account (NULL: the address is no account's, and nothing was sent)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    pending: Mapped[dict[str, Any] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=True
    )


KEEP_ROWS_HOURS = 24


async def sends_since(
    engine: AsyncEngine, address_key: str, client_key: str, since: datetime
) -> tuple[int, int, datetime | None]:
    """Codes made since `since`: (for this address, from this client, the latest for this
    address, whenever it was made)."""
    async with engine.connect() as conn:
        by_address = await conn.scalar(
            select(func.count()).where(
                VerificationCode.address_key == address_key, VerificationCode.created_at > since
            )
        )
        by_client = await conn.scalar(
            select(func.count()).where(
                VerificationCode.client_key == client_key, VerificationCode.created_at > since
            )
        )
        latest = await conn.scalar(
            select(func.max(VerificationCode.created_at)).where(
                VerificationCode.address_key == address_key
            )
        )
    return int(by_address or 0), int(by_client or 0), latest


async def add_code(conn: AsyncConnection, row: dict[str, Any], now: datetime) -> None:
    """A new code, in the caller's transaction (with its outbox row): the address's earlier
    codes of the same purpose stop working, and rows older than a day go."""
    await conn.execute(
        update(VerificationCode)
        .where(
            VerificationCode.address_key == row["address_key"],
            VerificationCode.purpose == row["purpose"],
            VerificationCode.used_at.is_(None),
        )
        .values(used_at=now, pending=None)
    )
    cutoff = now - timedelta(hours=KEEP_ROWS_HOURS)
    await conn.execute(delete(VerificationCode).where(VerificationCode.created_at < cutoff))
    await conn.execute(insert(VerificationCode).values(created_at=now, **row))


async def find_code(engine: AsyncEngine, token_hash: str) -> Any:
    async with engine.connect() as conn:
        query = select(VerificationCode.__table__).where(VerificationCode.token_hash == token_hash)
        return (await conn.execute(query)).first()


async def take_try(engine: AsyncEngine, code_id: int, tries: int) -> int | None:
    """One entry of the code counted before it is compared (so that entries arriving at once
    cannot pass the limit): the entries now, or None when its `tries` were used up."""
    async with engine.begin() as conn:
        result = await conn.execute(
            update(VerificationCode)
            .where(VerificationCode.id == code_id, VerificationCode.attempts < tries)
            .values(attempts=VerificationCode.attempts + 1)
            .returning(VerificationCode.attempts)
        )
        found = result.first()
    return None if found is None else int(found[0])


async def use_code(conn: AsyncConnection, code_id: int, now: datetime) -> bool:
    """The code used up, in the caller's transaction; False when it was used (or replaced)
    before, e.g. by the same form posted twice at once: only one of them goes on."""
    result = await conn.execute(
        update(VerificationCode)
        .where(VerificationCode.id == code_id, VerificationCode.used_at.is_(None))
        .values(used_at=now, pending=None)
        .returning(VerificationCode.id)
    )
    return result.first() is not None
