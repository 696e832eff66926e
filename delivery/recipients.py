"""The organisations' addresses (models/recipients.py), read from the recipients file when a
message is put in the outbox.

The file is checked when the worker starts (`Recipients.check`: a bad file stops it with the
reason). It is re-read when it changes; a changed file that does not pass is not used: the
last good one stays in force and the error is logged once per change, so an operator's typo
never holds up a transition (the record activity writes its messages as before).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.recipients import RecipientDirectory
from models.records import DIGESTED_EVENTS, NotificationRequest
from models.validation import strictly, validation_summary

log = logging.getLogger("zhicheng.delivery")


class RecipientsFileError(ValueError):
    """The recipients file cannot be read or does not pass (the message names the file)."""


def _without_comments(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_comments(v) for k, v in data.items() if not str(k).startswith("_")}
    return data


def read_directory(path: Path) -> RecipientDirectory:
    """The recipients file; an empty directory when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return RecipientDirectory()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipientsFileError(f"recipients file {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecipientsFileError(f"recipients file {path}: not JSON: {exc}") from None
    try:
        return strictly(RecipientDirectory, _without_comments(data))
    except ValidationError as exc:
        raise RecipientsFileError(f"recipients file {path}: {validation_summary(exc)}") from None


class Recipients:
    """Addresses each organisation's message: `addressed(request)`."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: int | None = None  # the file's mtime as last read (-1: no file)
        self._directory = RecipientDirectory()

    def check(self) -> None:
        """Read the file now; RecipientsFileError if it does not pass (the worker's start)."""
        self._stamp = self._mtime()
        self._directory = read_directory(self._path)

    def _mtime(self) -> int:
        try:
            return self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return -1

    def directory(self) -> RecipientDirectory:
        stamp = self._mtime()
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._directory = read_directory(self._path)
            except RecipientsFileError as exc:
                log.error("%s; the previous recipients stay in force until it is fixed", exc)
        return self._directory

    def addressed(self, request: NotificationRequest) -> NotificationRequest:
        """`request` with its organisation's addresses where it has none of its own."""
        if request.email or request.mobile:
            return request
        found = self.directory().address_of(request.recipient_role, request.organisation)
        if found is None or (found.digest and request.event in DIGESTED_EVENTS):
            return request
        return request.model_copy(
            update={
                "email": found.email,
                "mobile": found.mobile,
                "recipient_name": found.name or request.recipient_name,
            }
        )


def addressed(request: NotificationRequest, recipients: Recipients | None) -> NotificationRequest:
    """`request` addressed through `recipients`, if any."""
    return request if recipients is None else recipients.addressed(request)
