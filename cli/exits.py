"""The command line's exit codes, and the one-line error that carries one."""

from __future__ import annotations

from enum import IntEnum

from client.errors import Refusal


class Exit(IntEnum):
    ok = 0
    failed = 1  # anything unexpected
    bad_input = 2  # a file, a field, an argument (argparse uses 2 too)
    refused = 3  # the workflow refused: wrong stage, role, window; a duplicate declaration
    unavailable = 4  # Temporal unreachable, no such declaration, no worker answering
    interrupted = 130  # Ctrl-C


# Each kind of failure (client/errors.py) as an exit code.
EXIT_FOR: dict[Refusal, Exit] = {
    Refusal.refused: Exit.refused,
    Refusal.ended: Exit.refused,
    Refusal.conflict: Exit.refused,
    Refusal.invalid_input: Exit.bad_input,
    Refusal.not_found: Exit.unavailable,
    Refusal.no_namespace: Exit.unavailable,
    Refusal.unavailable: Exit.unavailable,
    Refusal.timeout: Exit.unavailable,
    Refusal.unrecorded: Exit.unavailable,
    Refusal.denied: Exit.failed,
    Refusal.failed: Exit.failed,
}

# The names the tests and older scripts use.
EXIT_OK = Exit.ok
EXIT_FAILED = Exit.failed
EXIT_BAD_INPUT = Exit.bad_input
EXIT_REFUSED = Exit.refused
EXIT_UNAVAILABLE = Exit.unavailable


class CliError(Exception):
    """One line for stderr and the exit code that goes with it."""

    def __init__(self, line: str, code: int) -> None:
        super().__init__(line)
        self.line = line
        self.code = code


def bad_input(message: str) -> CliError:
    return CliError(f"error: {message}", Exit.bad_input)


def unavailable(message: str) -> CliError:
    return CliError(f"error: {message}", Exit.unavailable)


def refused(kind: str, message: str) -> CliError:
    return CliError(f"refused ({kind}): {message}", Exit.refused)


def failed(message: str) -> CliError:
    return CliError(f"error: {message}", Exit.failed)
