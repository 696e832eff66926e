"""R26: every page a discipline inspector (the observer role) opens, logged: who, which page
(path and query), when. Append-only; the supervisor's record of the supervision itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class ObserverView(Base):
    __tablename__ = "observer_views"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[int]
    username: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)  # with its query
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


async def log_view(
    engine: AsyncEngine, account_id: int, username: str, method: str, path: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            ObserverView.__table__.insert().values(
                account_id=account_id, username=username, method=method, path=path[:2000],
                viewed_at=utcnow(),
            )
        )  # fmt: skip


async def views_of(engine: AsyncEngine, username: str) -> list[tuple[str, str]]:
    """An observer's views, oldest first: (method, path)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(ObserverView.method, ObserverView.path)
            .where(ObserverView.username == username)
            .order_by(ObserverView.id)
        )
        return [(method, path) for method, path in rows]
