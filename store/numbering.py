"""Numbers given out once per key from a counter in the record database: 1, 2, 3, … per
counter row, in order of allocation. Document numbers (documents/numbers.py, R21) and the
declarations' 申报编号 (store/declaration_numbers.py) are both allocated this way.

The counter table has the counter's key columns and `last_number`; the numbered table has
the allocation's key as its primary key, a `number` column and a unique constraint over the
counter's key and `number`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import dialect_insert, insert_unless_exists


class _AllocatedElsewhere(Exception):
    """Another transaction allocated this key first: roll back ours (and its increment)."""


async def allocate_once(
    engine: AsyncEngine,
    *,
    counter: Any,
    scope: dict[str, Any],
    numbered: Any,
    key: tuple[str, str],
) -> int:
    """The number of `key` (its column's name, its value) in the counter row `scope` (the
    counter table's key columns and their values): what it got the first time, else the next
    one, written into `numbered` with `scope` and the number.

    Once per key: a retry returns the number it got the first time. The increment and the
    key's row are one transaction, so no number is skipped or given twice, also when two
    processes allocate at once (the counter row's update serializes them)."""
    key_name, key_value = key
    key_column = getattr(numbered, key_name)
    for _ in range(5):
        async with engine.connect() as conn:
            found = await conn.scalar(select(numbered.number).where(key_column == key_value))
        if found is not None:
            return int(found)
        try:
            async with engine.begin() as conn:
                # Writes first, so SQLite takes its write lock at once (no upgrade deadlock).
                await insert_unless_exists(conn, counter, {**scope, "last_number": 0}, list(scope))
                where = [getattr(counter, name) == value for name, value in scope.items()]
                await conn.execute(
                    update(counter).where(*where).values(last_number=counter.last_number + 1)
                )
                # the counter row exists: written or found by the insert above
                counted = await conn.execute(select(counter.last_number).where(*where))
                number = counted.scalar_one()
                values = {**scope, key_name: key_value, "number": number}
                # RETURNING tells whether this row was written (rowcount does not, reliably, on
                # every driver): nothing comes back when another allocation holds the key.
                written = await conn.scalar(
                    dialect_insert(conn)(numbered)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=[key_name])
                    .returning(numbered.number)
                )
                if written is None:
                    raise _AllocatedElsewhere
                return int(number)
        except (_AllocatedElsewhere, IntegrityError):
            continue  # rolled back: read the winner's number
    raise RuntimeError(f"could not allocate a number for {key_value}")
