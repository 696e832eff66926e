"""The ballot box (store/ballots.py, R20/R27): a member votes once, only where registered,
only while the box is open; the count is exact; and nothing stored links a ballot to its
member. On SQLite and PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, select

from models.committee import BallotRegister, Choice
from store.ballots import (
    Ballot,
    BallotRefused,
    box_status,
    cast,
    close_box,
    open_box,
    participation,
)
from store.db import get_engine

SESSION = "committee-2026-01"
A, B, C = (f"decl-2026-{i:016x}" for i in range(3))
MEMBERS = [f"E{i:04d}" for i in range(1, 8)]


def _register() -> BallotRegister:
    # E0007 recused from A; everyone else may vote on everything
    return BallotRegister(session=SESSION, voters={A: MEMBERS[:6], B: MEMBERS, C: MEMBERS})


async def test_each_member_votes_once_and_the_count_is_exact(database: str) -> None:
    engine = get_engine(database)
    assert await open_box(engine, _register())
    assert not await open_box(engine, _register())  # a retry writes nothing
    choices = [Choice.yes, Choice.yes, Choice.yes, Choice.yes, Choice.no, Choice.abstain]
    for code, choice in zip(MEMBERS[:6], choices, strict=True):
        await cast(engine, SESSION, code, A, choice)
    with pytest.raises(BallotRefused) as twice:
        await cast(engine, SESSION, MEMBERS[0], A, Choice.no)
    assert twice.value.reason == BallotRefused.ALREADY_VOTED
    with pytest.raises(BallotRefused) as recused:
        await cast(engine, SESSION, MEMBERS[6], A, Choice.yes)
    assert recused.value.reason == BallotRefused.NOT_A_VOTER
    with pytest.raises(BallotRefused) as stranger:
        await cast(engine, SESSION, "E0099", B, Choice.yes)
    assert stranger.value.reason == BallotRefused.NOT_A_VOTER
    await cast(engine, SESSION, MEMBERS[6], B, Choice.no)

    counts = {c.workflow_id: c for c in (await close_box(engine, SESSION)).counts}
    assert (counts[A].eligible, counts[A].yes, counts[A].no, counts[A].abstain) == (6, 4, 1, 1)
    assert (counts[B].eligible, counts[B].yes, counts[B].no) == (7, 0, 1)
    assert (counts[C].eligible, counts[C].yes) == (7, 0)
    assert await box_status(engine, SESSION) == "closed"

    with pytest.raises(BallotRefused) as late:
        await cast(engine, SESSION, MEMBERS[1], C, Choice.yes)
    assert late.value.reason == BallotRefused.CLOSED
    again = {c.workflow_id: c for c in (await close_box(engine, SESSION)).counts}
    assert again == counts  # closing twice counts the same

    voted = await participation(engine, SESSION)
    assert voted[A] == {code: code != MEMBERS[6] for code in MEMBERS[:6]} | {}
    assert voted[B][MEMBERS[6]] and not voted[B][MEMBERS[0]]


async def test_a_ballot_before_the_session_opens_is_refused(database: str) -> None:
    with pytest.raises(BallotRefused) as early:
        await cast(get_engine(database), SESSION, MEMBERS[0], A, Choice.yes)
    assert early.value.reason == BallotRefused.NO_SESSION


async def test_casts_racing_the_close_either_count_or_are_refused(database: str) -> None:
    engine = get_engine(database)
    await open_box(engine, _register())

    async def vote(code: str) -> bool:
        try:
            await cast(engine, SESSION, code, B, Choice.yes)
        except BallotRefused as refused:
            assert refused.reason == BallotRefused.CLOSED
            return False
        return True

    results = await asyncio.gather(
        *(vote(code) for code in MEMBERS[:3]),
        close_box(engine, SESSION),
        *(vote(code) for code in MEMBERS[3:]),
    )
    accepted = sum(1 for r in results if r is True)
    counts = {c.workflow_id: c for c in (await close_box(engine, SESSION)).counts}
    assert counts[B].yes == accepted  # every accepted ballot counted, none after the close
    voted = await participation(engine, SESSION)
    assert sum(voted[B].values()) == accepted


async def test_a_ballot_row_holds_no_member_and_no_time(database: str) -> None:
    engine = get_engine(database)
    await open_box(engine, _register())
    await cast(engine, SESSION, MEMBERS[0], A, Choice.yes)

    async with engine.connect() as conn:
        columns = await conn.run_sync(
            lambda sync: [c["name"] for c in inspect(sync).get_columns("committee_ballots")]
        )
        ballot = (await conn.execute(select(Ballot))).one()
    assert sorted(columns) == ["choice", "id", "session", "workflow_id"]
    assert MEMBERS[0] not in str(tuple(ballot))
