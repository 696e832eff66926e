"""Document numbers (R21): a per-year counter in the record database, one number per key."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import dialect_insert, get_engine, insert_unless_exists
from store.document_tables import DocumentCounter, DocumentNumber

# --- document numbers (R21) --------------------------------------------------------------


def format_document_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}〔{year}〕{number}号"


class _AllocatedElsewhere(Exception):
    """Another transaction allocated this key first: roll back ours (and its increment)."""


async def allocate_document_number(
    key: str, prefix: str, year: int, url: str | None = None, *, engine: AsyncEngine | None = None
) -> int:
    """The number of document `key` in (prefix, year): 1, 2, 3, … in order of allocation, in
    the database of `engine` (or of `url`; neither: DATABASE_URL).

    Once per key: a retry returns the number it got the first time. The increment and the
    key's row are one transaction, so no number is skipped or given twice, also when two
    workers allocate at once (the counter row's update serializes them)."""
    engine = engine or get_engine(url)
    for _ in range(5):
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(DocumentNumber.number).where(DocumentNumber.key == key)
            )
        if found is not None:
            return found
        try:
            async with engine.begin() as conn:
                # Writes first, so SQLite takes its write lock at once (no upgrade deadlock).
                await insert_unless_exists(
                    conn,
                    DocumentCounter,
                    {"prefix": prefix, "year": year, "last_number": 0},
                    ["prefix", "year"],
                )
                where = (DocumentCounter.prefix == prefix) & (DocumentCounter.year == year)
                await conn.execute(
                    update(DocumentCounter)
                    .where(where)
                    .values(last_number=DocumentCounter.last_number + 1)
                )
                # the counter row exists: written or found by the insert above
                counted = await conn.execute(select(DocumentCounter.last_number).where(where))
                number = counted.scalar_one()
                row = {"key": key, "prefix": prefix, "year": year, "number": number}
                # RETURNING tells whether this row was written (rowcount does not, reliably, on
                # every driver): nothing comes back when another allocation holds the key.
                written = await conn.scalar(
                    dialect_insert(conn)(DocumentNumber)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(DocumentNumber.number)
                )
                if written is None:
                    raise _AllocatedElsewhere
                return number
        except (_AllocatedElsewhere, IntegrityError):
            continue  # rolled back: read the winner's number
    raise RuntimeError(f"could not allocate a document number for {key}")
