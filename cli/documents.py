"""`documents failed|retry KEY`: the documents whose publication failed (R21, R23), and
publishing one again from its recorded request once the cause is fixed."""

from __future__ import annotations

import argparse
import sys

from cli.common import record_errors
from cli.exits import EXIT_FAILED, EXIT_OK, bad_input
from settings import Settings


async def cmd_documents_failed(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from store.db import dispose_engines, ensure_schema, get_engine
    from store.document_tables import DocumentPublication

    url = args.database_url or settings.database_url
    try:
        await ensure_schema(url)
        async with get_engine(url).connect() as conn:
            rows = list(
                await conn.execute(
                    select(DocumentPublication)
                    .where(DocumentPublication.status == "failed")
                    .order_by(DocumentPublication.updated_at)
                )
            )
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc, args.database_url) from None
    finally:
        await dispose_engines(url)
    for row in rows:
        print(f"{row.key}\t{row.attempts} attempt(s)\t{row.updated_at:%Y-%m-%d %H:%M}Z")
        print(f"    {row.last_error}")
    return EXIT_OK


async def cmd_documents_retry(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from temporalio.exceptions import ApplicationError

    from documents.publication import PublicationStore, publication_dir, publish
    from models.documents import PublishRequest
    from store.db import dispose_engines, ensure_schema, get_engine
    from store.document_tables import DocumentPublication

    url = args.database_url or settings.database_url
    try:
        await ensure_schema(url)
        engine = get_engine(url)
        async with engine.connect() as conn:
            stored = await conn.scalar(
                select(DocumentPublication.request).where(DocumentPublication.key == args.key)
            )
        if stored is None:
            raise bad_input(f"no publication recorded under {args.key} (see: documents failed)")
        try:
            published = await publish(
                PublishRequest.model_validate(stored),
                store=PublicationStore(publication_dir(settings)),
                settings=settings,
                engine=engine,
            )
        except ApplicationError as exc:
            print(f"error: still failing: {exc}", file=sys.stderr)
            return EXIT_FAILED
    except SQLAlchemyError as exc:
        raise record_errors(settings, exc, args.database_url) from None
    finally:
        await dispose_engines(url)
    print(f"published {published.file_name} sha256 {published.sha256}")
    return EXIT_OK
