"""The supervisor's page (the HR service centre): counts per stage and level, the overdue
items (a declaration still in a stage whose deadline has passed: rules/overdue.py), the
refused attempts (every action the portal or the command line had refused: who, what, when,
which workflow, why; newest first, REFUSED_PAGE a page: store/refused_attempts.py), and every
declaration with its 申报编号, applicant and employer (the supervisor may see who declared),
searched, filtered and paged as on /search (portal/routers/search.py, store/search.py); each
linked to its workflow in the Temporal Web UI (ZHICHENG_TEMPORAL_UI_URL, the namespace of
TEMPORAL_NAMESPACE).

    GET  /supervisor                    the page (the declarations' filters in the address)
    GET  /supervisor?refused_page=N     ... with the N-th page of refused attempts
    POST /supervisor                    ... the declarations searched (the form: q, filters, page)
    GET  /supervisor/audit/{id}         one declaration's audit trail, each event's person
                                        named beside the organisation (R26, portal/audit.py)
    GET  /supervisor/exports/roster.xlsx|csv?year=&stage=&employer=
    GET  /supervisor/exports/statistics.xlsx|csv?year=&by=
                                        the roster (花名册) and the figures, each export
                                        recorded (store/exports.py)

The observer (纪检监察, R26) reads all of these as well; it acts on nothing.

The refused attempts name the person too (the account's display name beside its id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from client.exports import export_figures, export_roster
from client.rounds import running_round_config
from documents.spreadsheets import SheetKind
from models.common import (
    JURISDICTION_NAMES_ZH,
    LEVEL_NAMES_ZH,
    STAGE_NAMES_ZH,
    Actor,
    Jurisdiction,
    Level,
    Role,
    Stage,
)
from models.round import RoundConfig
from models.statistics import Dimension, Figures
from portal.audit import audit_trail
from portal.bound import BoundInputs, Inputs
from portal.context import actor_id_of, chinese_name
from portal.deps import CheckedForm, OverseerPage, Page, PortalDep
from portal.routers.search import SearchForm, search_context
from rules.overdue import passed_stage_deadline
from rules.timezone import cn_window, shanghai_date
from store.accounts import display_names
from store.refused_attempts import latest_refused_attempts
from store.search import MAX_PER_PAGE, Criteria, Scope, search_declarations, stage_level_counts
from store.statistics import round_statistics

router = APIRouter()
REFUSED_PAGE = 100  # refused attempts shown a page
OVERDUE_SHOWN = MAX_PER_PAGE  # the longest overdue first; the rest through the search
SOURCES_ZH = {"portal": "门户", "cli": "命令行"}
EVERYTHING = Scope(everything=True)


def overdue_text(seconds: float) -> str:
    """How long overdue, in Chinese: days and hours, or hours and minutes under a day."""
    minutes = int(seconds // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{minutes % 60}分钟"


async def supervisor_page(
    page: Page, inputs: BoundInputs, form: SearchForm, refused_page: int
) -> HTMLResponse:
    engine, now = page.portal.engine(), datetime.now(UTC)
    counts = await stage_level_counts(engine, EVERYTHING)
    levels = [lv.value for lv in Level]
    stages = [s.value for s in Stage if any(st == s.value for st, _ in counts)]
    late = await search_declarations(
        engine, Criteria(overdue=True), EVERYTHING, now=now, per_page=OVERDUE_SHOWN
    )
    overdue = []
    for row in late.rows:  # soonest deadline first: the longest overdue
        passed = passed_stage_deadline(row.stage, row.deadlines, now)
        if passed is not None:
            overdue.append(
                {
                    "row": row,
                    "deadline": passed.deadline,
                    "due_at": passed.due_at,
                    "overdue_by": overdue_text(passed.overdue_by.total_seconds()),
                }
            )
    refused, refused_total = await latest_refused_attempts(
        engine, limit=REFUSED_PAGE, offset=(refused_page - 1) * REFUSED_PAGE
    )
    people = await display_names(engine, {a.actor_id for a in refused})  # R26
    searched, refusal = await search_context(page, inputs, form, action="/supervisor#declarations")
    for item in searched["search"]["found"]:
        item["audit"] = f"/supervisor/audit/{item['row'].workflow_id}"
    context = searched | {
        "counts": counts,
        "levels": levels,
        "stages": stages,
        "overdue": overdue,
        "overdue_total": late.total,
        "refused": refused,
        "refused_total": refused_total,
        "refused_page": refused_page,
        "refused_pages": max(1, -(-refused_total // REFUSED_PAGE)),
        "refused_first": (refused_page - 1) * REFUSED_PAGE + 1,
        "refused_per_page": REFUSED_PAGE,
        "refused_people": people,
        "sources": SOURCES_ZH,
        "this_year": shanghai_date(now).year,
        "all_stages": [stage.value for stage in Stage],
        "dimensions": {
            Dimension.level: "申报级别",
            Dimension.jurisdiction: "评审范围",
            Dimension.employer: "工作单位",
        },
    }
    return page.render("supervisor.html", context, refusal)


@router.get("/supervisor", response_class=HTMLResponse)
async def supervisor(
    page: OverseerPage, inputs: Inputs, refused_page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    form = SearchForm.read(page.request.query_params, query=False)
    return await supervisor_page(page, inputs, form, refused_page)


@router.post("/supervisor", response_class=HTMLResponse)
async def supervisor_search(page: OverseerPage, form: CheckedForm, inputs: Inputs) -> Response:
    return await supervisor_page(page, inputs, SearchForm.read(form), 1)


@router.get("/supervisor/audit/{workflow_id}", response_class=HTMLResponse)
async def supervisor_audit(page: OverseerPage, portal: PortalDep, workflow_id: str) -> Response:
    """R26: who did what, when, on one declaration: its audit trail, the person named."""
    row = await portal.row(workflow_id)
    if row is None:
        raise HTTPException(404, "没有这份申报")
    trail = await audit_trail(portal, workflow_id)
    return page.render("supervisor_audit.html", {"row": row, "trail": trail})


# --- exports (the roster, the figures): the supervisor's and the observer's, each recorded ----

EXPORT_MEDIA = {
    SheetKind.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    SheetKind.csv: "text/csv; charset=utf-8",
}


def _download(data: bytes, kind: SheetKind, name: str) -> Response:
    quoted = quote(f"{name}.{kind.value}")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"}
    return Response(data, media_type=EXPORT_MEDIA[kind], headers=headers)


def _kind(kind: str) -> SheetKind:
    if kind not in SheetKind.__members__:
        raise HTTPException(404, "只能导出 .xlsx 或 .csv")
    return SheetKind(kind)


@router.get("/supervisor/exports/roster.{kind}")
async def export_roster_file(
    page: OverseerPage,
    kind: str,
    year: int,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    employer: Annotated[str | None, Query(max_length=18)] = None,
) -> Response:
    """The round's roster (花名册), all of it or one stage's or one employer's (a form's
    empty field is no filter)."""
    if stage and stage not in Stage.__members__:
        raise HTTPException(400, "没有这个阶段")
    actor = Actor(role=Role(page.account.role), id=actor_id_of(page.account))
    data, _ = await export_roster(
        page.portal.engine(), actor, year, _kind(kind),
        stage=stage or None, employer_uscc=employer or None, identities=True,
    )  # fmt: skip
    return _download(data, _kind(kind), f"{year}年度职称申报花名册")


@router.get("/supervisor/exports/statistics.{kind}")
async def export_statistics_file(
    page: OverseerPage, kind: str, year: int, by: Dimension = Dimension.level
) -> Response:
    actor = Actor(role=Role(page.account.role), id=actor_id_of(page.account))
    data = await export_figures(page.portal.engine(), actor, year, _kind(kind), by)
    return _download(data, _kind(kind), f"{year}年度职称评审统计")


# --- the round's figures at a glance (charts drawn on the server: no script needed) --------

BAR_WIDTH = 520  # the chart's bars, in SVG units


def bars(groups: dict[str, Figures], label: Callable[[str], str]) -> list[dict[str, Any]]:
    """Each group's bar: declared as the whole, passed and in progress as its parts."""
    widest = max((g.declared for g in groups.values()), default=0) or 1
    return [
        {
            "label": label(name),
            "declared": group.declared,
            "width": round(BAR_WIDTH * group.declared / widest),
            "passed": round(BAR_WIDTH * group.passed / widest),
            "in_progress": round(BAR_WIDTH * group.in_progress / widest),
            "figures": group,
        }
        for name, group in groups.items()
    ]


def window_progress(config: RoundConfig | None, now: datetime) -> list[dict[str, Any]]:
    """Each window of the round and how far through it `now` is (0–100)."""
    if config is None:
        return []
    windows = [
        ("网上申报", config.submission_opens_at, config.submission_closes_at),
        ("评审机构审核", config.review_opens_at, config.review_closes_at),
        ("缴费", config.review_opens_at, config.payment_closes_at),
    ]
    shown = []
    for name, opens, closes in windows:
        span = (closes - opens).total_seconds() or 1
        done = min(max((now - opens).total_seconds() / span, 0), 1)
        shown.append({"name": name, "window": cn_window(opens, closes, zone=False),
                      "percent": round(done * 100)})  # fmt: skip
    return shown


@router.get("/supervisor/statistics", response_class=HTMLResponse)
async def statistics_page(
    page: OverseerPage, year: int | None = None, by: Dimension = Dimension.level
) -> Response:
    now = datetime.now(UTC)
    year = year or shanghai_date(now).year
    figures = await round_statistics(page.portal.engine(), year, now)
    config = await running_round_config(await page.portal.temporal(), year)
    names: dict[Dimension, Callable[[str], str]] = {
        Dimension.level: chinese_name(LEVEL_NAMES_ZH, Level),
        Dimension.jurisdiction: chinese_name(JURISDICTION_NAMES_ZH, Jurisdiction),
        Dimension.employer: str,
    }
    context = {
        "year": year,
        "by": by,
        "figures": figures,
        "bars": bars(figures.by.get(by, {}), names[by]),
        "stage_bars": bars(
            {stage: Figures(declared=count) for stage, count in figures.by_stage.items()},
            chinese_name(STAGE_NAMES_ZH, Stage),
        ),
        "windows": window_progress(config, now),
        "bar_width": BAR_WIDTH,
        "dimensions": {Dimension.level: "申报级别", Dimension.jurisdiction: "评审范围",
                       Dimension.employer: "工作单位"},
    }  # fmt: skip
    return page.render("supervisor_statistics.html", context)
