"""The ballot box of a committee session (R20, R27: 无记名投票, no proxy or later votes).

Ballots go here through the portal, not as Temporal updates (a 25-member session on 100
declarations is 2,500 ballots; a workflow takes 2,000 updates in all). Three tables:

- `committee_ballot_boxes`: one row per session, `open` from the session's opening (written by
  its workflow, with the register) until it is `closed` (by its workflow, which then counts).
- `committee_voters`: the register, one row per (session, declaration, member) who may vote on
  it (signed in, not recused), and whether they have: participation is recorded, and a
  member votes once.
- `committee_ballots`: the ballots, each a random id, the session, the declaration and the
  choice, and nothing else: no member, no time, no sequence. Nobody, the secretary and the
  supervisor included, can tell from the record how a member voted (docs/committee.md, "How
  the ballots stay secret").

Casting is one transaction: the box's row is read with a share lock (PostgreSQL: FOR SHARE),
the voter's row is marked voted only if it was not, and the ballot is added; closing updates
the box's row, which waits for the casts in flight, so a ballot either counts or is refused
"closed" — never lost, never counted after the close."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.committee import BallotRegister, BoxCount, BoxCounts, Choice
from store.tables import Base, utcnow


class SessionEntry(Base):
    """Each committee session started (client/committee.py start_session), so that the
    portal lists a round's sessions and an expert's without the server's visibility store."""

    __tablename__ = "committee_sessions"

    workflow_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    session_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BallotBox(Base):
    __tablename__ = "committee_ballot_boxes"

    session: Mapped[str] = mapped_column(String(100), primary_key=True)  # its workflow id
    status: Mapped[str] = mapped_column(String(16))  # open, closed
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class Voter(Base):
    __tablename__ = "committee_voters"

    session: Mapped[str] = mapped_column(
        String(100),
        ForeignKey("committee_ballot_boxes.session", ondelete="CASCADE"),
        primary_key=True,
    )
    workflow_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    voted: Mapped[bool] = mapped_column(Boolean, default=False)


class Ballot(Base):
    __tablename__ = "committee_ballots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, unordered
    session: Mapped[str] = mapped_column(
        String(100), ForeignKey("committee_ballot_boxes.session", ondelete="CASCADE"), index=True
    )
    workflow_id: Mapped[str] = mapped_column(String(200))
    choice: Mapped[str] = mapped_column(String(8))  # models.committee.Choice


class BoxStatus(StrEnum):
    open = "open"
    closed = "closed"


class BallotRefused(Exception):
    """Why a ballot was not taken; `reason` is one of the class's constants."""

    NO_SESSION = "no_session"  # the session is not open yet
    CLOSED = "closed"  # the session has closed: no later votes
    NOT_A_VOTER = "not_a_voter"  # not signed in, recused, or not a declaration of the session
    ALREADY_VOTED = "already_voted"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def open_box(engine: AsyncEngine, register: BallotRegister) -> bool:
    """The session's box and register, once: a retry finds them and writes nothing (False)."""
    try:
        async with engine.begin() as conn:
            await conn.execute(
                BallotBox.__table__.insert().values(
                    session=register.session, status=BoxStatus.open.value, opened_at=utcnow()
                )
            )
            rows = [
                {"session": register.session, "workflow_id": wf, "code": code, "voted": False}
                for wf, codes in register.voters.items()
                for code in codes
            ]
            if rows:
                await conn.execute(Voter.__table__.insert(), rows)
    except IntegrityError:
        return False
    return True


async def cast(
    engine: AsyncEngine, session: str, code: str, workflow_id: str, choice: Choice
) -> None:
    """One member's ballot on one declaration, or BallotRefused (nothing written)."""
    async with engine.begin() as conn:
        box = select(BallotBox.status).where(BallotBox.session == session)
        if conn.dialect.name == "postgresql":
            box = box.with_for_update(read=True)
        status = (await conn.execute(box)).scalar_one_or_none()
        if status is None:
            raise BallotRefused(BallotRefused.NO_SESSION)
        if status != BoxStatus.open.value:
            raise BallotRefused(BallotRefused.CLOSED)
        marked = await conn.execute(
            update(Voter)
            .where(
                Voter.session == session,
                Voter.workflow_id == workflow_id,
                Voter.code == code,
                Voter.voted.is_(False),
            )
            .values(voted=True)
        )
        if marked.rowcount != 1:
            listed = await conn.execute(
                select(Voter.voted).where(
                    Voter.session == session, Voter.workflow_id == workflow_id, Voter.code == code
                )
            )
            raise BallotRefused(
                BallotRefused.NOT_A_VOTER
                if listed.scalar_one_or_none() is None
                else BallotRefused.ALREADY_VOTED
            )
        await conn.execute(
            Ballot.__table__.insert().values(
                id=secrets.token_hex(16),
                session=session,
                workflow_id=workflow_id,
                choice=Choice(choice).value,
            )
        )


async def close_box(engine: AsyncEngine, session: str) -> BoxCounts:
    """Close the box (once; a retry only counts again) and count each declaration's ballots."""
    async with engine.begin() as conn:
        await conn.execute(
            update(BallotBox)
            .where(BallotBox.session == session, BallotBox.status == BoxStatus.open.value)
            .values(status=BoxStatus.closed.value, closed_at=utcnow())
        )
        eligible = await conn.execute(
            select(Voter.workflow_id, func.count())
            .where(Voter.session == session)
            .group_by(Voter.workflow_id)
        )
        choices = await conn.execute(
            select(Ballot.workflow_id, Ballot.choice, func.count())
            .where(Ballot.session == session)
            .group_by(Ballot.workflow_id, Ballot.choice)
        )
        counted: dict[str, dict[str, int]] = {}
        for workflow_id, choice, count in choices:
            counted.setdefault(workflow_id, {})[choice] = count
    counts = [
        BoxCount(
            workflow_id=workflow_id,
            eligible=voters,
            yes=counted.get(workflow_id, {}).get(Choice.yes.value, 0),
            no=counted.get(workflow_id, {}).get(Choice.no.value, 0),
            abstain=counted.get(workflow_id, {}).get(Choice.abstain.value, 0),
        )
        for workflow_id, voters in sorted(eligible)
    ]
    return BoxCounts(session=session, counts=counts)


async def register_session(
    engine: AsyncEngine, workflow_id: str, year: int, session_id: str
) -> None:
    """The session in the registry, once (a second start finds it there)."""
    row = {"workflow_id": workflow_id, "year": year, "session_id": session_id}
    try:
        async with engine.begin() as conn:
            await conn.execute(SessionEntry.__table__.insert().values(**row, created_at=utcnow()))
    except IntegrityError:
        return


async def session_years(engine: AsyncEngine) -> list[int]:
    """The years that have sessions, newest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SessionEntry.year).distinct().order_by(SessionEntry.year.desc())
        )
        return list(rows.scalars())


async def sessions_of_year(engine: AsyncEngine, year: int) -> list[str]:
    """The workflow ids of the round's sessions, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(SessionEntry.workflow_id)
            .where(SessionEntry.year == year)
            .order_by(SessionEntry.created_at, SessionEntry.workflow_id)
        )
        return list(rows.scalars())


async def box_status(engine: AsyncEngine, session: str) -> BoxStatus | None:
    async with engine.connect() as conn:
        found = await conn.execute(select(BallotBox.status).where(BallotBox.session == session))
        status = found.scalar_one_or_none()
    return BoxStatus(status) if status else None


async def participation(engine: AsyncEngine, session: str) -> dict[str, dict[str, bool]]:
    """Per declaration, each member who may vote on it and whether they did (never how)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(Voter.workflow_id, Voter.code, Voter.voted).where(Voter.session == session)
        )
        found: dict[str, dict[str, bool]] = {}
        for workflow_id, code, voted in rows:
            found.setdefault(workflow_id, {})[code] = bool(voted)
    return found
