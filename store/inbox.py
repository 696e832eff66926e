"""The in-portal inbox (站内消息): every account reads the outbox's messages addressed to its
organisation or person, and marks them read, each account for itself (`inbox_reads`).

Which messages an account sees (docs/portal.md, "The inbox"), from the outbox row's
recipient role and, for an organisation with many accounts of that role, its key:

- an applicant: the applicant's messages of the declarations with its applicant key (the
  projection's `applicant_key`), never another applicant's;
- an employer: the employer's messages whose `organisation` is its USCC;
- a competent unit: the competent unit's messages whose `organisation` is its name (the
  account's display name, as the declarations spell it: the recipients file's key too);
- the evaluation body, the committee, the supervisor: every message to that role (there is
  one of each). Their messages were made blind (workflows/records.py common_context).

The rows are written whether or not e-mail or WeChat are configured (delivery/outbox.py), so
the inbox holds every message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    String,
    and_,
    false,
    func,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.common import Role
from store.tables import Base, DeclarationRow, OutboxMessage, utcnow

PER_PAGE = 20  # messages a page


class InboxRead(Base):
    """One account has read one message (its first reading)."""

    __tablename__ = "inbox_reads"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    message_key: Mapped[str] = mapped_column(
        String(300), ForeignKey("notification_outbox.key", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


# Roles of which there is one organisation: all their messages are theirs.
SINGLE_ROLES = frozenset({Role.evaluation_body, Role.committee, Role.supervisor})


def addressed_to(account: Any) -> ColumnElement[bool]:
    """The outbox rows `account` (a row of `accounts`) may read."""
    role = Role(account.role)
    is_role = OutboxMessage.recipient_role == role.value
    if role in SINGLE_ROLES:
        return is_role
    if role is Role.applicant and account.applicant_key:
        own = select(DeclarationRow.workflow_id).where(
            DeclarationRow.applicant_key == account.applicant_key
        )
        return and_(is_role, OutboxMessage.workflow_id.in_(own))
    if role is Role.employer and account.employer_uscc:
        return and_(is_role, OutboxMessage.organisation == account.employer_uscc)
    if role is Role.competent_unit and (account.display_name or "").strip():
        return and_(is_role, OutboxMessage.organisation == account.display_name.strip())
    return false()


class InboxMessage(NamedTuple):
    key: str
    workflow_id: str
    event: str
    subject: str
    body: str
    created_at: datetime
    read: bool


class InboxPage(NamedTuple):
    messages: list[InboxMessage]
    total: int
    unread: int
    page: int
    pages: int


def _is_read(account_id: int) -> Any:
    return (
        select(InboxRead.message_key)
        .where(InboxRead.account_id == account_id, InboxRead.message_key == OutboxMessage.key)
        .exists()
    )


async def unread_count(engine: AsyncEngine, account: Any) -> int:
    """How many of the account's messages it has not read (the header's count)."""
    query = select(func.count()).where(addressed_to(account), ~_is_read(account.id))
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def inbox_page(
    engine: AsyncEngine, account: Any, page: int = 1, per_page: int = PER_PAGE
) -> InboxPage:
    """The `page`-th page of the account's messages, newest first (a page past the last is
    the last)."""
    mine = addressed_to(account)
    async with engine.connect() as conn:
        total = int((await conn.execute(select(func.count()).where(mine))).scalar_one())
        unread = int(
            (
                await conn.execute(select(func.count()).where(mine, ~_is_read(account.id)))
            ).scalar_one()
        )
        pages = max(1, -(-total // per_page))
        page = min(max(page, 1), pages)
        query = (
            select(
                OutboxMessage.key,
                OutboxMessage.workflow_id,
                OutboxMessage.event,
                OutboxMessage.subject,
                OutboxMessage.body,
                OutboxMessage.created_at,
                _is_read(account.id).label("read"),
            )
            .where(mine)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.key.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        rows = (await conn.execute(query)).all()
    messages = [
        InboxMessage(
            key=row.key,
            workflow_id=row.workflow_id,
            event=row.event,
            subject=row.subject,
            body=row.body,
            created_at=row.created_at,
            read=bool(row.read),
        )
        for row in rows
    ]
    return InboxPage(messages, total, unread, page, pages)


async def unread_keys(engine: AsyncEngine, account: Any) -> list[str]:
    """The keys of the account's unread messages."""
    query = select(OutboxMessage.key).where(addressed_to(account), ~_is_read(account.id))
    async with engine.connect() as conn:
        return list((await conn.execute(query)).scalars())


async def mark_read(engine: AsyncEngine, account: Any, keys: list[str] | None = None) -> int:
    """Mark the account's messages `keys` (None: all of them) read; a key that is not the
    account's is left alone, one read already is kept as it was. Returns how many became read."""
    query = select(OutboxMessage.key).where(addressed_to(account), ~_is_read(account.id))
    if keys is not None:
        query = query.where(OutboxMessage.key.in_(keys))
    try:
        async with engine.begin() as conn:
            wanted = list((await conn.execute(query)).scalars())
            if wanted:
                now = utcnow()
                rows = [
                    {"account_id": account.id, "message_key": k, "read_at": now} for k in wanted
                ]
                await conn.execute(insert(InboxRead), rows)
    except IntegrityError:  # the same account marked them at the same moment (another tab)
        return 0
    return len(wanted)
