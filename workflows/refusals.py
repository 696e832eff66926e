"""A refusal (rules.actions.Refused) as the failure an update's validator raises: its kind as
the error's type, its English message, and its facts (a window, a deadline, what is wrong) as
the error's details, for the portal's sentence in Chinese (portal/refusal_text.py). Both
workflows refuse through here."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from rules.actions import Refused


def refusal_error(refused: Refused) -> ApplicationError:
    details = [refused.facts] if refused.facts else []
    return ApplicationError(refused.message, *details, type=refused.kind, non_retryable=True)


def invalid(message: str, problem: str | None = None, **facts: str) -> ApplicationError:
    """An `Invalid` refusal; `problem` names what is wrong for a person (portal/
    refusal_text.py PROBLEMS_ZH), with the facts its sentence needs."""
    named = {"problem": problem, **facts} if problem else None
    return refusal_error(Refused("Invalid", message, named))
