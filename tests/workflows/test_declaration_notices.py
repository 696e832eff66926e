"""Who is told when work arrives (docs/delivery.md, "Who is told what"): the employer when its
staff submit, the competent unit when it gets a recommendation (R14), the evaluation body when
a declaration reaches it (blind, R11), the applicant a receipt of each submission; each
message once, in the outbox of its transition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from models.declaration import Employer
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    assert_blind,
    outbox_rows,
    sleep_until,
    start,
    state,
    through_publicity,
)
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"


def told(rows: list[Any]) -> list[tuple[str, str]]:
    return [(m.event, m.recipient_role) for m in rows]


async def test_work_arriving_is_told_once_to_whom_it_concerns(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    handle = await start(time_env, time_worker)
    await through_publicity(time_env, handle)  # submit, publicity, recommend (no unit)
    rows = await outbox_rows(handle)
    assert told(rows) == [
        ("submitted", "applicant"),
        ("declaration_submitted", "employer"),
        ("publicity_started", "applicant"),
        ("publicity_ended", "employer"),
        ("recommended", "applicant"),
        ("declaration_arrived", "evaluation_body"),
    ]
    receipt, to_employer, _, ended, recommended, arrived = rows
    assert "已提交至用人单位" in receipt.body and receipt.mobile == "+8613800138000"
    assert to_employer.recipient_name == "新疆示例硅业有限公司"
    assert "张三" in to_employer.body and "（北京时间 UTC+08:00）" in to_employer.body
    assert "同意推荐" in ended.body
    assert "推荐至评审机构" in recommended.body
    assert_blind(arrived, handle)
    assert "新的" in arrived.body

    opens = datetime.fromisoformat((await state(handle)).deadlines["review_opens_at"])
    await sleep_until(time_env, opens, SECOND)  # the review window opens: no new message
    await act(handle, "return_for_correction", "evaluation_body", reason="学历证书不清晰")
    await act(handle, "resubmit", "applicant")
    rows = await outbox_rows(handle)
    assert told(rows[6:]) == [
        ("returned_for_correction", "applicant"),
        ("submitted", "applicant"),
        ("declaration_arrived", "evaluation_body"),
    ]
    _, corrected, again = rows[6:]
    assert "补正材料已重新提交至评审机构" in corrected.body
    assert_blind(again, handle)
    assert "重新上报" in again.body
    assert len({m.key for m in rows}) == len(rows)  # one row per message


async def test_the_competent_unit_is_told_of_its_recommendations(
    time_env: WorkflowEnvironment, time_worker: Worker
):
    employer = Employer(name="新疆示例硅业有限公司", uscc=SAMPLE_USCC, competent_unit=UNIT)
    applicant = sample_declaration_input().applicant.model_copy(update={"employer": employer})
    handle = await start(time_env, time_worker, applicant=applicant)
    await through_publicity(time_env, handle)
    await act(handle, "competent_unit_return", "competent_unit", reason="补充公示结果证明")
    await act(handle, "recommend", "employer", **RECOMMENDATION)
    await act(handle, "competent_unit_recommend", "competent_unit", opinion="同意推荐")
    rows = await outbox_rows(handle)
    assert told(rows[4:]) == [
        ("recommended", "applicant"),
        ("recommendation_received", "competent_unit"),
        ("recommendation_returned", "employer"),
        ("recommended", "applicant"),
        ("recommendation_received", "competent_unit"),
        ("recommended", "applicant"),
        ("declaration_arrived", "evaluation_body"),
    ]
    received, returned = rows[5], rows[6]
    assert (received.recipient_name, received.body.count("张三")) == (UNIT, 1)
    assert "推荐至主管单位" in rows[4].body
    assert "补充公示结果证明" in returned.body
    assert "由主管单位审核同意，推荐至评审机构" in rows[9].body
    assert_blind(rows[10], handle)
