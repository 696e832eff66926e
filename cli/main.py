"""The command line's entry point: parse, read the settings, run the command, and turn what
went wrong into one line on stderr and an exit code (cli/exits.py)."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Sequence

from cli.exits import CliError, Exit
from cli.parser import build_parser
from rules.calendar import CalendarYearUnknown
from settings import SettingsError, load_settings
from store.config_files import InputError


async def run(argv: Sequence[str]) -> int:
    """The command line's core; awaitable from a running event loop (the tests do)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else Exit.failed
    try:
        settings = load_settings()
    except SettingsError as exc:  # one line per bad setting
        for line in exc.lines:
            print(f"invalid setting: {line}", file=sys.stderr)
        return Exit.bad_input
    try:
        return await args.handler(args, settings)
    except CliError as exc:
        print(exc.line, file=sys.stderr)
        return exc.code
    except (InputError, CalendarYearUnknown) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.bad_input


def one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """warnings.formatwarning for people: the message alone, no file or line of ours."""
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return Exit.interrupted
    except BrokenPipeError:  # `... | head`: the reader has gone, nothing left to say
        return Exit.failed
