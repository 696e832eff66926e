"""The documents' activities (R21, R23): publish one document, and a batch's result list.
Rendering and the publication store live in documents/.

`python -m activities.publish failed` lists the failed publications; `... retry KEY`
publishes one again from its recorded request once the cause is fixed.
"""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from documents.publication import PublicationStore, publish
from models.common import Level, Stage
from models.coordination import PUBLISH_RESULT_LIST, ResultListRequest
from models.documents import (
    PUBLISH_DOCUMENT,
    DocumentPerson,
    PublishedDocument,
    PublishRequest,
    ResultPublicityList,
)
from settings import Settings
from store.db import get_engine
from store.document_tables import DocumentPublication
from store.tables import DeclarationRow


class DocumentActivities:
    """The documents' activities, built by worker.py with the publication store, the settings
    (document number prefix, fonts) and the record database's engine (numbers, the record of
    publications, the result lists' names)."""

    def __init__(self, store: PublicationStore, settings: Settings, engine: AsyncEngine) -> None:
        self._store = store
        self._settings = settings
        self._engine = engine

    async def _publish(self, request: PublishRequest) -> PublishedDocument:
        return await publish(
            request, store=self._store, settings=self._settings, engine=self._engine
        )

    @activity.defn(name=PUBLISH_DOCUMENT)
    async def publish_document(self, request: PublishRequest) -> PublishedDocument:
        """Render and publish one document (R21, R23); publishing it again is a no-op."""
        return await self._publish(request)

    @activity.defn(name=PUBLISH_RESULT_LIST)
    async def publish_result_list(self, request: ResultListRequest) -> PublishedDocument | None:
        """R20: the result-publicity list of one committee session's batch, naming the passed
        (stage result_publicity, or already past it) of its declarations; None when none
        passed. Published once per (round, votes operation)."""
        passed_or_later = [Stage.result_publicity.value, Stage.approved.value, Stage.revoked.value]
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(DeclarationRow)
                    .where(
                        DeclarationRow.workflow_id.in_(request.workflow_ids),
                        DeclarationRow.stage.in_(passed_or_later),
                    )
                    .order_by(
                        DeclarationRow.level,
                        DeclarationRow.employer_name,
                        DeclarationRow.workflow_id,
                    )
                )
            ).all()
        if not rows:
            return None
        people = [
            DocumentPerson(
                name=row.applicant_name,
                employer_name=row.employer_name,
                level=Level(row.level),
                declaration_id=row.workflow_id,
            )
            for row in rows
        ]
        return await self._publish(
            PublishRequest(
                # By operation: session ids are free text, and a scope is part of a file name.
                scope=f"round-{request.year}-results-op{request.operation_id}",
                issued_at=request.issued_at,
                document=ResultPublicityList(
                    round_year=request.year,
                    people=people,
                    starts_at=request.starts_at,
                    ends_at=request.ends_at,
                    working_days=request.working_days,
                ),
            )
        )


# --- operators: failed publications --------------------------------------------------------


async def _failed(engine: AsyncEngine) -> list[DocumentPublication]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(DocumentPublication)
            .where(DocumentPublication.status == "failed")
            .order_by(DocumentPublication.updated_at)
        )
        return list(rows)


async def _main(argv: list[str] | None = None) -> int:
    from settings import load_settings_or_exit
    from store.db import ensure_schema

    parser = argparse.ArgumentParser(prog="python -m activities.publish", description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("failed", help="list the documents whose publication failed")
    retry = sub.add_parser("retry", help="publish a failed document again from its request")
    retry.add_argument("key", help="the document's key, as `failed` prints it")
    args = parser.parse_args(argv)
    settings = load_settings_or_exit()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    await ensure_schema(settings.database_url)
    engine = get_engine(settings.database_url)
    if args.command == "failed":
        for row in await _failed(engine):
            print(f"{row.key}\t{row.attempts} attempt(s)\t{row.updated_at:%Y-%m-%d %H:%M}Z")
            print(f"    {row.last_error}")
        return 0
    async with engine.connect() as conn:
        stored = await conn.scalar(
            select(DocumentPublication.request).where(DocumentPublication.key == args.key)
        )
    if stored is None:
        print(f"no publication recorded under {args.key}")
        return 2
    store = PublicationStore(settings.publication_dir)
    try:
        request = PublishRequest.model_validate(stored)
        published = await publish(request, store=store, settings=settings, engine=engine)
    except ApplicationError as exc:
        print(f"still failing: {exc}")
        return 1
    print(f"published {published.file_name} sha256 {published.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
