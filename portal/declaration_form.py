"""The applicant's declaration form (`/applicant/new`): one entry per field, named by its
path in the declaration (applicant.employer.uscc, achievements[0].kind); the form's fields
as the declaration's applicant part (numbers as numbers: it is validated strictly), and
pydantic's errors under their fields in Chinese (portal/field_errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from models.common import JURISDICTION_NAMES_ZH, LEVEL_NAMES_ZH, SKILL_LEVEL_NAMES_ZH
from models.declaration import AchievementKind, EmploymentStatus
from portal.field_errors import field_errors, number
from rules.eligibility import BASIS_ZH, EMPLOYER_KIND_ZH

ACHIEVEMENT_ROWS = 3

ACHIEVEMENT_KINDS_ZH = {
    AchievementKind.paper: "论文",
    AchievementKind.patent: "专利成果",
    AchievementKind.technical_breakthrough: "技术突破",
    AchievementKind.process_flow: "工艺流程",
    AchievementKind.standard: "标准开发",
    AchievementKind.achievement_transformation: "成果转化",
}


@dataclass(frozen=True)
class FormField:
    name: str  # its location in the declaration: applicant.employer.uscc, achievements[0].kind
    label: str
    kind: str = "text"  # text | select | check | number
    required: bool = False
    options: dict[str, str] = field(default_factory=dict)
    hint: str = ""
    section: str = ""


def _options(names: dict[Any, str]) -> dict[str, str]:
    return {str(k.value): v for k, v in names.items()}


FORM: list[FormField] = [
    FormField("applicant.name", "姓名", required=True, section="申报人"),
    FormField("applicant.id_card", "居民身份证号码", required=True, hint="18位，末位可为X"),
    FormField("applicant.mobile", "手机号码", required=True,
              hint="绑定“新疆专业技术人员管理平台”微信公众号的手机号，用于接收审核结果"),
    FormField("applicant.email", "电子邮箱", hint="选填"),
    FormField("applicant.employer.name", "工作单位", required=True, section="工作单位"),
    FormField("applicant.employer.uscc", "统一社会信用代码", required=True, hint="18位"),
    FormField("applicant.employer.competent_unit", "主管单位", hint="有主管单位的填写，选填"),
    FormField("level", "申报级别", "select", True, _options(LEVEL_NAMES_ZH), section="申报"),
    FormField("jurisdiction", "评审范围", "select", True, _options(JURISDICTION_NAMES_ZH)),
    FormField("eligibility.employment_status", "在职状态", "select", True,
              {EmploymentStatus.in_service.value: "在职", EmploymentStatus.retired.value: "已退休"},
              section="申报条件"),
    FormField("eligibility.employer_kind", "单位性质", "select", True,
              _options(EMPLOYER_KIND_ZH)),
    FormField("eligibility.dispatched_from_out_of_town_private_enterprise",
              "外地民营企业派驻乌鲁木齐", "check", hint="派驻人员须在本地连续工作满1年"),
    FormField("eligibility.months_working_in_urumqi", "在乌鲁木齐连续工作月数", "number"),
    FormField("eligibility.continuing_education_completed", "已完成继续教育", "check",
              hint="当年驻村满半年的可免"),
    FormField("eligibility.village_stationed_months_this_year", "本年度驻村月数", "number",
              hint="0–12"),
    FormField("eligibility.current_level", "现有职称（职业资格）级别", "select",
              options={"": "无"} | _options(LEVEL_NAMES_ZH)),
    FormField("eligibility.current_level_basis", "取得方式", "select", True,
              _options(BASIS_ZH)),
    FormField("eligibility.vocational_skill_level", "职业技能等级", "select",
              options={"": "无"} | _options(SKILL_LEVEL_NAMES_ZH),
              hint="高技能人才以职业技能等级申报的填写：高级工对应初级、技师对应中级、高级技师对应副高级"),
    FormField("eligibility.years_at_current_level", "现级别任职年限", "number",
              hint="转换岗位的，原专业和现专业年限累计"),
    FormField("eligibility.consecutive_village_years", "连续驻村年数", "number"),
    FormField("eligibility.consecutive_excellent_assessments", "连续考核优秀年数", "number"),
]  # fmt: skip
for _row in range(ACHIEVEMENT_ROWS):
    FORM += [
        FormField(f"achievements[{_row}].kind", f"业绩成果{_row + 1} 类型", "select",
                  options={"": "（不填）"} | _options(ACHIEVEMENT_KINDS_ZH),
                  section="业绩成果（选填；论文可由专利、技术突破、工艺流程、标准、成果转化替代）"
                  if _row == 0 else ""),
        FormField(f"achievements[{_row}].title", f"业绩成果{_row + 1} 名称"),
    ]  # fmt: skip
FIELDS = {f.name: f for f in FORM}

FIELD_MESSAGES = {  # a field's own message for what its validator refuses
    "applicant.id_card": "身份证号码无效：请核对18位号码及最后一位校验码。",
    "applicant.mobile": "手机号码无效：请填写中国大陆手机号码。",
    "applicant.email": "电子邮箱格式不正确。",
    "applicant.employer.uscc": "统一社会信用代码无效：请核对18位代码。",
}


def declaration_errors(exc: ValidationError) -> dict[str, str]:
    """Each error under its form field's name, in Chinese (the first error of a field wins)."""
    return field_errors(exc.errors(include_url=False), FIELDS, FIELD_MESSAGES)


def declaration_data(form: dict[str, str]) -> dict[str, Any]:
    """The declaration's applicant part (client.inputs.DeclarationFile) from the form's fields."""
    data: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        parts = path.split(".")
        target = data
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value

    for spec in FORM:
        if spec.name.startswith("achievements["):
            continue
        raw = form.get(spec.name, "").strip()
        if spec.kind == "check":
            put(spec.name, spec.name in form)
        elif spec.kind == "number" and raw:
            put(spec.name, number(raw))
        elif raw or spec.required:
            put(spec.name, raw)  # an empty required field: pydantic names it
        # an empty optional one is left out: its default (None, 0) applies
    achievements = []
    for row in range(ACHIEVEMENT_ROWS):
        kind = form.get(f"achievements[{row}].kind", "").strip()
        title = form.get(f"achievements[{row}].title", "").strip()
        if kind or title:
            achievements.append({"kind": kind, "title": title})
    data["achievements"] = achievements
    return data
