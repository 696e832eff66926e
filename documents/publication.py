"""Publishing documents (R21, R23) to the publication store — the platform's 任职资格审批文件
column and its siblings — with an index page and a JSON feed.

The store (ZHICHENG_PUBLICATION_DIR, default var/publication) never overwrites a file:
publishing a document again returns the first publication, and a different content under
a published name is an error (PublicationConflict).

Errors a retry cannot fix (a template or its data, a conflict) are non-retryable and are
recorded in `document_publications`; a missing CJK font and I/O or database errors retry
(the workflow bounds them: workflows/calls.py PUBLISH_RETRY).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from documents.numbers import allocate_document_number, format_document_number
from documents.render import check_cjk_font, environment, render_html, render_pdf
from models.documents import (
    COLUMN_NAMES_ZH,
    DOCUMENT_COLUMNS,
    PUBLICATION_CONFLICT,
    RENDER_ERROR,
    Column,
    DocumentKind,
    PublishedDocument,
    PublishRequest,
)
from rules.timezone import shanghai_date
from settings import Settings, load_settings
from store.db import dialect_insert
from store.document_tables import DocumentPublication
from store.files import synced_temporary

# --- configuration ---------------------------------------------------------------------


def publication_dir(settings: Settings | None = None) -> Path:
    """The publication store's directory (ZHICHENG_PUBLICATION_DIR); the worker builds its
    PublicationStore from its own settings, the portal reads the store through this."""
    return (settings or load_settings()).publication_dir


# --- the publication store -----------------------------------------------------------------


class PublicationConflictError(Exception):
    pass


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PublicationStore:
    """A directory: the published files under {year}/, feed.json (the list, the store's own
    record of what is published) and index.html (the column's page). Files are written to a
    temporary name and linked into place only if the name is free; feed and index are
    replaced atomically, under an exclusive lock (several workers may share the directory)."""

    FEED = "feed.json"
    INDEX = "index.html"

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def items(self) -> list[dict[str, Any]]:
        path = self.root / self.FEED
        if not path.exists():
            return []
        return list(json.loads(path.read_text(encoding="utf-8"))["items"])

    def find(self, key: str) -> dict[str, Any] | None:
        return next((item for item in self.items() if item["key"] == key), None)

    def publish(self, item: dict[str, Any], files: Mapping[str, bytes]) -> tuple[dict, bool]:
        """Add `item` with its `files` (name -> bytes, relative to the store). Returns the
        item as published and whether it was there already (then nothing is written)."""
        with self._locked():
            items = self.items()
            existing = next((i for i in items if i["key"] == item["key"]), None)
            if existing is not None:
                return existing, True
            for name, data in files.items():
                self._write_once(name, data)
            items.append(item)
            self._replace(self.FEED, _feed_json(items).encode("utf-8"))
            self._replace(self.INDEX, _index_html(items).encode("utf-8"))
            return item, False

    def _write_once(self, name: str, data: bytes) -> None:
        path = self.root / name
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"file name outside the store: {name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = synced_temporary(path.parent, data)
        try:
            os.chmod(temporary, 0o444)  # published: read-only
            try:
                os.link(temporary, path)  # fails if the name is taken: never overwrites
            except FileExistsError:
                if sha256_hex(path.read_bytes()) != sha256_hex(data):
                    raise PublicationConflictError(
                        f"{name} is already published with other content; a published file "
                        "is never replaced"
                    ) from None
                # The same bytes: an earlier attempt wrote the file but not the feed.
        finally:
            os.unlink(temporary)

    def _replace(self, name: str, data: bytes) -> None:
        temporary = synced_temporary(self.root, data, prefix=f".{name}.")
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.root / name)


def _feed_json(items: list[dict[str, Any]]) -> str:
    feed = {
        "title": "任职资格审批文件及相关公示、附件",
        "updated_at": max(item["published_at"] for item in items),
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=2) + "\n"


def _index_html(items: list[dict[str, Any]]) -> str:
    columns = []
    for column in Column:
        entries = [i for i in items if i["column"] == column.value]
        entries.sort(key=lambda i: (i["date"], i["published_at"]), reverse=True)
        if entries:
            columns.append((COLUMN_NAMES_ZH[column], entries))
    return environment.get_template("_index.html.j2").render(columns=columns)


# --- the record of publications -----------------------------------------------------------


async def record_publication(
    engine: AsyncEngine,
    request: PublishRequest,
    *,
    published: PublishedDocument | None = None,
    error: str | None = None,
    attempts: int = 1,
) -> None:
    """Upsert the document's row: `published` (where it is) or `failed` (the last error)."""
    row: dict[str, Any] = {
        "key": request.key,
        "kind": request.document.kind.value,
        "scope": request.scope,
        "status": "published" if published else "failed",
        "title": published.title if published else None,
        "document_number": published.document_number if published else None,
        "file_name": published.file_name if published else None,
        "sha256": published.sha256 if published else None,
        "attempts": attempts,
        "last_error": error,
        "request": request.model_dump(mode="json"),
        "updated_at": datetime.now(UTC),
    }
    async with engine.begin() as conn:
        insert = dialect_insert(conn)(DocumentPublication).values(**row)
        if published is None:  # a failure never hides an earlier success
            changed = {k: v for k, v in row.items() if k not in ("key", "status", "title")}
            statement = insert.on_conflict_do_update(
                index_elements=["key"],
                set_={**changed, "status": "failed"},
                where=DocumentPublication.status != "published",
            )
        else:
            statement = insert.on_conflict_do_update(
                index_elements=["key"], set_={k: v for k, v in row.items() if k != "key"}
            )
        await conn.execute(statement)


# --- publishing (the publish_document activity's work) ---------------------------------------


def file_stem(request: PublishRequest) -> str:
    return f"{request.document.round_year}/{request.document.kind.value}-{request.scope}"


def _published(item: Mapping[str, Any], already: bool) -> PublishedDocument:
    return PublishedDocument.model_validate({**item, "already_published": already})


async def _failure(
    engine: AsyncEngine, request: PublishRequest, message: str, error_type: str
) -> ApplicationError:
    """Record a failure a person must fix; the non-retryable error to raise."""
    attempt = activity.info().attempt if activity.in_activity() else 1
    activity.logger.error("Document %s not published: %s", request.key, message)
    with contextlib.suppress(Exception):  # the record must not hide the original error
        await record_publication(
            engine, request, error=f"{error_type}: {message}", attempts=attempt
        )
    return ApplicationError(
        f"document {request.key}: {message}", type=error_type, non_retryable=True
    )


async def publish(
    request: PublishRequest,
    *,
    store: PublicationStore,
    settings: Settings,
    engine: AsyncEngine,
) -> PublishedDocument:
    """Render and publish `request`'s document into `store`, once (see the module's
    docstring); its number and its record in the database of `engine`."""
    existing = await asyncio.to_thread(store.find, request.key)
    if existing is not None:
        published = _published(existing, True)
        await record_publication(engine, request, published=published)
        return published

    document = request.document
    document_number = None
    if document.kind is DocumentKind.approval_document:
        prefix = document.number_prefix or settings.document_number_prefix
        year = shanghai_date(request.issued_at).year  # the year of issue, as 文号 are counted
        number = await allocate_document_number(request.key, prefix, year, engine=engine)
        document_number = format_document_number(prefix, year, number)

    check_cjk_font(settings.font_dir)
    try:
        rendered = render_html(request, settings, document_number)
        pdf = await render_pdf(rendered.html)
    except (OSError, MemoryError, BrokenProcessPool):
        raise  # the machine (or a renderer that died), not the document: retry
    except Exception as exc:  # the template (TemplateError) or the data: a person must fix it
        message = f"cannot render: {type(exc).__name__}: {exc}"
        raise await _failure(engine, request, message, RENDER_ERROR) from exc

    html = rendered.web_html.encode("utf-8")
    stem = file_stem(request)
    pdf_name, html_name = f"{stem}.pdf", f"{stem}.html"
    item = {
        "key": request.key,
        "kind": document.kind.value,
        "column": DOCUMENT_COLUMNS[document.kind].value,
        "title": rendered.title,
        "date": shanghai_date(request.issued_at).isoformat(),
        "document_number": document_number,
        "file_name": pdf_name,
        "sha256": sha256_hex(pdf),
        "html_file_name": html_name,
        "html_sha256": sha256_hex(html),
        "published_at": datetime.now(UTC).isoformat(),
    }
    files = {pdf_name: pdf, html_name: html}
    try:
        stored, already = await asyncio.to_thread(store.publish, item, files)
    except PublicationConflictError as exc:
        raise await _failure(engine, request, str(exc), PUBLICATION_CONFLICT) from exc
    published = _published(stored, already)
    await record_publication(
        engine,
        request,
        published=published,
        attempts=activity.info().attempt if activity.in_activity() else 1,
    )
    if activity.in_activity():
        # The key, the file and the number: a title can name the applicant (关于某某同志…).
        activity.logger.info(
            "Document %s %s: %s%s",
            request.key,
            "already published" if already else "published",
            published.file_name,
            f" ({published.document_number})" if published.document_number else "",
        )
    return published
