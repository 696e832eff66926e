"""Vocabulary shared by every layer: levels, jurisdictions, roles, stages, actors."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from models.text import check_storable


class Strict(BaseModel):
    """Base for every model: unknown fields are an error, so a typo in a JSON file is caught;
    no text may hold a character the database cannot keep (models/text.py).

    Types are strict where a payload crosses a boundary (client/payloads.py: the data
    converter, the command line's and the portal's checks), not here: code builds models
    from Python values (a datetime, an enum member) and stays readable."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        check_storable(value)
        return value


class Level(StrEnum):
    """R1: the three levels this round evaluates."""

    junior = "junior"  # 初级
    intermediate = "intermediate"  # 中级
    associate_senior = "associate_senior"  # 副高级


LEVEL_NAMES_ZH = {
    Level.junior: "初级",
    Level.intermediate: "中级",
    Level.associate_senior: "副高级",
}


class VocationalSkillLevel(StrEnum):
    """R25: the vocational skill levels of high-skilled talent (高技能人才), which count as a
    basis for a title level (RoundConfig.skill_level_equivalents)."""

    senior_worker = "senior_worker"  # 高级工
    technician = "technician"  # 技师
    senior_technician = "senior_technician"  # 高级技师


SKILL_LEVEL_NAMES_ZH = {
    VocationalSkillLevel.senior_worker: "高级工",
    VocationalSkillLevel.technician: "技师",
    VocationalSkillLevel.senior_technician: "高级技师",
}


class Jurisdiction(StrEnum):
    """R1: where the declaration is evaluated."""

    ftz_urumqi = "ftz_urumqi"  # 中国（新疆）自贸试验区乌鲁木齐片区
    urumqi_city = "urumqi_city"  # 乌鲁木齐市


JURISDICTION_NAMES_ZH = {
    Jurisdiction.ftz_urumqi: "中国（新疆）自贸试验区乌鲁木齐片区",
    Jurisdiction.urumqi_city: "乌鲁木齐市",
}


class Role(StrEnum):
    applicant = "applicant"  # 申报人
    employer = "employer"  # 用人单位
    competent_unit = "competent_unit"  # 主管单位
    evaluation_body = "evaluation_body"  # 评审机构
    committee = "committee"  # 评审委员会（秘书）
    expert = "expert"  # 评审专家: a member of the expert pool, drawn into a session (R27)
    observer = "observer"  # 纪检监察: reads everything, acts on nothing (R26)
    supervisor = "supervisor"  # 人力资源服务中心 / 监管
    system = "system"  # the Round workflow and other automation


class Actor(Strict):
    role: Role
    id: str = Field(min_length=1, max_length=128)


class ActorSignature(Strict):
    """Who vouches for an update's actor: the component that authenticated the person (the
    portal for its session's account, the command line for its operator, the worker for the
    round's own updates) signs the actor, the workflow id and the update's name
    (rules/actor_signature.py); the update's validator verifies it. Sent beside the actor
    (`signature` of every action); optional in the models, so that the unsigned updates in
    the histories of older declarations still parse (validators do not run on replay).

    Loose on purpose: a malformed one is refused by the validator as Unauthenticated, not as
    an argument that fails to decode."""

    issued_at: AwareDatetime
    nonce: str = Field(max_length=128)
    mac: str = Field(max_length=128)  # HMAC-SHA256, lower-case hex


class Stage(StrEnum):
    """Where a declaration is. Names are a contract (docs/requirements.md, "Contracts"):
    operators query them."""

    draft = "draft"
    employer_review = "employer_review"
    publicity = "publicity"
    recommendation = "recommendation"
    competent_unit_review = "competent_unit_review"
    evaluation_review = "evaluation_review"
    correction = "correction"
    payment = "payment"
    defense = "defense"
    committee = "committee"
    result_publicity = "result_publicity"
    # endings
    approved = "approved"
    not_passed = "not_passed"
    abandoned = "abandoned"
    locked = "locked"
    unpaid = "unpaid"
    not_submitted = "not_submitted"
    ineligible = "ineligible"
    withdrawn = "withdrawn"
    rejected = "rejected"
    revoked = "revoked"

    @property
    def is_ending(self) -> bool:
        return self in ENDINGS


ENDINGS = frozenset(
    {
        Stage.approved,
        Stage.not_passed,
        Stage.abandoned,
        Stage.locked,
        Stage.unpaid,
        Stage.not_submitted,
        Stage.ineligible,
        Stage.withdrawn,
        Stage.rejected,
        Stage.revoked,
    }
)

STAGE_NAMES_ZH = {
    Stage.draft: "填报中",
    Stage.employer_review: "用人单位审核",
    Stage.publicity: "单位内部公示",
    Stage.recommendation: "待单位推荐",
    Stage.competent_unit_review: "主管单位审核",
    Stage.evaluation_review: "评审机构审核",
    Stage.correction: "退回补正",
    Stage.payment: "待缴费",
    Stage.defense: "专业水平答辩",
    Stage.committee: "评审委员会评议",
    Stage.result_publicity: "评审结果公示",
    Stage.approved: "评审通过",
    Stage.not_passed: "评审未通过",
    Stage.abandoned: "逾期未补正，视为放弃",
    Stage.locked: "退回超过3次，无法再提交",
    Stage.unpaid: "逾期未缴费",
    Stage.not_submitted: "申报期内未报送评审机构",
    Stage.ineligible: "不符合申报条件",
    Stage.withdrawn: "申报人撤回",
    Stage.rejected: "公示异议成立",
    Stage.revoked: "职称已撤销",
}
