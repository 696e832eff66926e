"""Every table of the record database, registered in one place.

Importing this module puts each table into `METADATA`: the migrations' target, what
`ensure_schema` checks and what the tests compare the migrations with."""

from __future__ import annotations

from store import (
    accounts,
    ballots,
    document_tables,
    experts,
    exports,
    inbox,
    masked_checks,
    observer_views,
    refused_attempts,
    sessions,
    tables,
    uploads,
    verification,
)

METADATA = tables.Base.metadata
MODULES = (
    tables,
    accounts,
    uploads,
    document_tables,
    sessions,
    refused_attempts,
    inbox,
    verification,
    masked_checks,
    experts,
    ballots,
    observer_views,
    exports,
)
