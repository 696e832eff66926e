"""Personal data stays out of log records and error messages: the record database's engine
hides SQL parameters, delivery logs name the outbox key, not the address."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from delivery.common import redacted
from store.db import dispose_engines, get_engine

NAME, ID_CARD = "王小明", "11010519491231002X"


async def test_database_errors_and_logs_carry_no_parameters(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hidden.db'}"
    engine = get_engine(url)
    people = Table(
        "people", MetaData(), Column("id_card", String, primary_key=True), Column("name", String)
    )
    try:
        async with engine.begin() as conn:
            await conn.run_sync(people.metadata.create_all)
        engine.echo = True  # even an engine logging its SQL logs no values
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with engine.begin() as conn:
                await conn.execute(insert(people).values(id_card=ID_CARD, name=NAME))
            with pytest.raises(IntegrityError) as info:
                async with engine.begin() as conn:
                    await conn.execute(insert(people).values(id_card=ID_CARD, name=NAME))
        assert "INSERT INTO people" in str(info.value)
        assert ID_CARD not in str(info.value) and NAME not in str(info.value)
        assert "hidden due to hide_parameters" in str(info.value)
        assert caplog.records, "the engine logged nothing: the check above checked nothing"
        assert ID_CARD not in caplog.text and NAME not in caplog.text
    finally:
        engine.echo = False
        await dispose_engines(url)  # this test's own engine only


def test_redacted_hides_addresses() -> None:
    text = "recipient zhang@example.com refused: 550 <zhang@example.com> unknown"
    assert redacted(text, "zhang@example.com") == (
        "recipient <recipient> refused: 550 <<recipient>> unknown"
    )
    unbound = "unbound: no WeChat account is bound to +8613912345678 (13912345678)"
    assert "1391234" not in redacted(unbound, "+8613912345678")
    assert redacted("nothing to hide", None, "") == "nothing to hide"
