"""A declaration's dossier as its reviewers read it: every answer of the declaration form under
the form's own Chinese labels and option names (portal/declaration_form.py `FORM`), the
achievements, and what the rules make of the answers (continuing education or its
exemption, R4; the level a skill level counts as, R5/R25; the village route, R6; the
defense or its exemption, R18/R19).

`dossier(declaration, blind=False)`: the employer's and the competent unit's, everything.
`dossier(declaration, blind=True)`: the evaluation body's and the committee's (R11), without
the form's applicant part — name, ID card, mobile, e-mail, employer, its USCC, its competent
unit (every field under `applicant.`), which is all of the form that names or locates the
applicant. A blind page gets only this (strings built here), never the declaration itself.

The employer's recommendation scans (attachments 2 and 3, R14) are read from its audit
event (`recommendation_scans`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from models.common import LEVEL_NAMES_ZH, SKILL_LEVEL_NAMES_ZH, Level
from models.declaration import DeclarationInput, TitleBasis
from portal.audit import recorded_details
from portal.context import Portal
from portal.declaration_form import ACHIEVEMENT_KINDS_ZH, FORM, FormField
from portal.uploads import StoredUpload
from rules.eligibility import (
    MIN_VILLAGE_MONTHS_FOR_EXEMPTION,
    VILLAGE_ROUTE_YEARS,
    defense_exempt,
    defense_required,
    effective_current_level,
    village_route_applies,
)
from store.uploads import Upload

IDENTIFYING = "applicant."  # the form's fields that name or locate the applicant (R11)
UPLOAD_REF = "upload:"  # how a recommendation names a scan it uploaded (routers/employer.py)
SCAN_REFS = {  # attachment number -> the recommendation's reference to its signed scan
    2: "publicity_original_ref",
    3: "publicity_result_ref",
}
SCAN_NAMES_ZH = {
    2: "公示原件（附件2，签章扫描件）",
    3: "公示结果证明（附件3，签章扫描件）",
}


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)  # (label, answer)


@dataclass(frozen=True)
class Dossier:
    sections: list[Section]
    achievements: list[tuple[str, str]]  # (kind, title)
    assessment: list[tuple[str, str]]  # what the rules make of the answers


def _value_at(declaration: DeclarationInput, path: str) -> Any:
    target: Any = declaration
    for part in path.split("."):
        target = getattr(target, part)
    return target


def answer(spec: FormField, value: Any) -> str:
    """A form field's answer as the form offered it (its option's name, 是/否)."""
    if spec.kind == "check":
        return "是" if value else "否"
    if spec.kind == "select":
        key = "" if value is None else str(getattr(value, "value", value))
        return spec.options.get(key, key or "无")
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value in (None, "") else str(value)


def answers(declaration: DeclarationInput, *, blind: bool) -> list[Section]:
    """The form's fields with their answers, in the form's sections and order (the
    achievements apart: `achievements`); blind: without the applicant part."""
    sections: list[Section] = []
    for spec in FORM:
        if spec.name.startswith("achievements["):
            continue
        if spec.section or not sections:
            sections.append(Section(spec.section))
        if blind and spec.name.startswith(IDENTIFYING):
            continue
        sections[-1].rows.append((spec.label, answer(spec, _value_at(declaration, spec.name))))
    return [s for s in sections if s.rows]


def achievements(declaration: DeclarationInput) -> list[tuple[str, str]]:
    return [(ACHIEVEMENT_KINDS_ZH[a.kind], a.title) for a in declaration.achievements]


def assessment(declaration: DeclarationInput) -> list[tuple[str, str]]:
    """What the rules make of the answers, for the reviewer judging eligibility."""
    facts, level = declaration.eligibility, declaration.level
    months = facts.village_stationed_months_this_year
    if facts.continuing_education_completed:
        education = "已完成"
    elif defense_exempt(facts):
        education = (
            f"本年度驻村{months}个月（满{MIN_VILLAGE_MONTHS_FOR_EXEMPTION}个月），免于继续教育"
        )
    else:
        education = "未完成"
    rows = [("继续教育", education)]
    if facts.current_level_basis is TitleBasis.vocational_skill:  # R25
        counted = effective_current_level(facts, declaration.round)
        held = facts.vocational_skill_level
        skill = SKILL_LEVEL_NAMES_ZH[held] if held is not None else "未填写"
        said = LEVEL_NAMES_ZH[counted] if counted else "不对应任何职称级别"
        rows.append(("职业技能等级对应的职称级别", f"{skill}：{said}"))
    if level is Level.associate_senior:  # R6
        route = (
            f"适用：连续驻村{facts.consecutive_village_years}年、"
            f"连续考核优秀{facts.consecutive_excellent_assessments}年，不受任职年限限制"
            if village_route_applies(facts, level)
            else f"不适用（须现有中级职称，连续驻村且考核优秀满{VILLAGE_ROUTE_YEARS}年）"
        )
        rows.append(("驻村直接申报副高级", route))
    if not defense_required(level):  # R18
        defense = f"{LEVEL_NAMES_ZH[level]}不需答辩"
    elif defense_exempt(facts):  # R19
        defense = "本年度驻村满半年，免于现场答辩，按当年现场答辩平均分赋分"
    else:
        defense = "须参加专业水平答辩"
    rows.append(("专业水平答辩", defense))
    return rows


def dossier(declaration: DeclarationInput, *, blind: bool) -> Dossier:
    return Dossier(
        answers(declaration, blind=blind), achievements(declaration), assessment(declaration)
    )


# --- the employer's recommendation scans (R14) ------------------------------------------------


@dataclass(frozen=True)
class Scan:
    number: int  # the attachment: 2 or 3
    name: str
    upload: StoredUpload | None  # None: the reference names no upload of this portal


async def recommendation_scans(portal: Portal, workflow_id: str) -> list[Scan]:
    """The signed scans of attachments 2 and 3 the employer's newest recommendation named
    (its audit event); empty before it has recommended."""
    recommended = await recorded_details(portal, workflow_id, ["recommend"], SCAN_REFS.values())
    if not recommended:
        return []
    newest = recommended[-1]
    scans = []
    for number, ref_field in SCAN_REFS.items():
        ref = str(newest.get(ref_field, ""))
        upload = None
        if ref.startswith(UPLOAD_REF):
            query = select(Upload.__table__).where(Upload.sha256 == ref.removeprefix(UPLOAD_REF))
            async with portal.engine().connect() as conn:
                found = (await conn.execute(query.limit(1))).first()
            upload = StoredUpload.of(found) if found is not None else None
        scans.append(Scan(number, SCAN_NAMES_ZH[number], upload))
    return scans
