"""The command line's parser: every group, command, argument and its help."""

from __future__ import annotations

import argparse
import re
from typing import NoReturn, TypedDict

from cli.accounts import cmd_account_create
from cli.calendar import cmd_calendar_import, cmd_calendar_show
from cli.committee import (
    cmd_committee_act,
    cmd_committee_draw,
    cmd_committee_list,
    cmd_committee_record,
    cmd_committee_state,
)
from cli.common import PROG, Handler
from cli.declarations import (
    cmd_act,
    cmd_actions,
    cmd_find,
    cmd_history,
    cmd_list,
    cmd_start,
    cmd_state,
)
from cli.documents import cmd_documents_failed, cmd_documents_retry
from cli.exits import EXIT_BAD_INPUT
from cli.experts import HANDLERS as EXPERT_COMMANDS
from cli.outbox import OUTBOX_STATUSES, cmd_outbox_deliver, cmd_outbox_list, cmd_outbox_resend
from cli.rounds import (
    cmd_round_act,
    cmd_round_export,
    cmd_round_plan,
    cmd_round_start,
    cmd_round_state,
    cmd_round_stats,
    cmd_round_try_out,
)
from cli.schedule import (
    cmd_schedule_create,
    cmd_schedule_describe,
    schedule_command,
)
from client.inputs import ROUND_UPDATES, SESSION_UPDATES
from models.common import Jurisdiction, Level, Role, Stage
from models.delivery import Channel
from models.round import ListingSource
from models.statistics import Dimension
from models.validation import unknown_name
from rules.actions import ACTIONS
from rules.schedule import DEFAULT_DAY, DEFAULT_HOUR, DEFAULT_MINUTE, DEFAULT_MONTH, SCHEDULE_ID
from rules.update_ids import BadRequestId, checked_request_id

# Who an operator may act as: the people's roles. `system` (the round's own updates) is signed
# by the worker alone (docs/security.md, "Signed actors").
PEOPLE_ROLES = [role.value for role in Role if role is not Role.system]

DESCRIPTION = "zhicheng command line: start declarations, act on them, read them, plan a round."

EPILOG = """\
exit codes:
  0  done
  1  unexpected failure
  2  bad input: a missing or malformed file, an invalid field, an unknown action or role,
     a year the working-day calendar does not know
  3  refused by the declaration: wrong stage, wrong role, outside a window, already declared,
     not eligible (R1–R8: nothing is started)
  4  unavailable: Temporal unreachable, no such declaration, no worker answering

environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ZHICHENG_TASK_QUEUE, ZHICHENG_ROUNDS_DIR,
ZHICHENG_CALENDAR_OVERRIDES (see settings.py)"""


class HelpLayout(TypedDict):
    """The keyword arguments every parser and subparser shares (typed, so that `**` passes
    each with its own type rather than as `object`)."""

    epilog: str
    formatter_class: type[argparse.HelpFormatter]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (its default prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        # argparse's "invalid choice: 'x' (choose from 'a', 'b')": the closest names first
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            known = [name.strip(" '") for name in choice.group(2).split(",")]
            argument = message.split(":", 1)[0]
            message = f"{argument}: {unknown_name('choice', choice.group(1), known)}"
        self.exit(EXIT_BAD_INPUT, f"error: {self.prog}: {message} (see --help)\n")


def year(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year") from None
    if not 2000 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"{value} is not a year between 2000 and 2100")
    return value


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def request_id(text: str) -> str:
    try:
        return checked_request_id(text)
    except BadRequestId as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


REQUEST_ID_HELP = (
    "repeat an earlier request: the id it printed (`request id: ...`); a request sent again "
    "with its id is applied once and answers with the first result (default: a fresh id)"
)


def build_parser() -> Parser:
    fmt = argparse.RawDescriptionHelpFormatter
    common: HelpLayout = {"epilog": EPILOG, "formatter_class": fmt}
    parser = Parser(prog=PROG, description=DESCRIPTION, **common)
    groups = parser.add_subparsers(
        dest="group",
        required=True,
        metavar="{declaration,round,committee,schedule,calendar,outbox,account,documents,expert,actions}",
    )

    declaration = groups.add_parser(
        "declaration", help="start, act on, read and list declarations", **common
    )
    commands = declaration.add_subparsers(dest="command", required=True)

    def sub(
        parent: argparse._SubParsersAction[Parser], name: str, help: str, handler: Handler
    ) -> Parser:
        command = parent.add_parser(name, help=help, description=help, **common)
        command.set_defaults(handler=handler)
        return command

    start = sub(commands, "start", "start a declaration from an applicant's JSON file", cmd_start)
    start.add_argument(
        "file",
        metavar="FILE",
        help="JSON object: applicant, level, jurisdiction, eligibility, achievements, materials "
        "(see examples/declaration.json)",
    )
    start.add_argument(
        "--year", type=year, help="round year (default: the current year in Asia/Shanghai)"
    )
    start.add_argument("--json", action="store_true", help="print the id and initial state as JSON")

    act = sub(commands, "act", "take an action (a Temporal Update) on a declaration", cmd_act)
    act.add_argument("workflow_id", metavar="WORKFLOW_ID")
    act.add_argument("action", metavar="ACTION", help=f"one of: {', '.join(ACTIONS)}")
    act.add_argument(
        "--role",
        required=True,
        choices=PEOPLE_ROLES,
        metavar="ROLE",
        help=f"who acts: {', '.join(PEOPLE_ROLES)} (`system` is the worker's own)",
    )
    act.add_argument("--actor-id", required=True, help="the acting person's or unit's id")
    data = act.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="JSON", help="the action's fields as a JSON object")
    data.add_argument("--data-file", metavar="FILE", help="the action's fields from a JSON file")
    act.add_argument("--json", action="store_true", help="print the new state as JSON")
    act.add_argument("--request-id", type=request_id, metavar="ID", help=REQUEST_ID_HELP)

    handler: Handler  # not the first loop's coroutine-function type: a later loop reuses it
    for name, help_text, handler in [
        ("state", "show a declaration's state (the `state` query)", cmd_state),
        ("history", "show a declaration's timeline", cmd_history),
    ]:
        command = sub(commands, name, help_text, handler)
        command.add_argument("workflow_id", metavar="WORKFLOW_ID")
        command.add_argument("--json", action="store_true", help="print JSON")

    listing = sub(commands, "list", "list declarations by search attributes", cmd_list)
    listing.add_argument("--year", type=year, help="round year")
    listing.add_argument(
        "--query",
        metavar="QUERY",
        help="a visibility query, as the Web UI's search box takes it (e.g. \"Stage = "
        "'evaluation_review' AND ReturnCount >= 2\"); combined with the other filters by AND",
    )
    listing.add_argument(
        "--stage",
        choices=[s.value for s in Stage],
        metavar="STAGE",
        help=f"one of: {', '.join(s.value for s in Stage)}",
    )
    listing.add_argument(
        "--level",
        choices=[lv.value for lv in Level],
        metavar="LEVEL",
        help=f"one of: {', '.join(lv.value for lv in Level)}",
    )
    listing.add_argument(
        "--jurisdiction",
        choices=[j.value for j in Jurisdiction],
        metavar="JURISDICTION",
        help=f"one of: {', '.join(j.value for j in Jurisdiction)}",
    )
    listing.add_argument(
        "--record-failing",
        action="store_true",
        help="only declarations whose latest transition the record database refuses",
    )
    listing.add_argument(
        "--number", metavar="NUMBER", help="the declaration with this 申报编号 (2026-000123)"
    )
    listing.add_argument("--limit", type=positive, default=100, help="at most N (default 100)")
    listing.add_argument("--json", action="store_true", help="print JSON")

    find = sub(
        commands,
        "find",
        "find a declaration by its 申报编号 in the record database (DATABASE_URL)",
        cmd_find,
    )
    find.add_argument("number", metavar="NUMBER", help="the 申报编号, e.g. 2026-000123")
    find.add_argument("--json", action="store_true", help="print JSON")

    round_group = groups.add_parser(
        "round", help="a round: plan, start, state, coordination actions", **common
    )
    round_commands = round_group.add_subparsers(dest="command", required=True)
    plan = sub(
        round_commands,
        "plan",
        "print a round's key dates (needs no Temporal server)",
        cmd_round_plan,
    )
    plan.add_argument("year", type=year, metavar="YEAR")
    plan.add_argument("--json", action="store_true", help="print JSON")
    try_out = sub(
        round_commands,
        "try-out",
        "write config/rounds/YEAR.json with windows open from today (to try the system "
        "outside September)",
        cmd_round_try_out,
    )
    try_out.add_argument("year", type=year, metavar="YEAR", nargs="?", help="default: this year")
    try_out.add_argument("--force", action="store_true", help="replace an existing file")
    round_start = sub(
        round_commands,
        "start",
        "start the Round workflow round-YEAR by hand (the Schedule does it every year)",
        cmd_round_start,
    )
    round_start.add_argument("year", type=year, metavar="YEAR")
    round_start.add_argument(
        "--committee",
        metavar="FILE",
        help="committee composition JSON (default: config/rounds/YEAR.committee.json if any)",
    )
    listing_choices = [source.value for source in ListingSource]
    round_start.add_argument(
        "--listing",
        choices=listing_choices,
        default=ListingSource.visibility.value,
        help="how the round finds its declarations: search attributes (default) or the "
        "record database",
    )
    round_start.add_argument("--json", action="store_true", help="print JSON")
    round_state = sub(
        round_commands,
        "state",
        "show a round: windows, statistics, sessions, spot checks, operations",
        cmd_round_state,
    )
    round_state.add_argument("year", type=year, metavar="YEAR")
    round_state.add_argument("--json", action="store_true", help="print JSON")
    round_stats = sub(
        round_commands,
        "stats",
        "a round's figures: declared, recommended, returned, abandoned, locked, passed, "
        "approved, revoked, overdue, per level, jurisdiction or employer (DATABASE_URL)",
        cmd_round_stats,
    )
    round_stats.add_argument("year", type=year, metavar="YEAR")
    round_stats.add_argument(
        "--by", choices=[d.value for d in Dimension], default=Dimension.level.value
    )
    round_stats.add_argument("--json", action="store_true", help="print JSON")
    round_export = sub(
        round_commands,
        "export",
        "the roster (花名册: every declaration, or of one stage or employer) or the figures, "
        "as .xlsx or .csv; each export is recorded (DATABASE_URL)",
        cmd_round_export,
    )
    round_export.add_argument("year", type=year, metavar="YEAR")
    round_export.add_argument("what", choices=["roster", "statistics"])
    round_export.add_argument("--out", required=True, metavar="FILE", help="FILE.xlsx or FILE.csv")
    round_export.add_argument("--stage", choices=[s.value for s in Stage], metavar="STAGE")
    round_export.add_argument("--employer", metavar="USCC", help="one employer's declarations")
    round_export.add_argument(
        "--by", choices=[d.value for d in Dimension], default=Dimension.level.value
    )
    round_export.add_argument("--actor-id", help="who exports (default: your login)")
    round_act = sub(
        round_commands,
        "act",
        "a round action (a Temporal Update on round-YEAR): " + ", ".join(ROUND_UPDATES),
        cmd_round_act,
    )
    round_act.add_argument("year", type=year, metavar="YEAR")
    round_act.add_argument("action", metavar="ACTION", help=", ".join(ROUND_UPDATES))
    round_act.add_argument(
        "--role",
        required=True,
        choices=PEOPLE_ROLES,
        metavar="ROLE",
        help=f"who acts: {', '.join(PEOPLE_ROLES)}",
    )
    round_act.add_argument("--actor-id", required=True, help="the acting person's or unit's id")
    round_data = round_act.add_mutually_exclusive_group()
    round_data.add_argument("--data", metavar="JSON", help="the action's fields as a JSON object")
    round_data.add_argument("--data-file", metavar="FILE", help="the fields from a JSON file")
    round_act.add_argument(
        "--wait", action="store_true", help="wait until the operation it starts is done"
    )
    round_act.add_argument("--request-id", type=request_id, metavar="ID", help=REQUEST_ID_HELP)
    round_act.add_argument("--json", action="store_true", help="print the result as JSON")

    schedule_group = groups.add_parser(
        "schedule", help="the yearly Schedule that starts each round", **common
    )
    schedule_commands = schedule_group.add_subparsers(dest="command", required=True)
    create = sub(
        schedule_commands,
        "create",
        "create the Schedule: every year (default Aug 28 09:00 Asia/Shanghai) it starts "
        "round-{year}; overlap SKIP",
        cmd_schedule_create,
    )
    create.add_argument("--month", type=int, default=DEFAULT_MONTH, choices=range(1, 13))
    create.add_argument("--day", type=int, default=DEFAULT_DAY, choices=range(1, 32))
    create.add_argument("--hour", type=int, default=DEFAULT_HOUR, choices=range(24))
    create.add_argument("--minute", type=int, default=DEFAULT_MINUTE, choices=range(60))
    create.add_argument(
        "--listing", choices=listing_choices, default=ListingSource.visibility.value
    )
    create.add_argument("--paused", action="store_true", help="create it paused")
    commands_by_name: list[tuple[str, str, Handler]] = [
        ("describe", "show the Schedule: spec, next and recent runs", cmd_schedule_describe),
        (
            "trigger",
            "start the launcher now (the year of today)",
            schedule_command("trigger", "triggered"),
        ),
        ("pause", "pause the Schedule", schedule_command("pause", "paused")),
        ("unpause", "unpause the Schedule", schedule_command("unpause", "unpaused")),
        (
            "delete",
            "delete the Schedule (running rounds go on)",
            schedule_command("delete", "deleted"),
        ),
    ]
    for name, help_text, handler in [("create", "", cmd_schedule_create), *commands_by_name]:
        command = create if name == "create" else sub(schedule_commands, name, help_text, handler)
        command.add_argument(
            "--id", default=SCHEDULE_ID, help=f"schedule id (default {SCHEDULE_ID})"
        )
        if name in ("pause", "unpause"):
            command.add_argument("--note", help="why (shown in the UI)")
        if name == "describe":
            command.add_argument("--json", action="store_true", help="print JSON")

    outbox_group = groups.add_parser(
        "outbox", help="the notification outbox: delivery status, resends", **common
    )
    outbox_commands = outbox_group.add_subparsers(dest="command", required=True)
    outbox_list = sub(
        outbox_commands,
        "list",
        "list outbox messages, newest first, with each channel's status and reason "
        "(reads DATABASE_URL)",
        cmd_outbox_list,
    )
    outbox_list.add_argument(
        "--status",
        choices=OUTBOX_STATUSES,
        metavar="STATUS",
        help=f"one of: {', '.join(OUTBOX_STATUSES)}",
    )
    outbox_list.add_argument("--workflow", metavar="WORKFLOW_ID", help="one declaration's")
    outbox_list.add_argument("--limit", type=positive, default=100, help="at most N (default 100)")
    outbox_list.add_argument("--json", action="store_true", help="print JSON")
    resend = sub(
        outbox_commands,
        "resend",
        "send a message again by one channel (after a failure is fixed, or an `uncertain` "
        "one is checked): a new Delivery workflow",
        cmd_outbox_resend,
    )
    resend.add_argument("key", metavar="KEY", help="the outbox key (see: outbox list)")
    resend.add_argument("--channel", required=True, choices=[c.value for c in Channel])
    resend.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=60.0,
        metavar="SECONDS",
        help="wait for the outcome (default 60 s)",
    )
    deliver = sub(
        outbox_commands,
        "deliver",
        "start the delivery of every `pending` message that has none (messages queued while "
        "no channel was configured)",
        cmd_outbox_deliver,
    )
    deliver.add_argument("--limit", type=positive, default=1000, help="at most N (default 1000)")
    deliver.add_argument("--workflow", metavar="WORKFLOW_ID", help="only one declaration's")

    account_group = groups.add_parser("account", help="portal accounts (portal/)", **common)
    account_commands = account_group.add_subparsers(dest="command", required=True)
    account_create = sub(
        account_commands,
        "create",
        "create a portal account (password from --password, ZHICHENG_ACCOUNT_PASSWORD, or "
        "asked for); reads DATABASE_URL",
        cmd_account_create,
    )
    account_create.add_argument(
        "--role", required=True, choices=[r.value for r in Role if r is not Role.system]
    )
    account_create.add_argument("--username", required=True)
    account_create.add_argument("--name", default="", help="display name")
    account_create.add_argument("--uscc", help="employer accounts: the employer's 统一社会信用代码")
    account_create.add_argument(
        "--id-card", help="applicant accounts: the ID card (only its applicant key is stored)"
    )
    account_create.add_argument(
        "--expert-code", help="expert accounts: the expert's pool code (E0001)"
    )
    account_create.add_argument("--password", help="visible in the process list: prefer the env")

    committee_group = groups.add_parser(
        "committee", help="committee sessions: draw, sign-in, open, close (R27)", **common
    )
    committee_commands = committee_group.add_subparsers(dest="command", required=True)
    committee_draw = sub(
        committee_commands,
        "draw",
        "start a session of round YEAR: its members and alternates are drawn from the expert "
        "pool at once (R27)",
        cmd_committee_draw,
    )
    committee_draw.add_argument("year", type=year, metavar="YEAR")
    committee_draw.add_argument("session_id", metavar="SESSION_ID", help="e.g. 2026-01")
    committee_draw.add_argument(
        "--members", type=int, required=True, help="odd, at least the round's minimum"
    )
    committee_draw.add_argument("--alternates", type=int, default=0)
    committee_draw.add_argument("--specialty", help="draw only experts of this specialty")
    committee_draw.add_argument(
        "--declarations-file",
        metavar="FILE",
        help='JSON {"declarations": [workflow ids]} (default: all in `committee`)',
    )
    committee_draw.add_argument("--held-at", help="when the meeting is held (ISO 8601 with offset)")
    committee_draw.add_argument("--place", help="where the meeting is held")
    committee_draw.add_argument(
        "--listing",
        choices=[s.value for s in ListingSource],
        default=ListingSource.visibility.value,
    )
    committee_draw.add_argument("--actor-id", required=True, help="the supervisor who draws")
    committee_draw.add_argument("--json", action="store_true", help="print JSON")
    for name, help_text, handler in (
        ("state", "show a session: seats, sign-in, recusals, tallies", cmd_committee_state),
        ("record", "copy a closed session's meeting record (PDF)", cmd_committee_record),
    ):
        command = sub(committee_commands, name, help_text, handler)
        command.add_argument("year", type=year, metavar="YEAR")
        command.add_argument("session_id", metavar="SESSION_ID")
        if name == "state":
            command.add_argument("--json", action="store_true", help="print JSON")
        else:
            command.add_argument("--out", metavar="FILE", help="default: its name, here")
    committee_list = sub(
        committee_commands, "list", "the sessions of round YEAR", cmd_committee_list
    )
    committee_list.add_argument("year", type=year, metavar="YEAR")
    committee_list.add_argument("--json", action="store_true", help="print JSON")
    committee_act = sub(
        committee_commands,
        "act",
        "a session action (a Temporal Update): " + ", ".join(SESSION_UPDATES),
        cmd_committee_act,
    )
    committee_act.add_argument("year", type=year, metavar="YEAR")
    committee_act.add_argument("session_id", metavar="SESSION_ID")
    committee_act.add_argument("action", metavar="ACTION", choices=list(SESSION_UPDATES))
    committee_act.add_argument(
        "--role", required=True, choices=[Role.committee.value, Role.expert.value]
    )
    committee_act.add_argument(
        "--actor-id", required=True, help="the secretary, or the expert's pool code"
    )
    committee_data = committee_act.add_mutually_exclusive_group()
    committee_data.add_argument(
        "--data", metavar="JSON", help="the action's fields as a JSON object"
    )
    committee_data.add_argument("--data-file", metavar="FILE", help="the fields from a JSON file")
    committee_act.add_argument("--request-id", type=request_id, metavar="ID", help=REQUEST_ID_HELP)
    committee_act.add_argument("--json", action="store_true", help="print JSON")

    calendar_group = groups.add_parser(
        "calendar", help="the working-day calendar: import a year, show one (R13)", **common
    )
    calendar_commands = calendar_group.add_subparsers(dest="command", required=True)
    calendar_import = sub(
        calendar_commands,
        "import",
        "load a year's holidays and make-up workdays from the State Council's notice, in "
        'holiday-cn\'s format ({"year": 2027, "days": [{"name": "元旦", "date": '
        '"2027-01-01", "isOffDay": true}, ...]}), into the override table',
        cmd_calendar_import,
    )
    calendar_import.add_argument("file", metavar="FILE")
    calendar_import.add_argument(
        "--replace", action="store_true", help="replace the year if the table has it"
    )
    calendar_show = sub(
        calendar_commands, "show", "a year's calendar and where it comes from", cmd_calendar_show
    )
    calendar_show.add_argument("year", type=year, metavar="YEAR")
    calendar_show.add_argument("--json", action="store_true", help="print JSON")

    expert_group = groups.add_parser(
        "expert", help="the expert pool (R27): list, add, import, export, audit", **common
    )
    expert_commands = expert_group.add_subparsers(dest="command", required=True)
    expert_help = {
        "list": "list the active experts (reads DATABASE_URL)",
        "show": "one expert as JSON (related persons only as how many)",
        "add": "add an expert (its code, E0001 …, is printed)",
        "activate": "put an expert back into the pool",
        "deactivate": "take an expert out of the pool (kept, drawn no more)",
        "import": "add and update experts from a .xlsx or .csv file: all rows or none",
        "export": "write the pool to a .xlsx or .csv file (never an ID card)",
        "changes": "the pool's audit, of one expert or of all",
    }
    expert = {
        name: sub(expert_commands, name, expert_help[name], handler)
        for name, handler in EXPERT_COMMANDS.items()
    }
    for command in expert.values():
        command.add_argument("--database-url", help="overrides DATABASE_URL")
        if command is not expert["list"] and command is not expert["show"]:
            command.add_argument("--actor-id", help="who changes the pool (default: your login)")
    expert["list"].add_argument("--specialty")
    expert["list"].add_argument("--query", help="part of a name, code or employer")
    expert["list"].add_argument("--inactive", action="store_true", help="the inactive ones too")
    expert["list"].add_argument("--json", action="store_true")
    for name in ("show", "activate", "deactivate"):
        expert[name].add_argument("code", metavar="CODE")
    expert["changes"].add_argument("code", metavar="CODE", nargs="?")
    for name in ("import", "export"):
        expert[name].add_argument("file", metavar="FILE", help="FILE.xlsx or FILE.csv")
    for name in ("add", "activate", "deactivate", "import"):
        expert[name].add_argument("--note", help="why (kept with the audit row)")
    add = expert["add"]
    add.add_argument("--name", required=True)
    add.add_argument("--uscc", required=True, help="the employer's 统一社会信用代码")
    add.add_argument("--employer", required=True, help="the employer's name")
    add.add_argument("--specialty", required=True)
    add.add_argument("--title", required=True, help="e.g. 正高级工程师")
    add.add_argument("--mobile")
    add.add_argument("--email")
    add.add_argument(
        "--past-employer",
        action="append",
        metavar="USCC|NAME|YYYY-MM-DD",
        help="an employer left in the last 3 years (repeat for more)",
    )
    add.add_argument(
        "--relation",
        action="append",
        metavar="ID_CARD|RELATION",
        help="a related person (only a keyed hash of the ID card is kept; repeat for more)",
    )

    documents_group = groups.add_parser(
        "documents", help="published documents: the failed ones, publishing one again", **common
    )
    documents_commands = documents_group.add_subparsers(dest="command", required=True)
    sub(
        documents_commands,
        "failed",
        "list the documents whose publication failed, with the last error (reads DATABASE_URL)",
        cmd_documents_failed,
    )
    retry = sub(
        documents_commands,
        "retry",
        "publish a failed document again from its recorded request, once the cause is fixed",
        cmd_documents_retry,
    )
    retry.add_argument(
        "key", metavar="KEY", help="the document's key, as `documents failed` prints it"
    )
    for command in documents_commands.choices.values():
        command.add_argument("--database-url", help="overrides DATABASE_URL")

    actions = sub(groups, "actions", "list every action: stages, roles, data fields", cmd_actions)
    actions.add_argument("--json", action="store_true", help="print JSON")
    return parser
