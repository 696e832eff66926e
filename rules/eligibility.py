"""R1–R8: who may declare, checked when a declaration starts. R18–R19: who is defended."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from models.common import LEVEL_NAMES_ZH, SKILL_LEVEL_NAMES_ZH, Level
from models.declaration import (
    DeclarationInput,
    EligibilityFacts,
    EmployerKind,
    EmploymentStatus,
    TitleBasis,
)
from models.round import RoundConfig

SERIES = "engineering"  # R1: 工程系列
SPECIALTY = "pv_silicon"  # R1: 光伏硅基专业
MIN_MONTHS_IN_URUMQI_IF_DISPATCHED = 12  # R3: 连续工作1年以上
MIN_VILLAGE_MONTHS_FOR_EXEMPTION = 6  # R4, R19: 当年驻村半年以上
VILLAGE_ROUTE_YEARS = 3  # R6: 连续三年驻村且连续三年考核优秀

EMPLOYER_KIND_ZH = {
    EmployerKind.enterprise: "企业",
    EmployerKind.public_institution: "事业单位",
    EmployerKind.government: "机关",
}
BASIS_ZH = {
    TitleBasis.professional_title: "职称",
    TitleBasis.qualification: "职业资格",
    TitleBasis.outside_city_title: "市外取得的职称",
    TitleBasis.vocational_skill: "职业技能等级（高技能人才）",  # R25
}
ACHIEVEMENT_KINDS_ZH = "论文、专利成果、技术突破、工艺流程、标准开发、成果转化均可"


# The conditions of the notice by the names a person knows them by (pages never show "R5").
CONDITION_NAMES_ZH = {
    "R1": "申报范围",
    "R2": "申报对象",
    "R3": "派驻人员在乌工作年限",
    "R4": "继续教育",
    "R5": "现有职称（职业资格）及任职年限",
    "R6": "驻村专业技术人员申报",
    "R7": "业绩成果",
    "R8": "诚信档案",
    "R25": "高技能人才申报",
}


@dataclass(frozen=True)
class Refusal:
    rule: str  # "R1" … "R8"
    reason: str  # English, for operators
    reason_zh: str  # Chinese, shown to the applicant

    @property
    def condition_zh(self) -> str:
        """The condition's Chinese name, for the applicant."""
        return CONDITION_NAMES_ZH.get(self.rule, "申报条件")


def check_eligibility(declaration: DeclarationInput, today: date) -> list[Refusal]:
    """Every rule the declaration fails; empty means eligible."""
    facts = declaration.eligibility
    return [
        *_scope(declaration),
        *_employment(facts),
        *_continuing_education(facts),
        *_skill_level(declaration),
        *_level_and_achievements(declaration),
        *_integrity_archive(facts, today),
    ]


def effective_current_level(facts: EligibilityFacts, config: RoundConfig) -> Level | None:
    """R5, R25: the level the applicant holds. With the vocational skill basis it is the title
    level the round's table gives the skill level (高级工, 技师, 高级技师); else the one
    declared."""
    if facts.current_level_basis is not TitleBasis.vocational_skill:
        return facts.current_level
    skill = facts.vocational_skill_level
    return config.skill_level_equivalents.get(skill) if skill is not None else None


def village_route_applies(facts: EligibilityFacts, level: Level) -> bool:
    """R6: an intermediate holder with 3 consecutive village years, each assessed excellent,
    may apply for associate senior without the years-at-level requirement."""
    return (
        level is Level.associate_senior
        and facts.current_level is Level.intermediate
        and facts.consecutive_village_years >= VILLAGE_ROUTE_YEARS
        and facts.consecutive_excellent_assessments >= VILLAGE_ROUTE_YEARS
    )


def defense_required(level: Level) -> bool:
    """R18: intermediate and associate senior applicants take a defense; junior ones do not."""
    return level in (Level.intermediate, Level.associate_senior)


def defense_exempt(facts: EligibilityFacts) -> bool:
    """R19 (with R4): half a year stationed in a village this year exempts from the defense."""
    return facts.village_stationed_months_this_year >= MIN_VILLAGE_MONTHS_FOR_EXEMPTION


def _en(level: Level) -> str:
    return level.value.replace("_", " ")


def _rank(level: Level) -> int:
    return list(Level).index(level)


def _scope(declaration: DeclarationInput) -> Iterator[Refusal]:
    series, specialty = declaration.series, declaration.specialty
    if (series, specialty) != (SERIES, SPECIALTY):  # R1
        yield Refusal(
            "R1",
            f"this round evaluates only the {SERIES} series, {SPECIALTY} specialty;"
            f" declared {series}/{specialty}",
            f"本次评审仅限工程系列光伏硅基专业（申报：{series}/{specialty}）",
        )
    if declaration.level not in declaration.round.conditions:  # R1: the configured levels
        yield Refusal(
            "R1",
            f"the {_en(declaration.level)} level is not evaluated in this round",
            f"本轮不评审{LEVEL_NAMES_ZH[declaration.level]}职称",
        )


def _employment(facts: EligibilityFacts) -> Iterator[Refusal]:
    if facts.employment_status is EmploymentStatus.retired:  # R2
        yield Refusal("R2", "retired people cannot apply", "离退休人员不得申报参加职称评审")
    if facts.employer_kind is not EmployerKind.enterprise:  # R2
        yield Refusal(
            "R2",
            f"the applicant must be an in-service professional of an enterprise;"
            f" employer kind: {facts.employer_kind.value}",
            f"申报人应为企业在职的专业技术人员（所在单位类型：{EMPLOYER_KIND_ZH[facts.employer_kind]}）",
        )
    months, needed = facts.months_working_in_urumqi, MIN_MONTHS_IN_URUMQI_IF_DISPATCHED
    if facts.dispatched_from_out_of_town_private_enterprise and months < needed:  # R3
        yield Refusal(
            "R3",
            f"staff dispatched from an out-of-town private enterprise need {needed} continuous"
            f" months working in Urumqi; declared {months}",
            f"外地民营企业派驻我市的专业技术人员须在我市连续工作满{needed}个月（已申报{months}个月）",
        )


def _continuing_education(facts: EligibilityFacts) -> Iterator[Refusal]:
    if not facts.continuing_education_completed and not defense_exempt(facts):  # R4
        months, needed = facts.village_stationed_months_this_year, MIN_VILLAGE_MONTHS_FOR_EXEMPTION
        yield Refusal(
            "R4",
            f"continuing education is not completed; {needed} months stationed in a village"
            f" this year would exempt from it (declared {months})",
            f"未完成继续教育（当年驻村满{needed}个月可免除，已申报驻村{months}个月）",
        )


def _skill_level(declaration: DeclarationInput) -> Iterator[Refusal]:
    facts = declaration.eligibility
    if facts.current_level_basis is not TitleBasis.vocational_skill:
        return
    skill = facts.vocational_skill_level
    if skill is None:  # R25
        yield Refusal(
            "R25",
            "the vocational skill basis needs the vocational skill level held",
            "以职业技能等级申报的，须填写所取得的职业技能等级（高级工、技师或高级技师）",
        )
        return
    equivalent = effective_current_level(facts, declaration.round)
    if equivalent is None:  # R25: the round's table leaves this skill level out
        yield Refusal(
            "R25",
            f"the {skill.value} skill level counts as no title level in this round",
            f"本轮评审中{SKILL_LEVEL_NAMES_ZH[skill]}不对应任何职称级别",
        )
    elif facts.current_level is not None and facts.current_level is not equivalent:  # R25
        yield Refusal(
            "R25",
            f"the {skill.value} skill level counts as the {_en(equivalent)} level, not the"
            f" {_en(facts.current_level)} level declared",
            f"{SKILL_LEVEL_NAMES_ZH[skill]}对应{LEVEL_NAMES_ZH[equivalent]}职称，"
            f"与填写的现有级别{LEVEL_NAMES_ZH[facts.current_level]}不一致",
        )


def _level_and_achievements(declaration: DeclarationInput) -> Iterator[Refusal]:
    facts, level = declaration.eligibility, declaration.level
    condition = declaration.round.conditions.get(level)
    if condition is None:
        return  # refused under R1 by _scope
    current, prerequisite = (
        effective_current_level(facts, declaration.round),
        condition.prerequisite,
    )
    level_zh = LEVEL_NAMES_ZH[level]
    if current is not None and _rank(current) >= _rank(level):  # R5
        yield Refusal(
            "R5",
            f"already at the {_en(current)} level ({facts.current_level_basis.value}),"
            f" not below the {_en(level)} level applied for",
            f"已具备{LEVEL_NAMES_ZH[current]}（{BASIS_ZH[facts.current_level_basis]}），"
            f"不低于申报级别{level_zh}",
        )
    elif prerequisite is not None and current is not prerequisite:  # R5
        yield Refusal(
            "R5",
            f"the {_en(level)} level needs the {_en(prerequisite)} level first (a title,"
            f" qualification or outside-city title); current level: "
            f"{_en(current) if current else 'none'}",
            f"申报{level_zh}须具备{LEVEL_NAMES_ZH[prerequisite]}职称（或相应职业资格、市外职称），"
            f"当前：{LEVEL_NAMES_ZH[current] if current else '无'}",
        )
    elif (
        prerequisite is not None
        and facts.years_at_current_level < condition.min_years_at_prerequisite
        and not village_route_applies(facts, level)  # R6
    ):  # R5
        needed, years = condition.min_years_at_prerequisite, facts.years_at_current_level
        yield Refusal(
            "R5",
            f"the {_en(level)} level needs {needed} years at the {_en(prerequisite)} level;"
            f" declared {years:g}",
            f"申报{level_zh}须取得{LEVEL_NAMES_ZH[prerequisite]}职称满{needed}年（已申报{years:g}年）",
        )
    count, needed = len(declaration.achievements), condition.min_achievements
    if count < needed:  # R7: any achievement kind counts; papers are never required
        yield Refusal(
            "R7",
            f"the {_en(level)} level needs {needed} achievements (paper, patent, technical"
            f" breakthrough, process flow, standard or achievement transformation); declared"
            f" {count}",
            f"申报{level_zh}须提交至少{needed}项业绩成果（{ACHIEVEMENT_KINDS_ZH}），已提交{count}项",
        )


def _integrity_archive(facts: EligibilityFacts, today: date) -> Iterator[Refusal]:
    blocked_until = facts.integrity_blocked_until
    if blocked_until is not None and today <= blocked_until:  # R8
        yield Refusal(
            "R8",
            f"recorded in the integrity archive until {blocked_until.isoformat()}:"
            " no higher title before then",
            f"已记入职称评审诚信档案库，记录期至{blocked_until.isoformat()}，记录期内不得晋升高一级职称",
        )
