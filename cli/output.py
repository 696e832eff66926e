"""What the command line prints: JSON, aligned tables, times at +08:00, and the text of a
declaration, a round, a round's plan, the Schedule and the outbox."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Actor,
    Jurisdiction,
    Level,
    Stage,
)
from models.statistics import Dimension, Figures, RoundFigures
from rules.timezone import SHANGHAI, to_shanghai

if TYPE_CHECKING:
    from client.schedule import ScheduleView
    from models.declaration import DeclarationState
    from models.round import RoundConfig, RoundState
    from rules.round_plan import RoundPlan
    from settings import Settings


def print_json(value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    print(json.dumps(value, ensure_ascii=False, indent=2))


def table(rows: Sequence[Sequence[str]], indent: str = "") -> Iterator[str]:
    """Left-aligned columns; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)] if rows else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        yield (indent + "  ".join([*cells, row[-1]])).rstrip()


def relative(instant: datetime, now: datetime) -> str:
    """'in 2 d 3 h' / '5 h 10 min ago': how far a deadline is from now."""
    delta = instant - now
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    span = (
        f"{days} d {hours} h"
        if days
        else f"{hours} h {rest // 60} min"
        if hours
        else f"{rest // 60} min"
    )
    return f"in {span}" if delta.total_seconds() >= 0 else f"{span} ago"


def deadline_rows(state: DeclarationState) -> list[list[str]]:
    now = datetime.now(SHANGHAI)
    return [
        [name, at, f"({relative(datetime.fromisoformat(at), now)})"]
        for name, at in state.deadlines.items()
    ]


def stage_text(stage: Stage) -> str:
    return f"{stage.value} ({STAGE_NAMES_ZH[stage]})"


def seconds_iso(instant: datetime) -> str:
    return to_shanghai(instant).isoformat(timespec="seconds")


def type_text(annotation: Any) -> str:
    """`list[models.declaration.Material] | None` -> `list[Material] | None`."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", str(annotation))


# --- declarations ---------------------------------------------------------------------------


def print_deadlines(state: DeclarationState, empty: str) -> None:
    rows = deadline_rows(state)
    print("deadlines:" if rows else empty)
    for line in table(rows, "  "):
        print(line)


def print_state(state: DeclarationState) -> None:
    level, jurisdiction = Level(state.level), Jurisdiction(state.jurisdiction)
    print(f"{state.workflow_id}  (round {state.round_year})")
    print(f"number:       {state.number or 'none'}")
    print(f"stage:        {stage_text(state.stage)}")
    print(f"level:        {level.value} ({LEVEL_NAMES_ZH[level]})")
    print(f"jurisdiction: {jurisdiction.value} ({JURISDICTION_NAMES_ZH[jurisdiction]})")
    print(
        f"returns:      {state.return_count} by the evaluation body (R15), "
        f"{state.employer_return_count} by the employer (R12)"
    )
    print_deadlines(state, "deadlines:    none")
    allowed = [[a.action, ", ".join(r.value for r in a.roles)] for a in state.allowed_actions]
    print("allowed actions:" if allowed else "allowed actions: none (ended)")
    for line in table(allowed, "  "):
        print(line)
    print("objections:" if state.objections else "objections:   none")
    for o in state.objections:
        status = "open" if o.upheld is None else "upheld" if o.upheld else "dismissed"
        resolution = f" → {o.resolution}" if o.resolution else ""
        print(
            f"  #{o.id} during {o.during.value}, {status}, raised {seconds_iso(o.raised_at)} "
            f"by {o.raised_by.role.value}:{o.raised_by.id}: {o.summary}{resolution}"
        )
    notes = []
    if state.review_overdue:
        notes.append("the evaluation body's review is overdue (R9)")
    if state.defense_exempt:
        notes.append("exempt from the on-site defense (R19)")
    if state.defense_score is not None:
        notes.append(f"defense score {state.defense_score:g}")
    if state.committee_result is not None:
        result = state.committee_result
        notes.append(
            f"committee: {result.get('yes_votes')} yes of {result.get('attending')} attending, "
            f"{'passed' if result.get('passed') else 'not passed'}"
        )
    for note in notes:
        print(f"note:         {note}")
    if state.stage.is_ending:
        print(f"ended:        {state.ending_reason or STAGE_NAMES_ZH[state.stage]}")


def person_text(actor: Actor, people: Mapping[str, str]) -> str:
    """An actor as `role:id`, with the person's name when the accounts know it (R26:
    `people` by actor id, store/accounts.py display_names)."""
    named = people.get(actor.id)
    shown = f"{actor.role.value}:{actor.id}"
    return f"{shown} ({named})" if named else shown


def print_history(state: DeclarationState, people: Mapping[str, str] | None = None) -> None:
    """The timeline, each actor named by the account's display name (`people`, R26); an
    `assign` says to whom."""
    people = people or {}
    rows = [["seq", "at (+08:00)", "actor", "action", "from → to", "reason"]]
    for entry in state.timeline:
        action = entry.action
        if entry.assignee is not None:
            action += f" → {person_text(entry.assignee, people)}"
        rows.append(
            [
                str(entry.seq),
                seconds_iso(entry.at),
                person_text(entry.actor, people),
                action,
                f"{entry.from_stage.value} → {entry.to_stage.value}",
                entry.reason or "",
            ]
        )
    print(f"{state.workflow_id}: {len(state.timeline)} entries, now {stage_text(state.stage)}")
    for line in table(rows):
        print(line)


def print_actions(described: list[dict[str, Any]]) -> None:
    for item in described:
        print(f"{item['action']}  ({item['model']})")
        by_roles: dict[str, list[str]] = {}  # withdraw: one line, not nine
        for stage, roles in item["stages"].items():
            by_roles.setdefault(", ".join(roles), []).append(stage)
        for roles, stages in by_roles.items():
            print(f"  in {', '.join(stages)}: {roles}")
        data = [
            f"{f['name']}: {f['type']}{'' if f['required'] else ' (optional)'}"
            for f in item["fields"]
            if f["name"] != "actor"  # given with --role and --actor-id
        ]
        print(f"  data: {'; '.join(data)}")


# --- rounds ---------------------------------------------------------------------------------


def print_plan(plan: RoundPlan, config: RoundConfig, source: str, settings: Settings) -> None:
    days = plan.publicity_working_days
    lead = config.recommendation_lead_days
    rows = [
        ["submission opens (R9)", plan.submission_opens_at, ""],
        [
            "latest publicity start (R13)",
            plan.latest_publicity_start.isoformat(),
            f"{days} working days, ending {plan.publicity_ends_if_started_latest}",
        ],
        [
            "publicity must end by",
            plan.publicity_must_end_by,
            f"{lead} day{'s' if lead != 1 else ''} before submission closes, to recommend (R14)",
        ],
        ["submission closes (R9, R10)", plan.submission_closes_at, ""],
        ["review opens (R9)", plan.review_opens_at, ""],
        ["review closes (R9)", plan.review_closes_at, ""],
        ["payment closes (R17)", plan.payment_closes_at, ""],
    ]
    print(f"round {plan.year}: key dates (Asia/Shanghai, +08:00)")
    for line in table(rows, "  "):
        print(line)
    print(
        f"correction: {plan.correction_hours} h after each return; at most {plan.max_returns} "
        f"returns, the next one locks (R15)"
    )
    print(f"configuration: {source}")
    years = ", ".join(str(year) for year in config.calendar.years)
    print(f"working-day calendar: {years} (chinesecalendar, {settings.calendar_overrides.name})")


def print_round(state: RoundState) -> None:
    progress, plan = state.progress, state.plan
    print(
        f"{state.workflow_id}  ({state.specialty}, run {progress.runs}, "
        f"history {state.history_length} events)"
    )
    rows = [
        ["submission", f"{plan['submission_opens_at']} – {plan['submission_closes_at']}"],
        ["review", f"{plan['review_opens_at']} – {plan['review_closes_at']}"],
        ["payment closes", plan["payment_closes_at"]],
        ["latest publicity start", str(plan["latest_publicity_start"])],
    ]
    for line in table(rows, "  "):
        print(line)
    statistics = progress.statistics
    if statistics is None:
        print("declarations: not counted yet")
    else:
        print(f"declarations: {statistics.total} (as of {seconds_iso(statistics.as_of)})")
        for name, counts in (
            ("stage", statistics.by_stage),
            ("level", statistics.by_level),
            ("jurisdiction", statistics.by_jurisdiction),
        ):
            shown = ", ".join(f"{key} {count}" for key, count in counts.items()) or "none"
            print(f"  by {name}: {shown}")
    committee = progress.committee
    print(
        f"committee: {committee.name}, {len(committee.members)} members"
        if committee
        else "committee: not set (round act YEAR set_committee)"
    )
    for session in progress.sessions:
        validity = "valid" if session.valid else "NOT valid (R20 quorum)"
        print(
            f"  session {session.session_id}: {len(session.attending)} of "
            f"{len(session.members)} attending, {session.required_attendance} needed: {validity}"
        )
    for batch in progress.batches:
        ends = seconds_iso(batch.ends_at) if batch.ends_at else "-"
        print(
            f"result publicity of {batch.session_id}: {batch.passed} passed, "
            f"{batch.not_passed} not passed, ends {ends}{' (ended)' if batch.ended else ''}"
        )
    for check in progress.spot_checks:
        frauds = sum(f.fraud for f in check.findings)
        print(
            f"spot check {check.check_id}: seed {check.seed}, {len(check.sample)} of "
            f"{check.population if check.population is not None else '?'}, "
            f"{len(check.findings)} findings ({frauds} fraud)"
        )
    for revocation in progress.revocations:
        print(
            f"revoked {revocation.workflow_id}: integrity archive until "
            f"{revocation.blocked_until.isoformat()} (R8)"
        )
    print("operations:" if progress.operations else "operations: none")
    for op in progress.operations[-10:]:
        error = f": {op.error}" if op.error else ""
        print(
            f"  #{op.id} {op.kind.value} {op.status.value}: {op.done} done, {op.skipped} "
            f"skipped, {op.failed} failed in {op.pages} pages{error}"
        )


def print_schedule(view: ScheduleView) -> None:
    print(f"schedule {view.schedule_id}: {'PAUSED' if view.paused else 'active'}")
    print(f"  every year at {view.calendar} ({view.time_zone}), overlap {view.overlap}")
    print(f"  starts {view.workflow_type} on task queue {view.task_queue}")
    print(f"  next: {', '.join(view.next_runs) or 'none'}")
    print(f"  runs so far: {view.runs_total}")
    for run in view.recent_runs:
        print(f"    {run['scheduled_at']}  {run['workflow_id']}")
    if view.note:
        print(f"  note: {view.note}")
    if view.calendar_warning:
        print(f"  WARNING: {view.calendar_warning}")


# --- the outbox -----------------------------------------------------------------------------


def channel_line(channel: dict[str, Any]) -> str:
    resends = f", resend {channel['resends']}" if channel["resends"] else ""
    return (
        f"{channel['channel']} {channel['status']} to {channel['address']} "
        f"({channel['attempts']} attempt{'s' if channel['attempts'] != 1 else ''}{resends})"
    )


# --- a round action's result (`round act`; `--json` prints it as it came) -------------------


def _shanghai_text(value: Any) -> str:
    """An ISO instant as +08:00 (R: times for people in Asia/Shanghai); anything else as is."""
    if isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if instant.tzinfo is not None:
            return seconds_iso(instant)
    return str(value)


def round_result_lines(action: str, result: Any) -> list[str]:
    """What a round action came to, for a person: an operation's kind, status, counts and
    what it changed; a session's attendance; the committee set; the round closing."""
    if not isinstance(result, dict):
        return [f"{action}: {result}"]
    if "operation_id" in result or ("kind" in result and "status" in result and "id" in result):
        number = result.get("operation_id", result.get("id"))
        lines = [f"operation {number} ({result.get('kind')}): {result.get('status')}"]
        if "done" in result:
            lines.append(
                f"  declarations: {result.get('done', 0)} done, {result.get('skipped', 0)} "
                f"skipped, {result.get('failed', 0)} failed of {result.get('listed', 0)} listed"
            )
        outcomes = result.get("outcomes") or {}
        if outcomes:
            lines.append("  now: " + ", ".join(f"{stage} {n}" for stage, n in outcomes.items()))
        for key, value in (result.get("result") or {}).items():
            lines.append(f"  {key}: {_shanghai_text(value)}")
        lines += [f"  {failure}" for failure in result.get("failures") or []]
        if result.get("error"):
            lines.append(f"  error: {result['error']}")
        return lines
    if "session_id" in result and "attending" in result:
        validity = "valid" if result.get("valid") else "NOT valid (no votes can be taken)"
        return [
            f"session {result['session_id']}: {len(result['attending'])} of "
            f"{len(result.get('members') or [])} members attending, "
            f"{result.get('required_attendance')} needed: {validity}"
        ]
    if "check_id" in result and "fraud" in result:
        verdict = "fraud found: the title is revoked" if result["fraud"] else "no fraud found"
        return [f"spot check {result['check_id']}, {result.get('workflow_id')}: {verdict}"]
    if "progress" in result:  # the round's state (set_committee, close)
        progress = result["progress"]
        committee = progress.get("committee")
        lines = [f"{result.get('workflow_id')}: {action} done"]
        if committee:
            lines.append(f"  committee: {committee['name']}, {len(committee['members'])} members")
        if progress.get("closing"):
            lines.append("  closing: it takes no more actions")
        return lines
    return [f"{action}: done"]


# --- a round's figures (`round stats`) --------------------------------------------------------

FIGURE_COLUMNS = (
    "declared",
    "recommended",
    "returned",
    "returns",
    "abandoned",
    "locked",
    "passed",
    "approved",
    "revoked",
    "overdue",
    "in_progress",
)


def figure_row(name: str, figures: Figures) -> list[str]:
    cells = [name]
    for column in FIGURE_COLUMNS:
        count = getattr(figures, column)
        rate = figures.rate(count) if column in ("recommended", "passed", "approved") else None
        cells.append(f"{count} ({rate:.0%})" if rate is not None and count else str(count))
    return cells


def print_figures(figures: RoundFigures, dimension: Dimension) -> None:
    as_of = seconds_iso(figures.as_of)
    print(f"round {figures.year}: {figures.total.declared} declarations, as of {as_of}")
    print("by stage: " + (", ".join(f"{s} {n}" for s, n in figures.by_stage.items()) or "none"))
    header = [dimension.value, *FIGURE_COLUMNS]
    rows = [figure_row(name, group) for name, group in figures.by.get(dimension, {}).items()]
    for line in table([header, *rows, figure_row("total", figures.total)]):
        print(line)
