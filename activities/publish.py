"""The documents' activities (R21, R23): publish one document, and a batch's result list.
Rendering and the publication store live in documents/.

`starter.py documents failed` lists the failed publications; `... retry KEY`
publishes one again from its recorded request once the cause is fixed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

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
