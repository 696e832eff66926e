"""The expert pool (R27): experts with their employer, specialty, title, contact, an active
flag and their declared conflicts (employers of the last 3 years, related persons by a keyed
hash of the ID card, never the number), and an audit row for every change.

An expert is known everywhere outside this table by the pool code (`E0001`): the committee
session's workflow, its history and its search attributes hold codes only. Names and
contacts are shown to the supervisor and the committee secretary, and to other roles only
once the session they sit in is open (portal/routers/committee.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from models.committee import ConflictReason, PoolConflict, PoolSnapshot, PoolSnapshotRequest
from models.common import Actor, Stage
from models.experts import (
    ExpertChangeView,
    ExpertContact,
    ExpertProfile,
    ExpertView,
    ImportRow,
    PastEmployer,
)
from rules.committee import pool_digest
from rules.identity import applicant_key
from store.tables import Base, DeclarationRow, utcnow


class Expert(Base):
    __tablename__ = "experts"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # E0001
    name: Mapped[str] = mapped_column(String(100))
    employer_uscc: Mapped[str] = mapped_column(String(18))  # the current employer
    employer_name: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100))  # e.g. 正高级工程师
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExpertEmployer(Base):
    """An earlier employer (R27: a conflict with its staff for 3 years after `left_on`)."""

    __tablename__ = "expert_employers"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(
        String(16), ForeignKey("experts.code", ondelete="CASCADE"), index=True
    )
    uscc: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200))
    left_on: Mapped[date] = mapped_column(Date)


class ExpertRelation(Base):
    """A person the expert declared a relation to: the applicant key of their ID card
    (rules.identity.applicant_key), so a declaration of theirs is found without the number."""

    __tablename__ = "expert_relations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(
        String(16), ForeignKey("experts.code", ondelete="CASCADE"), index=True
    )
    applicant_key: Mapped[str] = mapped_column(String(64), index=True)
    relation: Mapped[str] = mapped_column(String(50))  # e.g. 配偶, 近亲属, 师生


class ExpertChange(Base):
    """The audit of the pool: who changed which expert, which fields (never their values)."""

    __tablename__ = "expert_changes"
    __table_args__ = (Index("ix_expert_changes_code_at", "code", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # created, updated, deactivated, ...
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- the pool's changes (the supervisor: the portal, the command line, a spreadsheet) ----------

CODE_PREFIX = "E"
CODE_DIGITS = 4  # E0001 …; more digits once past E9999 (models.committee.ExpertCode)
# The scalar fields of an expert, as ExpertProfile names them and the table stores them.
PROFILE_FIELDS = (
    "name",
    "employer_uscc",
    "employer_name",
    "specialty",
    "title",
    "mobile",
    "email",
    "active",
)
# pg_advisory_xact_lock's key for allocating codes (any constant of our own)
_POOL_LOCK = 0x7A680001
RECENT_EMPLOYER_YEARS = 3  # R27: an employer left within 3 years is a conflict


class ExpertNotFound(LookupError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no expert {code} in the pool")
        self.code = code


class ImportRefused(ValueError):
    """A spreadsheet refused as a whole; `errors` in Chinese, one per row and column."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s) in the file")
        self.errors = errors


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # code: the fields changed
    unchanged: list[str] = field(default_factory=list)


async def _lock_pool(conn: AsyncConnection) -> None:
    """Serialize the transactions that allocate codes: the next code is read, then written."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POOL_LOCK})
    else:  # SQLite: a write first takes the database's write lock at once (no upgrade race)
        await conn.execute(update(Expert).where(text("0 = 1")).values(code=Expert.code))


async def _next_code(conn: AsyncConnection) -> str:
    last = await conn.scalar(
        select(Expert.code).order_by(func.length(Expert.code).desc(), Expert.code.desc()).limit(1)
    )
    number = int(last[len(CODE_PREFIX) :]) + 1 if last else 1
    return f"{CODE_PREFIX}{number:0{CODE_DIGITS}d}"


def _past(employers: Iterable[PastEmployer]) -> list[tuple[str, str, date]]:
    return sorted({(e.uscc, e.name, e.left_on) for e in employers})


def _relations(profile: ExpertProfile, secret: str) -> list[tuple[str, str]]:
    return sorted({(applicant_key(r.id_card, secret), r.relation) for r in profile.relations or []})


async def _write_past(conn: AsyncConnection, code: str, past: list[tuple[str, str, date]]) -> None:
    await conn.execute(delete(ExpertEmployer).where(ExpertEmployer.code == code))
    if past:
        rows = [{"code": code, "uscc": u, "name": n, "left_on": d} for u, n, d in past]
        await conn.execute(insert(ExpertEmployer), rows)


async def _write_relations(
    conn: AsyncConnection, code: str, relations: list[tuple[str, str]]
) -> None:
    await conn.execute(delete(ExpertRelation).where(ExpertRelation.code == code))
    if relations:
        rows = [{"code": code, "applicant_key": k, "relation": r} for k, r in relations]
        await conn.execute(insert(ExpertRelation), rows)


async def _audit(
    conn: AsyncConnection,
    code: str,
    action: str,
    fields: Sequence[str],
    actor: Actor,
    note: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        insert(ExpertChange).values(
            code=code,
            action=action,
            fields=list(fields),
            actor_role=actor.role.value,
            actor_id=actor.id,
            note=note,
            changed_at=at,
        )
    )


async def _add(
    conn: AsyncConnection, profile: ExpertProfile, actor: Actor, secret: str, note: str | None
) -> str:
    await _lock_pool(conn)
    code = await _next_code(conn)
    now = utcnow()
    values = {name: getattr(profile, name) for name in PROFILE_FIELDS}
    await conn.execute(insert(Expert).values(code=code, created_at=now, updated_at=now, **values))
    past, relations = _past(profile.past_employers), _relations(profile, secret)
    await _write_past(conn, code, past)
    await _write_relations(conn, code, relations)
    fields = [name for name, value in values.items() if value is not None]
    fields += ["past_employers"] * bool(past) + ["relations"] * bool(relations)
    await _audit(conn, code, "created", fields, actor, note, now)
    return code


async def _locked_expert(conn: AsyncConnection, code: str) -> Any:
    query = select(Expert).where(Expert.code == code)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise ExpertNotFound(code)
    return row


async def _update(
    conn: AsyncConnection,
    code: str,
    profile: ExpertProfile,
    actor: Actor,
    secret: str,
    note: str | None,
) -> list[str]:
    row = await _locked_expert(conn, code)
    changed = [name for name in PROFILE_FIELDS if getattr(row, name) != getattr(profile, name)]
    now = utcnow()
    old_past = await conn.execute(
        select(ExpertEmployer.uscc, ExpertEmployer.name, ExpertEmployer.left_on).where(
            ExpertEmployer.code == code
        )
    )
    past = _past(profile.past_employers)
    if sorted(tuple(r) for r in old_past) != past:
        changed.append("past_employers")
        await _write_past(conn, code, past)
    if profile.relations is not None:
        relations = _relations(profile, secret)
        old = await conn.execute(
            select(ExpertRelation.applicant_key, ExpertRelation.relation).where(
                ExpertRelation.code == code
            )
        )
        if sorted(tuple(r) for r in old) != relations:
            changed.append("relations")
            await _write_relations(conn, code, relations)
    if changed:
        values = {name: getattr(profile, name) for name in PROFILE_FIELDS if name in changed}
        await conn.execute(
            update(Expert).where(Expert.code == code).values(updated_at=now, **values)
        )
        await _audit(conn, code, "updated", changed, actor, note, now)
    return changed


async def add_expert(
    engine: AsyncEngine,
    profile: ExpertProfile,
    actor: Actor,
    applicant_secret: str,
    note: str | None = None,
) -> str:
    """A new expert with the pool's next code (E0001, E0002, …): its code. The related
    persons' ID cards are kept only as applicant keys under `applicant_secret`."""
    async with engine.begin() as conn:
        return await _add(conn, profile, actor, applicant_secret, note)


async def update_expert(
    engine: AsyncEngine,
    code: str,
    profile: ExpertProfile,
    actor: Actor,
    applicant_secret: str,
    note: str | None = None,
) -> list[str]:
    """The fields that changed (none: nothing written); ExpertNotFound. The earlier
    employers are replaced by the profile's; the relations only when it gives them."""
    async with engine.begin() as conn:
        return await _update(conn, code, profile, actor, applicant_secret, note)


async def set_active(
    engine: AsyncEngine, code: str, active: bool, actor: Actor, note: str | None = None
) -> bool:
    """Put the expert in the pool (drawn from) or out of it: False when it was so already;
    ExpertNotFound. An inactive expert is kept, with its history, and drawn no more."""
    async with engine.begin() as conn:
        row = await _locked_expert(conn, code)
        if row.active == active:
            return False
        now = utcnow()
        await conn.execute(
            update(Expert).where(Expert.code == code).values(active=active, updated_at=now)
        )
        action = "activated" if active else "deactivated"
        await _audit(conn, code, action, ["active"], actor, note, now)
    return True


async def import_experts(
    engine: AsyncEngine,
    rows: Sequence[ImportRow],
    actor: Actor,
    applicant_secret: str,
    note: str | None = None,
) -> ImportSummary:
    """A spreadsheet's rows in one transaction: a row with a code updates that expert, one
    without adds one. All or nothing: a code the pool does not have, or one given twice,
    refuses the whole file (ImportRefused) before anything is written."""
    summary = ImportSummary()
    async with engine.begin() as conn:
        await _lock_pool(conn)
        codes = [row.code for row in rows if row.code]
        known = set(
            (await conn.scalars(select(Expert.code).where(Expert.code.in_(codes)))).all()
            if codes
            else []
        )
        errors, seen = [], set()
        for row in rows:
            if row.code and row.code not in known:
                errors.append(f"第{row.line}行 专家编号：专家库中没有 {row.code}")
            elif row.code in seen:
                errors.append(f"第{row.line}行 专家编号：{row.code} 在文件中出现了不止一次")
            seen.add(row.code)
        if errors:
            raise ImportRefused(errors)
        for row in rows:
            if row.code is None:
                summary.added.append(await _add(conn, row.profile, actor, applicant_secret, note))
            elif changed := await _update(
                conn, row.code, row.profile, actor, applicant_secret, note
            ):
                summary.updated[row.code] = changed
            else:
                summary.unchanged.append(row.code)
    return summary


# --- reading the pool ---------------------------------------------------------------------------


def _code_order() -> list[Any]:
    return [func.length(Expert.code), Expert.code]


async def _views(conn: AsyncConnection, *where: Any) -> list[ExpertView]:
    experts = list(await conn.execute(select(Expert).where(*where).order_by(*_code_order())))
    if not experts:
        return []
    codes = [row.code for row in experts]
    past: dict[str, list[PastEmployer]] = {}
    employers = await conn.execute(
        select(ExpertEmployer)
        .where(ExpertEmployer.code.in_(codes))
        .order_by(ExpertEmployer.left_on.desc(), ExpertEmployer.id)
    )
    for e in employers:
        past.setdefault(e.code, []).append(
            PastEmployer(uscc=e.uscc, name=e.name, left_on=e.left_on)
        )
    counted = await conn.execute(
        select(ExpertRelation.code, func.count())
        .where(ExpertRelation.code.in_(codes))
        .group_by(ExpertRelation.code)
    )
    relations = {code: int(n) for code, n in counted}
    return [
        ExpertView(
            code=row.code,
            **{name: getattr(row, name) for name in PROFILE_FIELDS},
            past_employers=past.get(row.code, []),
            relations=relations.get(row.code, 0),
            updated_at=row.updated_at,
        )
        for row in experts
    ]


async def get_expert(engine: AsyncEngine, code: str) -> ExpertView | None:
    async with engine.connect() as conn:
        found = await _views(conn, Expert.code == code)
    return found[0] if found else None


async def list_experts(
    engine: AsyncEngine,
    *,
    specialty: str | None = None,
    active: bool | None = None,
    query: str | None = None,
) -> list[ExpertView]:
    """The pool in code order; `query`: part of a name, a code, an employer's name or code."""
    where: list[Any] = []
    if specialty:
        where.append(Expert.specialty == specialty)
    if active is not None:
        where.append(Expert.active == active)
    if query and query.strip():
        part = query.strip()
        where.append(
            or_(
                *(
                    column.icontains(part, autoescape=True)
                    for column in (
                        Expert.name,
                        Expert.code,
                        Expert.employer_name,
                        Expert.employer_uscc,
                    )
                )
            )
        )
    async with engine.connect() as conn:
        return await _views(conn, *where)


async def specialties(engine: AsyncEngine) -> list[str]:
    """The specialties the pool has (the pages' filter)."""
    async with engine.connect() as conn:
        found = await conn.scalars(select(Expert.specialty).distinct().order_by(Expert.specialty))
        return list(found)


async def expert_names(engine: AsyncEngine, codes: Iterable[str]) -> dict[str, str]:
    """Each known code's name; codes the pool does not have are left out."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    async with engine.connect() as conn:
        rows = await conn.execute(select(Expert.code, Expert.name).where(Expert.code.in_(wanted)))
        return {code: name for code, name in rows}


async def expert_contact(engine: AsyncEngine, code: str) -> ExpertContact | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(Expert.name, Expert.mobile, Expert.email).where(Expert.code == code)
            )
        ).first()
    return ExpertContact(name=row.name, mobile=row.mobile, email=row.email) if row else None


async def expert_changes(engine: AsyncEngine, code: str | None = None) -> list[ExpertChangeView]:
    """The pool's audit, oldest first (one expert's, or everyone's)."""
    query = select(ExpertChange).order_by(ExpertChange.changed_at, ExpertChange.id)
    if code is not None:
        query = query.where(ExpertChange.code == code)
    async with engine.connect() as conn:
        rows = list(await conn.execute(query))
    return [
        ExpertChangeView(
            code=row.code,
            action=row.action,
            fields=row.fields or [],
            actor_role=row.actor_role,
            actor_id=row.actor_id,
            note=row.note,
            changed_at=row.changed_at,
            details=row.details,
        )
        for row in rows
    ]


# --- the pool as a committee session's draw sees it (R27) --------------------------------------


def recent_cutoff(today: date) -> date:
    """The earliest leaving date of an employer that is still a conflict on `today`."""
    try:
        return today.replace(year=today.year - RECENT_EMPLOYER_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - RECENT_EMPLOYER_YEARS, day=28)


def _key_of(workflow_id: str, year: int) -> str | None:
    """The applicant key a declaration's workflow id ends with (rules/identity.py)."""
    prefix = f"decl-{year}-"
    return workflow_id[len(prefix) :] if workflow_id.startswith(prefix) else None


async def pool_snapshot(
    engine: AsyncEngine, request: PoolSnapshotRequest, today: date
) -> PoolSnapshot:
    """The session's declarations (given, or the round's in `committee` in the record's
    projection), the active experts (of the specialty when given) and every conflict between
    them: the applicant's employer is the expert's now, or one it left within 3 years of
    `today`; or the expert declared a relation to the applicant."""
    decl = DeclarationRow
    async with engine.connect() as conn:
        if request.declarations is None:
            rows = await conn.execute(
                select(decl.workflow_id, decl.employer_uscc, decl.applicant_key).where(
                    decl.workflow_id.startswith(f"decl-{request.year}-", autoescape=True),
                    decl.stage == Stage.committee.value,
                )
            )
            found = {wf: (uscc, key) for wf, uscc, key in rows}
            declarations = sorted(found)
        else:
            declarations = sorted(set(request.declarations))
            rows = await conn.execute(
                select(decl.workflow_id, decl.employer_uscc, decl.applicant_key).where(
                    decl.workflow_id.in_(declarations)
                )
            )
            found = {wf: (uscc, key) for wf, uscc, key in rows}
        active: list[Any] = [Expert.active.is_(True)]
        if request.specialty:
            active.append(Expert.specialty == request.specialty)
        experts = list(
            await conn.execute(
                select(Expert.code, Expert.employer_uscc).where(*active).order_by(*_code_order())
            )
        )
        past = await conn.execute(
            select(ExpertEmployer.code, ExpertEmployer.uscc)
            .join(Expert, Expert.code == ExpertEmployer.code)
            .where(*active, ExpertEmployer.left_on >= recent_cutoff(today))
        )
        relations = await conn.execute(
            select(ExpertRelation.code, ExpertRelation.applicant_key)
            .join(Expert, Expert.code == ExpertRelation.code)
            .where(*active)
        )
        employers: dict[str, set[str]] = {code: {uscc} for code, uscc in experts}
        for code, uscc in past:
            employers[code].add(uscc)
        related: dict[str, set[str]] = {}
        for code, key in relations:
            related.setdefault(key, set()).add(code)
    by_employer: dict[str, list[str]] = {}
    keys: dict[str, str | None] = {}
    for workflow_id in declarations:
        if workflow_id in found:
            uscc, key = found[workflow_id]
            by_employer.setdefault(uscc, []).append(workflow_id)
            keys[workflow_id] = key
        else:  # not projected (yet): its id still names the applicant's key
            keys[workflow_id] = _key_of(workflow_id, request.year)
    conflicts: set[tuple[str, str, ConflictReason]] = set()
    for code, usccs in employers.items():
        for uscc in usccs:
            for workflow_id in by_employer.get(uscc, []):
                conflicts.add((code, workflow_id, ConflictReason.employer))
    for workflow_id, applicant in keys.items():
        for code in related.get(applicant or "", set()):
            conflicts.add((code, workflow_id, ConflictReason.relation))
    pool_conflicts = [
        PoolConflict(code=code, workflow_id=wf, reason=reason)
        for code, wf, reason in sorted(conflicts)
    ]
    codes = [code for code, _ in experts]
    return PoolSnapshot(
        declarations=declarations,
        experts=codes,
        conflicts=pool_conflicts,
        sha256=pool_digest(declarations, codes, pool_conflicts),
    )
