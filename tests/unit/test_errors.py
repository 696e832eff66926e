"""client/errors.py: every failure the client side sees, as one kind, and the command line's
exit code for each kind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from temporalio.client import (
    ScheduleAlreadyRunningError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from cli.exits import EXIT_FOR, Exit
from client.errors import (
    ActionTimeout,
    ArchiveUnavailable,
    Classified,
    ClientConfigError,
    DeclarationRefused,
    Refusal,
    classify,
)
from models.common import Strict
from rules.calendar import CalendarYearUnknown
from store.config_files import InputError


def rpc(status: RPCStatusCode, message: str) -> RPCError:
    return RPCError(message, status, b"")


def update_failed(cause: BaseException) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(cause)


class Shape(Strict):
    n: int


def validation_error() -> ValidationError:
    try:
        Shape.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError


CASES = [
    # the workflow's validator (rules/actions.py), through an update
    (
        update_failed(ApplicationError("submit is not allowed", type="WrongStage")),
        Classified(Refusal.refused, "submit is not allowed", "WrongStage"),
    ),
    (ApplicationError("closed", type="Closed"), Classified(Refusal.refused, "closed", "Closed")),
    (update_failed(RuntimeError("boom")), Classified(Refusal.failed, "boom", "UpdateFailed")),
    (
        WorkflowQueryFailedError("unknown query"),
        Classified(Refusal.failed, "unknown query", "QueryFailed"),
    ),
    (
        WorkflowUpdateRPCTimeoutOrCancelledError(),
        Classified(Refusal.timeout, "Timeout or cancellation waiting for update"),
    ),
    (
        ActionTimeout("decl-1", "submit", False, timedelta(seconds=30)),
        Classified(
            Refusal.timeout,
            "decl-1: submit not accepted by any worker within 30 s",
            "ActionTimeout",
        ),
    ),
    (
        ActionTimeout("decl-1", "submit", True, timedelta(seconds=30)),
        Classified(
            Refusal.unrecorded,
            "decl-1: submit accepted but not recorded within 30 s",
            "ActionTimeout",
        ),
    ),
    (
        WorkflowAlreadyStartedError("decl-1", "Declaration"),
        Classified(Refusal.conflict, "Workflow execution already started", "AlreadyStarted"),
    ),
    (
        ScheduleAlreadyRunningError(),
        Classified(Refusal.conflict, "Schedule already running", "AlreadyExists"),
    ),
    # the RPC status codes
    (
        rpc(RPCStatusCode.NOT_FOUND, "workflow not found for ID: decl-1"),
        Classified(Refusal.not_found, "workflow not found for ID: decl-1"),
    ),
    (
        rpc(RPCStatusCode.NOT_FOUND, "Namespace zhicheng is not found."),
        Classified(Refusal.no_namespace, "Namespace zhicheng is not found."),
    ),
    (
        rpc(RPCStatusCode.NOT_FOUND, "workflow execution already completed"),
        Classified(Refusal.ended, "workflow execution already completed"),
    ),
    (
        rpc(RPCStatusCode.ALREADY_EXISTS, "exists"),
        Classified(Refusal.conflict, "exists", "AlreadyExists"),
    ),
    (rpc(RPCStatusCode.DEADLINE_EXCEEDED, "late"), Classified(Refusal.timeout, "late")),
    (rpc(RPCStatusCode.CANCELLED, "gone"), Classified(Refusal.timeout, "gone")),
    (
        rpc(RPCStatusCode.UNAVAILABLE, "connection reset"),
        Classified(Refusal.unavailable, "connection reset", "UNAVAILABLE"),
    ),
    (
        rpc(RPCStatusCode.PERMISSION_DENIED, "no"),
        Classified(Refusal.denied, "no", "PERMISSION_DENIED"),
    ),
    (
        rpc(RPCStatusCode.UNAUTHENTICATED, "who"),
        Classified(Refusal.denied, "who", "UNAUTHENTICATED"),
    ),
    (
        rpc(RPCStatusCode.INVALID_ARGUMENT, "bad query"),
        Classified(Refusal.failed, "bad query", "INVALID_ARGUMENT"),
    ),
    # connecting
    (
        RuntimeError(
            "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
            'ConnectError(ConnectError("tcp connect error", Os { code: 111, kind: '
            'ConnectionRefused, message: "Connection refused" })))'
        ),
        Classified(Refusal.unavailable, "Connection refused", "ConnectFailed"),
    ),
    (
        ConnectionRefusedError("refused"),
        Classified(Refusal.unavailable, "refused", "ConnectFailed"),
    ),
    (
        ClientConfigError("Temporal client configuration: Profile 'x' not found"),
        Classified(Refusal.invalid_input, "Temporal client configuration: Profile 'x' not found"),
    ),
    # the client side's own
    (
        DeclarationRefused("Ineligible", "not eligible (R4: ...)", workflow_id="decl-1"),
        Classified(Refusal.refused, "not eligible (R4: ...)", "Ineligible"),
    ),
    (
        DeclarationRefused("AlreadyDeclared", "decl-1 already exists", workflow_id="decl-1"),
        Classified(Refusal.conflict, "decl-1 already exists", "AlreadyDeclared"),
    ),
    (
        ArchiveUnavailable("cannot read the integrity archive"),
        Classified(Refusal.unavailable, "cannot read the integrity archive", "ArchiveUnavailable"),
    ),
    (
        InputError("decl.json: no such file"),
        Classified(Refusal.invalid_input, "decl.json: no such file"),
    ),
    (TimeoutError(), Classified(Refusal.timeout, "timed out")),
    (KeyError("x"), Classified(Refusal.failed, "KeyError: 'x'")),
]


@pytest.mark.parametrize(("exc", "expected"), CASES, ids=lambda v: type(v).__name__)
def test_classify(exc: BaseException, expected: Classified) -> None:
    assert classify(exc) == expected


def test_classify_input_errors() -> None:
    assert classify(CalendarYearUnknown(2031)).kind is Refusal.invalid_input
    assert classify(validation_error()).kind is Refusal.invalid_input


def test_every_kind_has_an_exit_code() -> None:
    assert set(EXIT_FOR) == set(Refusal)
    assert {kind for kind, code in EXIT_FOR.items() if code is Exit.refused} == {
        Refusal.refused,
        Refusal.ended,
        Refusal.conflict,
    }
    assert [int(code) for code in Exit] == [0, 1, 2, 3, 4, 130]
