"""What the applicant's home page says about the way ahead (issue 14, item 7): the whole path
as steps with the current one marked, what each level requires (from the round's conditions
table), and, for an ended declaration, what follows. Plain functions over the declaration's
state and the round's configuration; the page (templates/portal/applicant.html) shows them."""

from __future__ import annotations

from dataclasses import dataclass

from models.common import LEVEL_NAMES_ZH, SKILL_LEVEL_NAMES_ZH, Level, Stage
from models.declaration import DeclarationState
from models.round import RoundConfig
from rules.eligibility import (
    ACHIEVEMENT_KINDS_ZH,
    MIN_MONTHS_IN_URUMQI_IF_DISPATCHED,
    MIN_VILLAGE_MONTHS_FOR_EXEMPTION,
    VILLAGE_ROUTE_YEARS,
    defense_required,
)

# The path of a declaration, in the notice's order; each step with the stages it covers.
PATH: list[tuple[str, frozenset[Stage]]] = [
    ("填写申报、上传并遮盖材料", frozenset({Stage.draft})),
    ("用人单位审核", frozenset({Stage.employer_review})),
    ("单位内部公示", frozenset({Stage.publicity})),  # R13
    ("单位推荐（有主管单位的经主管单位审核）",
     frozenset({Stage.recommendation, Stage.competent_unit_review})),
    ("评审机构审核（退回的须在48小时内补正）",
     frozenset({Stage.evaluation_review, Stage.correction})),
    ("缴纳评审费", frozenset({Stage.payment})),  # R17
    ("专业水平答辩", frozenset({Stage.defense})),  # R18, R19
    ("评审委员会评议", frozenset({Stage.committee})),  # R20
    ("评审结果公示", frozenset({Stage.result_publicity})),
    ("评审通过", frozenset({Stage.approved})),
]  # fmt: skip
DEFENSE_STEP = 6

# What follows an ending, for the applicant.
WHAT_FOLLOWS_ZH = {
    Stage.approved: "评审通过。职称电子证书及任职资格文件可在管理平台下载。",
    Stage.not_passed: "本年度评审未通过，可在以后年度符合条件时再次申报。",
    Stage.abandoned: "退回后48小时内未补正，视为放弃本年度申报；可在以后年度再次申报。",
    Stage.locked: "评审机构退回已超过3次，本年度申报无法再提交；可在以后年度再次申报。",
    Stage.unpaid: "未在规定时限内缴纳评审费，本年度申报终止；可在以后年度再次申报。",
    Stage.not_submitted: "申报期内未报送至评审机构，本年度申报终止；如有疑问请联系用人单位。",
    Stage.ineligible: "不符合本年度申报条件，申报未受理；条件具备后可再次申报。",
    Stage.withdrawn: "您已撤回本年度申报；本年度申报期内如需申报，请联系人力资源服务中心。",
    Stage.rejected: "公示期间的异议经核实成立，本年度申报终止。",
    Stage.revoked: "经抽查核实，已撤销所取得的职称，并记入职称评审诚信档案库，记录期3年。",
}


@dataclass(frozen=True)
class Step:
    label: str
    status: str  # done | current | ended | todo | skipped
    note: str = ""


def _step_of(stage: Stage) -> int:
    return next(i for i, (_, stages) in enumerate(PATH) if stage in stages)


def declaration_path(state: DeclarationState | None) -> list[Step]:
    """The steps of the path, the current one marked; before declaring the first is
    current. An ended declaration marks the step it ended in (`ended`), except approval."""
    if state is None:
        at, ended = 0, False
    elif state.stage is Stage.approved or not state.stage.is_ending:
        at, ended = _step_of(state.stage), False
    else:  # the step it was in when it ended: the last transition's origin
        last = next(
            (t.from_stage for t in reversed(state.timeline) if not t.from_stage.is_ending),
            Stage.draft,
        )
        at, ended = _step_of(last), True
    steps = []
    for index, (label, _) in enumerate(PATH):
        status = "done" if index < at else "todo"
        if index == at:
            status = "ended" if ended else "current"
        note = ""
        if index == DEFENSE_STEP and state is not None:
            if not defense_required(state.level):  # R18
                status, note = "skipped", "初级职称不需答辩"
            elif state.defense_exempt:  # R19
                status, note = "skipped", "当年驻村满半年，免于现场答辩，按当年现场答辩平均分赋分"
        steps.append(Step(label, status, note))
    return steps


def level_requirements(config: RoundConfig) -> dict[str, list[str]]:
    """For each level the round evaluates, what the applicant needs and uploads (R3–R7, R25),
    in Chinese, from the round's conditions and skill-level tables."""
    skills = {level: skill for skill, level in config.skill_level_equivalents.items()}
    needs: dict[str, list[str]] = {}
    for level, condition in config.conditions.items():
        lines = []
        prerequisite = condition.prerequisite
        if prerequisite is None:
            lines.append("不要求现有职称")
        else:
            skill = skills.get(prerequisite)
            also = f"、{SKILL_LEVEL_NAMES_ZH[skill]}职业技能等级" if skill else ""
            years = condition.min_years_at_prerequisite
            lines.append(
                f"须具备{LEVEL_NAMES_ZH[prerequisite]}职称（或相应职业资格、市外职称{also}）"
                + (f"满{years}年" if years else "")
                + "，上传相应证书"
            )
        if condition.min_achievements:
            lines.append(
                f"至少{condition.min_achievements}项业绩成果的证明材料（{ACHIEVEMENT_KINDS_ZH}）"
            )
        if level is Level.associate_senior:
            lines.append(
                f"连续{VILLAGE_ROUTE_YEARS}年驻村且考核均为优秀的中级职称人员，可不受任职年限限制"
            )
        needs[LEVEL_NAMES_ZH[level]] = lines
    return needs


GENERAL_MATERIALS_ZH = [
    f"继续教育完成证明（当年驻村满{MIN_VILLAGE_MONTHS_FOR_EXEMPTION}个月的可免，系统生成继续教育免试表）",
    f"外地民营企业派驻人员：在乌鲁木齐连续工作满{MIN_MONTHS_IN_URUMQI_IF_DISPATCHED}个月的证明",
    "驻村人员：驻村工作证明",
    "每份扫描件都须用遮盖工具遮盖本人姓名和工作单位后才能提交（盲评）",
]  # fmt: skip
