"""/search: find a declaration by the applicant's name, ID-card number or 申报编号, with
filters (stage, level, jurisdiction, round year, overdue), counts and pages, soonest deadline
first (store/search.py). For the employer (its own staff), the competent unit (its employers'
declarations) and the supervisor (everything) only: the evaluation body and the committee
review blind and never look anyone up (R11; portal/context.py SEARCH_ROLES); the applicant has
one declaration a round and its own page.

    GET  /search?stage=...&level=...&jurisdiction=...&year=...&overdue=1    filters only
    POST /search     q (name, ID card or number), the filters, page (the form, CSRF-checked)

What a person types is posted, never put in the address: an address is written to access
logs and the browser's history, and a name or an ID-card number must not be. An ID-card
number is not shown back either: the page carries its applicant key (a pseudonym, as in the
workflow ids) to the next page instead. Each result links to the role's own page of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse, Response

from models.common import Jurisdiction, Level, Role, Stage
from portal.assignments import MINE, named_assignees
from portal.bound import BoundInputs, Inputs, is_ours, unit_name
from portal.context import SEARCH_ROLES, Refusal, actor_id_of, workflow_ui
from portal.deps import CheckedForm, CurrentAccount, Page, page_of
from rules.actions import HOLDERS
from rules.overdue import current_deadline
from store.accounts import Account
from store.search import (
    PER_PAGE,
    Criteria,
    QueryKind,
    Scope,
    SearchPage,
    by_applicant_key,
    criteria,
    search_declarations,
    unit_unknown,
)

router = APIRouter()
_KEY = re.compile(r"[0-9a-f]{16}")  # rules.identity.applicant_key's shape
E = TypeVar("E", bound=StrEnum)

ASSIGNING_ROLES = frozenset(HOLDERS.values())  # R26: the organisations that 转办

KIND_TEXT = {
    QueryKind.number: "按申报编号查找",
    QueryKind.id_card: "按身份证号码查找（精确匹配，号码不在页面上显示）",
    QueryKind.name: "按姓名查找",
}
SCOPE_TEXT = {
    Role.employer.value: "本单位人员的申报",
    Role.competent_unit.value: "所属用人单位人员的申报",
    Role.supervisor.value: "全部申报",
}


async def searcher(account: CurrentAccount) -> Account:
    """A dependency: the logged-in account, which must be one that searches (403 otherwise;
    the login page for nobody)."""
    if account.role not in SEARCH_ROLES:
        raise HTTPException(403, "这个页面不属于您的角色")
    return account


SearchPageDep = Annotated[Page, Depends(page_of(searcher))]


def _member(kind: type[E], value: str | None) -> E | None:
    try:
        return kind(value or "")
    except ValueError:
        return None


@dataclass(frozen=True)
class SearchForm:
    """What a search asked for (the form, or the address's filters): anything malformed
    counts as not given."""

    q: str = ""
    key: str | None = None  # the applicant key of an ID-card search, for its next pages
    stage: Stage | None = None
    level: Level | None = None
    jurisdiction: Jurisdiction | None = None
    year: int | None = None
    overdue: bool = False
    mine: bool = False  # R26 "分配给我": only those assigned to the signed-in account
    page: int = 1

    @classmethod
    def read(cls, values: Mapping[str, str], *, query: bool = True) -> SearchForm:
        """From a form's or an address's values; `query` False: filters only (an address)."""
        year, page = values.get("year", "").strip(), values.get("page", "").strip()
        key = values.get("key", "").strip()
        return cls(
            q=values.get("q", "").strip() if query else "",
            key=key if query and _KEY.fullmatch(key) else None,
            stage=_member(Stage, values.get("stage")),
            level=_member(Level, values.get("level")),
            jurisdiction=_member(Jurisdiction, values.get("jurisdiction")),
            year=int(year) if year.isdigit() and 2000 <= int(year) <= 2100 else None,
            overdue=values.get("overdue") == "1",
            mine=values.get(MINE) == "1",
            page=int(page) if page.isdigit() and int(page) >= 1 else 1,
        )


def detail_link(role: str, row: Any, ui: Any) -> tuple[str | None, bool]:
    """Where a result leads the role (its own page of the declaration) and whether it is
    another site (the Temporal Web UI, for the supervisor)."""
    if role == Role.employer.value:
        return f"/employer/{row.workflow_id}", False
    if role == Role.competent_unit.value:
        in_queue = row.stage == Stage.competent_unit_review.value  # its page lists those
        return (f"/competent-unit#{row.workflow_id}" if in_queue else None), False
    return ui(row.workflow_id), True


async def scope_of(
    page: Page, inputs: BoundInputs, looked_for: Criteria, stages: frozenset[str] = frozenset()
) -> tuple[Scope, bool]:
    """The account's scope (only `stages`, when given: a role's queue), and whether part of it
    could not be read (a competent unit's declarations last recorded before the projection
    kept the unit are read from their workflows' input, as its queue reads them:
    portal/routers/competent_unit.py)."""
    account = page.account
    if account.role == Role.supervisor.value:
        return Scope(everything=True, stages=stages), False
    if account.role == Role.employer.value:
        return Scope(employer_uscc=account.employer_uscc or None, stages=stages), False
    name = unit_name(account.display_name)
    also, unreadable = set(), False
    for workflow_id in await unit_unknown(page.portal.engine(), looked_for, stages):
        try:
            of = await inputs.get(page.portal, workflow_id)
        except Refusal:
            unreadable = True
            continue
        if is_ours(account, of):
            also.add(workflow_id)
    return Scope(competent_unit=name or None, also=frozenset(also), stages=stages), unreadable


def found(page: Page, form: SearchForm) -> Criteria:
    """The criteria of the form: what was typed wins over the key of an earlier ID card."""
    filters: dict[str, Any] = {
        "year": form.year,
        "stage": form.stage,
        "level": form.level,
        "jurisdiction": form.jurisdiction,
        "overdue": form.overdue,
        "assignee": actor_id_of(page.account) if form.mine else None,
    }
    if not form.q and form.key:
        return by_applicant_key(form.key, **filters)
    return criteria(form.q, page.portal.settings.applicant_key_secret, **filters)


async def search_context(
    page: Page,
    inputs: BoundInputs,
    form: SearchForm,
    *,
    action: str,
    per_page: int = PER_PAGE,
    stages: tuple[Stage, ...] = (),
) -> tuple[dict[str, Any], Refusal | None]:
    """What templates/portal/search_results.html and the role lists show (`search`: the
    list_controls and list_pages macros), and a refusal to show when part of the scope could
    not be read. `action`: where its form posts; `stages`: only these (a role's queue)."""
    now = datetime.now(UTC)
    looked_for = found(page, form)
    scope, unreadable = await scope_of(page, inputs, looked_for, frozenset(s.value for s in stages))
    result: SearchPage = await search_declarations(
        page.portal.engine(), looked_for, scope, now=now, page=form.page, per_page=per_page
    )
    ui = workflow_ui(page.portal.settings)
    names = await named_assignees(page.portal, page.account, (r.assignee for r in result.rows))
    items = []
    for row in result.rows:
        href, external = detail_link(page.account.role, row, ui)
        deadline = current_deadline(row.stage, row.deadlines)
        items.append(
            {
                "row": row,
                "href": href,
                "external": external,
                "deadline": deadline,
                "overdue": row.next_deadline is not None and row.next_deadline <= now,
                "assignee": names.get(row.assignee or ""),  # R26: this organisation's
            }
        )
    search = {
        "action": action,
        "form": form,
        # an ID-card number is never shown back: its key goes to the next page instead
        "q_shown": "" if looked_for.kind is QueryKind.id_card else form.q,
        "key": looked_for.applicant_key if looked_for.kind is QueryKind.id_card else None,
        "kind_text": KIND_TEXT.get(looked_for.kind),
        "id_card_invalid": not looked_for.id_card_valid,
        "scope_text": SCOPE_TEXT.get(page.account.role, ""),
        "result": result,
        "found": items,
        "stages": [s.value for s in stages or Stage],
        "assigns": Role(page.account.role) in ASSIGNING_ROLES,  # 经办人 and 分配给我
        "levels": [lv.value for lv in Level],
        "jurisdictions": [j.value for j in Jurisdiction],
    }
    refusal = None
    if unreadable:
        refusal = Refusal("部分较早的申报暂时无法读取，结果可能不全，请稍后刷新。", "", 200)
    return {"search": search}, refusal


@router.get("/search", response_class=HTMLResponse)
async def search_get(page: SearchPageDep, inputs: Inputs) -> Response:
    form = SearchForm.read(page.request.query_params, query=False)
    context, refusal = await search_context(page, inputs, form, action="/search")
    return page.render("search.html", context, refusal)


@router.post("/search", response_class=HTMLResponse)
async def search_post(page: SearchPageDep, form: CheckedForm, inputs: Inputs) -> Response:
    context, refusal = await search_context(page, inputs, SearchForm.read(form), action="/search")
    return page.render("search.html", context, refusal)
