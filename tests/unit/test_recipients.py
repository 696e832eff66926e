"""The recipients file (models/recipients.py, delivery/recipients.py): how an organisation's
message gets its addresses when it is put in the outbox."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from delivery.recipients import Recipients, RecipientsFileError, addressed, read_directory
from models.common import Role
from models.records import NotificationEvent, NotificationRequest
from settings import ROOT
from tests.helpers.samples import SAMPLE_USCC

EXAMPLE = ROOT / "examples" / "recipients.json"
UNIT = "甘泉堡经济技术开发区（工业区）管理委员会"


def request(role: Role, organisation: str | None = None, **fields: str) -> NotificationRequest:
    return NotificationRequest(
        key=f"decl-2025-0123456789abcdef/2/review_overdue/{role.value}",
        workflow_id="decl-2025-0123456789abcdef",
        event=NotificationEvent.review_overdue,
        recipient_role=role,
        recipient_name="新疆示例硅业有限公司",
        organisation=organisation,
        **fields,
    )


def write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_the_example_file_passes_and_addresses_each_organisation() -> None:
    recipients = Recipients(EXAMPLE)
    recipients.check()
    employer = recipients.addressed(request(Role.employer, SAMPLE_USCC))
    assert (employer.email, employer.mobile) == ("hr@example.com", "+8613700137000")
    assert employer.recipient_name == "新疆示例硅业有限公司"  # no name in the file: the message's
    unit = recipients.addressed(request(Role.competent_unit, UNIT))
    assert (unit.email, unit.mobile) == ("guanwei@example.gov.cn", None)
    body = recipients.addressed(request(Role.evaluation_body))
    assert body.email == "pingshen@example.gov.cn"
    assert body.recipient_name == "甘泉堡经开区职称评审机构"
    assert recipients.addressed(request(Role.supervisor)).email == "rlzy@example.gov.cn"


def test_unknown_organisations_and_people_keep_what_they_have() -> None:
    recipients = Recipients(EXAMPLE)
    other = request(Role.employer, "91650100MA77Y4RT3K")
    assert recipients.addressed(other) == other  # not in the file: recorded without an address
    assert recipients.addressed(request(Role.competent_unit)).email is None
    applicant = request(Role.applicant, email="zhangsan@example.com", mobile="+8613800138000")
    assert recipients.addressed(applicant) == applicant
    assert recipients.addressed(request(Role.committee)).email is None
    assert addressed(other, None) == other  # an activity built without a directory


def test_a_missing_file_is_an_empty_directory(tmp_path: Path) -> None:
    recipients = Recipients(tmp_path / "absent.json")
    recipients.check()
    assert recipients.addressed(request(Role.evaluation_body)).email is None


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"evaluation_body": {"email": "not-an-address"}}), "evaluation_body.email"),
        (json.dumps({"employers": {SAMPLE_USCC: {"mobile": "12345"}}}), "mobile"),
        (json.dumps({"evaluation_bodies": {}}), "evaluation_bodies"),  # a typo is caught
    ],
)
def test_a_bad_file_is_refused_at_the_start(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "recipients.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RecipientsFileError) as info:
        Recipients(path).check()
    assert str(path) in str(info.value) and says in str(info.value)


def test_a_changed_file_is_reread_and_a_bad_change_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "recipients.json"
    write(path, {"_comment": "x", "evaluation_body": {"email": "a@example.gov.cn"}})
    recipients = Recipients(path)
    recipients.check()
    assert recipients.addressed(request(Role.evaluation_body)).email == "a@example.gov.cn"

    write(path, {"evaluation_body": {"email": "b@example.gov.cn"}})
    os.utime(path, ns=(1, 2_000_000_000))  # a new modification time, whatever the clock's grain
    assert recipients.addressed(request(Role.evaluation_body)).email == "b@example.gov.cn"

    path.write_text("{broken", encoding="utf-8")
    os.utime(path, ns=(1, 3_000_000_000))
    with caplog.at_level(logging.ERROR, logger="zhicheng.delivery"):
        assert recipients.addressed(request(Role.evaluation_body)).email == "b@example.gov.cn"
        recipients.addressed(request(Role.evaluation_body))
    assert len([r for r in caplog.records if "previous recipients stay" in r.message]) == 1


def test_comments_are_dropped_at_every_level(tmp_path: Path) -> None:
    path = tmp_path / "recipients.json"
    write(path, {"employers": {"_note": "by USCC", SAMPLE_USCC: {"email": "hr@example.com"}}})
    assert list(read_directory(path).employers) == [SAMPLE_USCC]


def test_with_the_digest_the_evaluation_body_gets_no_message_per_declaration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "recipients.json"
    write(path, {"evaluation_body": {"email": "pingshen@example.gov.cn", "digest": True}})
    recipients = Recipients(path)

    def to_body(event: NotificationEvent) -> NotificationRequest:
        return request(Role.evaluation_body).model_copy(update={"event": event})

    for event in (NotificationEvent.declaration_arrived, NotificationEvent.review_closing):
        assert recipients.addressed(to_body(event)).email is None  # recorded, not delivered
    for event in (NotificationEvent.evaluation_digest, NotificationEvent.review_overdue):
        assert recipients.addressed(to_body(event)).email == "pingshen@example.gov.cn"
