"""One classifier for what the client side can fail with: every failure the Temporal client
raises (RPC status codes, update and query failures, time-outs, "already started") and the
client side's own refusals, as a `Refusal` kind with a one-line English detail.

    classified = classify(exc)
    classified.kind     # Refusal.refused, Refusal.not_found, ...
    classified.message  # the detail, for a log or an operator
    classified.reason   # the refusal's own name when there is one: WrongStage, OutsideWindow,
                        # Ineligible, AlreadyDeclared, ... (rules/actions.py, rules/eligibility.py)

The command line maps the kinds to its exit codes (cli/exits.py); the portal to an HTTP status
and a sentence in Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from pydantic import ValidationError
from temporalio.client import (
    RPCTimeoutOrCancelledError,
    ScheduleAlreadyRunningError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from rules.calendar import CalendarYearUnknown
from rules.eligibility import Refusal as RuleRefusal
from store.config_files import InputError

# What the SDK says when a workflow cannot decode an update's argument (its cause says why).
UNDECODABLE = "Failed decoding arguments"


class Refusal(StrEnum):
    """What kind of failure it is, for whoever has to tell a person."""

    refused = "refused"  # the workflow refused it: wrong stage, role, window (`reason` says)
    ended = "ended"  # the workflow has ended and takes no more updates
    conflict = "conflict"  # it exists already: a declaration, a round, a schedule
    invalid_input = "invalid_input"  # wrong before anything was sent: a file, a field, a year
    not_found = "not_found"  # no such workflow or schedule
    no_namespace = "no_namespace"  # the namespace does not exist on that server
    unavailable = "unavailable"  # Temporal, or the record database, cannot be reached
    timeout = "timeout"  # no answer in time: usually no worker polls the task queue
    unrecorded = "unrecorded"  # a worker accepted the update; its result is not recorded yet
    denied = "denied"  # the server refused the client's credentials (TLS, API key)
    failed = "failed"  # anything else: a query or update that failed in the worker, ...


@dataclass(frozen=True)
class Classified:
    kind: Refusal
    message: str
    # The refusal's own name: an ApplicationError's type (WrongStage, OutsideWindow, ...), a
    # declaration's refusal (DeclarationRefused.reason), an RPC status name for `failed`,
    # QueryFailed / UpdateFailed, ConnectFailed, ActionTimeout. None when there is nothing more.
    reason: str | None = None
    # The refusal's facts (rules.actions.Refused.facts: the window or deadline it is outside
    # of), for a person's sentence; None when it has none.
    facts: dict[str, str] | None = None


class ActionTimeout(TimeoutError):
    """An action got no answer in time. `accepted` False: no worker took it (the server may
    still hand it to one later: admitted updates are not durable); True: taken, not yet
    recorded."""

    def __init__(self, workflow_id: str, action: str, accepted: bool, timeout: timedelta) -> None:
        self.workflow_id, self.action, self.accepted = workflow_id, action, accepted
        what = "accepted but not recorded" if accepted else "not accepted by any worker"
        super().__init__(f"{workflow_id}: {action} {what} within {timeout.total_seconds():g} s")


class DeclarationRefused(Exception):
    """A declaration not opened, and nothing started (client/declarations.py). `reason`:
    SubmissionClosed (R10), Ineligible (R1–R8: `refusals` names each rule failed),
    IdentifyingTitle (R11: a material's title names the applicant; the position and the kind,
    never the value) or AlreadyDeclared (one declaration per applicant per round)."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        workflow_id: str,
        refusals: Iterable[RuleRefusal] = (),
    ) -> None:
        super().__init__(message)
        self.reason, self.message, self.workflow_id = reason, message, workflow_id
        self.refusals = tuple(refusals)

    @property
    def kind(self) -> Refusal:
        return Refusal.conflict if self.reason == "AlreadyDeclared" else Refusal.refused


class ArchiveUnavailable(Exception):
    """The record database could not be read or written while a declaration was opened: its
    integrity archive (R8), or the declaration's number (申报编号). No declaration starts
    without them."""


class ClientConfigError(ValueError):
    """The Temporal client configuration (a TOML profile, TEMPORAL_PROFILE) is wrong."""


def connect_failure_reason(exc: BaseException) -> str:
    """The reason in the Rust bridge's connect failure ('Connection refused', ...)."""
    found = re.search(r'message: "([^"]+)"', str(exc))
    return found.group(1) if found else str(exc).removeprefix("Failed client connect: ")


def classify(exc: BaseException) -> Classified:
    """The kind of `exc` and its detail; anything unknown is `failed`."""
    match exc:
        case DeclarationRefused():
            return Classified(exc.kind, exc.message, exc.reason)
        case ActionTimeout():
            kind = Refusal.unrecorded if exc.accepted else Refusal.timeout
            return Classified(kind, str(exc), "ActionTimeout")
        case WorkflowUpdateFailedError():
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.message == UNDECODABLE:
                # the worker's decoder refused the argument (client/payloads.py): its reason
                inner = cause.cause
                detail = inner.message if isinstance(inner, ApplicationError) else cause.message
                return Classified(Refusal.invalid_input, detail, "InvalidArgument")
            if isinstance(cause, ApplicationError):
                return _refused(cause)
            return Classified(Refusal.failed, str(cause), "UpdateFailed")
        case ApplicationError():
            return _refused(exc)
        case WorkflowAlreadyStartedError():
            return Classified(Refusal.conflict, str(exc), "AlreadyStarted")
        case ScheduleAlreadyRunningError():
            return Classified(Refusal.conflict, str(exc), "AlreadyExists")
        case RPCTimeoutOrCancelledError():  # an update's poll given up
            return Classified(Refusal.timeout, str(exc))
        case WorkflowQueryFailedError():
            return Classified(Refusal.failed, str(exc), "QueryFailed")
        case RPCError():
            return _rpc(exc)
        case TimeoutError():
            return Classified(Refusal.timeout, str(exc) or "timed out")
        case ArchiveUnavailable():
            return Classified(Refusal.unavailable, str(exc), "ArchiveUnavailable")
        case InputError() | CalendarYearUnknown() | ClientConfigError():
            return Classified(Refusal.invalid_input, str(exc))
        case ValidationError():
            return Classified(Refusal.invalid_input, str(exc))
        case RuntimeError() if str(exc).startswith("Failed client connect"):
            return Classified(Refusal.unavailable, connect_failure_reason(exc), "ConnectFailed")
        case ConnectionError():
            return Classified(Refusal.unavailable, str(exc), "ConnectFailed")
    return Classified(Refusal.failed, f"{type(exc).__name__}: {exc}")


def _refused(exc: ApplicationError) -> Classified:
    details = exc.details
    facts = details[0] if details and isinstance(details[0], dict) else None
    return Classified(Refusal.refused, exc.message, exc.type or None, facts)


def _rpc(exc: RPCError) -> Classified:
    status, message = exc.status, exc.message
    if status == RPCStatusCode.NOT_FOUND:
        if "namespace" in message.lower():
            return Classified(Refusal.no_namespace, message)
        if "completed" in message:  # an update to a closed workflow
            return Classified(Refusal.ended, message)
        return Classified(Refusal.not_found, message)
    if status == RPCStatusCode.ALREADY_EXISTS:
        return Classified(Refusal.conflict, message, "AlreadyExists")
    if status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
        return Classified(Refusal.timeout, message)
    if status == RPCStatusCode.UNAVAILABLE:
        return Classified(Refusal.unavailable, message, status.name)
    if status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNAUTHENTICATED):
        return Classified(Refusal.denied, message, status.name)
    return Classified(Refusal.failed, message, status.name)
