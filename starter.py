"""zhicheng command line: start declarations, act on them, read them, plan a round.

Configuration comes from the environment (settings.py): TEMPORAL_ADDRESS (localhost:7233),
TEMPORAL_NAMESPACE (default), ZHICHENG_TASK_QUEUE (zhicheng), ZHICHENG_ROUNDS_DIR
(config/rounds: {year}.json overrides a round's dates) and ZHICHENG_CALENDAR_OVERRIDES
(config/calendar_overrides.json: holidays of years chinesecalendar does not know).

A session (start the worker first: python worker.py):

    python starter.py round plan 2025                 # key dates; needs no Temporal server
    python starter.py actions                         # who may do what, with which data
    python starter.py declaration start examples/declaration.json --year 2026
    python starter.py declaration act decl-2026-eaabaf4afca1764a submit \\
        --role applicant --actor-id liming
    python starter.py declaration act decl-2026-eaabaf4afca1764a employer_return \\
        --role employer --actor-id hr-01 --data '{"reason": "学历证书扫描件不清晰"}'
    python starter.py declaration state decl-2026-eaabaf4afca1764a
    python starter.py declaration history decl-2026-eaabaf4afca1764a --json
    python starter.py declaration list --year 2026 --stage draft --level intermediate

The workflow id is decl-{year}-{applicant key}; `start` prints it. An action outside its
window is refused (exit 3) and the message gives the window: the notice's round runs
submission Sept 1-29. To try the flow at other dates, copy examples/rounds/2025.json to
config/rounds/{year}.json and set its year and dates. An applicant who is not eligible
(R1–R8) is refused (exit 3) before anything starts.

The commands live in cli/ (one module per group); this file is the entry point.
"""

from __future__ import annotations

from cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE
from cli.main import main, run

# What the tests and scripts use from here: main (the process), run (awaitable, in-process)
# and the exit codes' old names (cli/exits.py).
__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNAVAILABLE",
    "main",
    "run",
]

if __name__ == "__main__":
    from client.connection import exit_without_finalizing

    exit_without_finalizing(main())
