"""The documents' activities (R21, R23): publish one document, and a batch's result list.
Rendering and the publication store live in documents/.

`python -m activities.publish failed` lists the failed publications; `... retry KEY`
publishes one again from its recorded request once the cause is fixed.
"""

from __future__ import annotations

import argparse
import asyncio

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from documents.publication import publish
from models.common import Level, Stage
from models.coordination import ResultListRequest
from models.documents import (
    DocumentPerson,
    PublishedDocument,
    PublishRequest,
    ResultPublicityList,
)
from store.db import get_engine
from store.document_tables import DocumentPublication
from store.tables import DeclarationRow


@activity.defn
async def publish_document(request: PublishRequest) -> PublishedDocument:
    """Render and publish one document (R21, R23); publishing it again is a no-op."""
    return await publish(request)


@activity.defn
async def publish_result_list(request: ResultListRequest) -> PublishedDocument | None:
    """R20: the result-publicity list of one committee session's batch, naming the passed
    (stage result_publicity, or already past it) of its declarations; None when none passed.
    Published once per (round, votes operation)."""
    passed_or_later = [Stage.result_publicity.value, Stage.approved.value, Stage.revoked.value]
    async with get_engine().connect() as conn:
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
    return await publish(
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


async def _failed() -> list[DocumentPublication]:
    async with get_engine().connect() as conn:
        rows = await conn.execute(
            select(DocumentPublication)
            .where(DocumentPublication.status == "failed")
            .order_by(DocumentPublication.updated_at)
        )
        return list(rows)


async def _main(argv: list[str] | None = None) -> int:
    from store.db import configure_database, ensure_schema

    parser = argparse.ArgumentParser(prog="python -m activities.publish", description=__doc__)
    parser.add_argument("--database-url", help="overrides DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("failed", help="list the documents whose publication failed")
    retry = sub.add_parser("retry", help="publish a failed document again from its request")
    retry.add_argument("key", help="the document's key, as `failed` prints it")
    args = parser.parse_args(argv)
    configure_database(args.database_url)
    await ensure_schema(args.database_url)
    if args.command == "failed":
        for row in await _failed():
            print(f"{row.key}\t{row.attempts} attempt(s)\t{row.updated_at:%Y-%m-%d %H:%M}Z")
            print(f"    {row.last_error}")
        return 0
    async with get_engine().connect() as conn:
        stored = await conn.scalar(
            select(DocumentPublication.request).where(DocumentPublication.key == args.key)
        )
    if stored is None:
        print(f"no publication recorded under {args.key}")
        return 2
    try:
        published = await publish(PublishRequest.model_validate(stored))
    except ApplicationError as exc:
        print(f"still failing: {exc}")
        return 1
    print(f"published {published.file_name} sha256 {published.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(_main()))
