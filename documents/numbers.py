"""Document numbers (R21): a per-year counter in the record database, one number per key."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import get_engine
from store.document_tables import DocumentCounter, DocumentNumber
from store.numbering import allocate_once

# --- document numbers (R21) --------------------------------------------------------------


def format_document_number(prefix: str, year: int, number: int) -> str:
    return f"{prefix}〔{year}〕{number}号"


async def allocate_document_number(
    key: str, prefix: str, year: int, url: str | None = None, *, engine: AsyncEngine | None = None
) -> int:
    """The number of document `key` in (prefix, year): 1, 2, 3, … in order of allocation, in
    the database of `engine` (or of `url`; neither: DATABASE_URL).

    Once per key: a retry returns the number it got the first time; no number is skipped or
    given twice, also when two workers allocate at once (store/numbering.py)."""
    return await allocate_once(
        engine or get_engine(url),
        counter=DocumentCounter,
        scope={"prefix": prefix, "year": year},
        numbered=DocumentNumber,
        key=("key", key),
    )
