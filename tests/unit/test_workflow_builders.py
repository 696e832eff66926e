"""The workflows' pure parts on their own, without a server: the transition and round-event
records (workflows/records.py), the documents (workflows/documents.py), the window changes
both workflows apply (workflows/windows.py), the round's vote and finding checks
(workflows/round_checks.py); and the layering the workflows keep (workflows/calls.py,
workflows/patches.py)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from temporalio import activity
from temporalio.client import Client

from models.common import Actor, Role, Stage
from models.declaration import EligibilityFacts, Objection, TimelineEntry
from models.documents import (
    ApprovalDocument,
    Column,
    DocumentKind,
    DocumentStatus,
    MaterialRequirements,
    PublishedDocument,
)
from models.records import QUEUE_NOTIFICATION, NotificationEvent
from models.round import (
    CommitteeSession,
    CommitteeVotes,
    Ratio,
    ResultBatch,
    SpotCheck,
    SpotCheckResult,
    Vote,
)
from rules.actions import Refused
from rules.recommendation import RECOMMENDATION_OPINION
from settings import ROOT, load_settings
from store.db import get_engine
from tests.helpers.samples import sample_declaration_input, sample_round_config
from workflows import calls, patches
from workflows import documents as docs
from workflows.records import (
    SUPERVISOR_NAME,
    Notice,
    notifications,
    round_event,
    transition_record,
)
from workflows.round_checks import finding_check, votes_session
from workflows.windows import boundary_refusal, changed_config, window_changes

WORKFLOW_ID = "decl-2025-0123456789abcdef"
AT = datetime(2025, 9, 3, 2, 0, tzinfo=UTC)
REVIEWER = Actor(role=Role.employer, id="employer-1")
ENDS = "2025-09-10T00:00:00+08:00"


# --- records ---------------------------------------------------------------------------------


def entry(seq: int = 3, to: Stage = Stage.publicity, reason: str | None = "公示") -> TimelineEntry:
    return TimelineEntry(
        seq=seq,
        at=AT,
        actor=REVIEWER,
        action="start_publicity",
        from_stage=Stage.employer_review,
        to_stage=to,
        reason=reason,
    )


def test_a_transition_record_is_the_timeline_entry_and_the_projection_after_it():
    declaration = sample_declaration_input()
    record = transition_record(
        declaration,
        entry(),
        workflow_id=WORKFLOW_ID,
        round_year=2025,
        return_count=1,
        deadlines={"publicity_ends_at": "2025-09-10T00:00:00+08:00"},
        details={"publicity_ends_at": "2025-09-10T00:00:00+08:00"},
    )
    assert (record.workflow_id, record.seq, record.at, record.actor) == (
        WORKFLOW_ID,
        3,
        AT,
        REVIEWER,
    )
    assert (record.action, record.from_stage, record.to_stage, record.reason) == (
        "start_publicity",
        Stage.employer_review,
        Stage.publicity,
        "公示",
    )
    assert record.applicant_key == declaration.applicant_key
    assert (record.applicant_name, record.employer_name) == ("张三", "新疆示例硅业有限公司")
    assert record.employer_uscc == declaration.applicant.employer.uscc
    assert (record.level, record.jurisdiction) == (declaration.level, declaration.jurisdiction)
    assert (record.round_year, record.return_count) == (2025, 1)
    assert record.deadlines == {"publicity_ends_at": "2025-09-10T00:00:00+08:00"}
    assert record.details == {"publicity_ends_at": "2025-09-10T00:00:00+08:00"}
    assert record.notifications == []
    bare = transition_record(
        declaration, entry(), workflow_id=WORKFLOW_ID, round_year=2025, return_count=0, deadlines={}
    )
    assert bare.details == {}


def test_notifications_go_to_the_applicant_with_addresses_or_to_the_named_recipients():
    declaration = sample_declaration_input()
    [message] = notifications(
        declaration,
        [Notice(NotificationEvent.publicity_started, context={"publicity_ends_at": ENDS})],
        workflow_id=WORKFLOW_ID,
        seq=3,
        round_year=2025,
    )
    assert message.key == f"{WORKFLOW_ID}/3/publicity_started/applicant"
    assert (message.recipient_role, message.recipient_name) == (Role.applicant, "张三")
    assert (message.mobile, message.email) == (
        declaration.applicant.mobile,
        "zhangsan@example.com",
    )
    assert message.organisation is None
    assert message.context == {
        "applicant_name": "张三",
        "level_zh": "中级",
        "round_year": 2025,
        "declaration_id": WORKFLOW_ID,
        "declaration_number": WORKFLOW_ID,  # started without a 申报编号: its id stands for it
        "publicity_ends_at": ENDS,
    }
    numbered = declaration.model_copy(update={"number": "2025-000042"})
    [message] = notifications(
        numbered,
        [Notice(NotificationEvent.withdrawn)],
        workflow_id=WORKFLOW_ID,
        seq=4,
        round_year=2025,
    )
    assert message.context["declaration_number"] == "2025-000042"
    [blind] = notifications(
        numbered,
        [Notice(NotificationEvent.committee_arrived, Role.committee)],
        workflow_id=WORKFLOW_ID,
        seq=5,
        round_year=2025,
    )
    assert "declaration_number" not in blind.context  # R11: no number for the blind

    to_reviewers = notifications(
        declaration,
        [
            Notice(NotificationEvent.review_overdue, Role.evaluation_body),
            Notice(NotificationEvent.review_overdue, Role.supervisor),
        ],
        workflow_id=WORKFLOW_ID,
        seq=9,
        round_year=2025,
    )
    assert [m.key for m in to_reviewers] == [
        f"{WORKFLOW_ID}/9/review_overdue/evaluation_body",
        f"{WORKFLOW_ID}/9/review_overdue/supervisor",
    ]
    assert all(m.mobile is None and m.email is None for m in to_reviewers)  # not theirs
    assert [m.recipient_name for m in to_reviewers] == ["评审机构", SUPERVISOR_NAME]

    record = transition_record(
        declaration,
        entry(),
        workflow_id=WORKFLOW_ID,
        round_year=2025,
        return_count=0,
        deadlines={},
        notifications=to_reviewers,
    )
    assert record.notifications == to_reviewers


def test_organisations_are_named_and_keyed_and_blind_reviewers_see_no_applicant():
    declaration = sample_declaration_input()
    employer = declaration.applicant.employer.model_copy(update={"competent_unit": "管委会"})
    declaration = declaration.model_copy(
        update={"applicant": declaration.applicant.model_copy(update={"employer": employer})}
    )
    to_employer, to_unit, to_body = notifications(
        declaration,
        [
            Notice(NotificationEvent.declaration_submitted, Role.employer),
            Notice(NotificationEvent.recommendation_received, Role.competent_unit),
            Notice(NotificationEvent.declaration_arrived, Role.evaluation_body, {"x": 1}),
        ],
        workflow_id=WORKFLOW_ID,
        seq=4,
        round_year=2025,
    )
    assert (to_employer.recipient_name, to_employer.organisation) == (
        "新疆示例硅业有限公司",
        employer.uscc,
    )
    assert to_employer.context["applicant_name"] == "张三"  # the employer knows its staff
    assert (to_unit.recipient_name, to_unit.organisation) == ("管委会", "管委会")
    assert (to_body.recipient_name, to_body.organisation) == ("评审机构", None)
    # R11: level and jurisdiction only; the key stays the workflow's (never shown to it)
    assert to_body.context == {
        "level_zh": "中级",
        "jurisdiction_zh": "中国（新疆）自贸试验区乌鲁木齐片区",
        "round_year": 2025,
        "x": 1,
    }
    assert not {m.mobile for m in (to_employer, to_unit, to_body)} - {None}


def test_a_round_event_is_keyed_by_its_chain_and_seq():
    event = round_event("run-1", 2025, 4, AT, REVIEWER, "open_session", {"session_id": "S1"})
    assert (event.chain_id, event.round_year, event.seq, event.at) == ("run-1", 2025, 4, AT)
    assert (event.action, event.details, event.actor) == (
        "open_session",
        {"session_id": "S1"},
        REVIEWER,
    )


# --- documents -------------------------------------------------------------------------------


def objection(id: int, during: Stage, upheld: bool | None, resolution: str | None = None):
    return Objection(
        id=id,
        during=during,
        summary="材料存疑",
        raised_at=AT,
        raised_by=REVIEWER,
        upheld=upheld,
        resolution=resolution,
    )


def test_a_declarations_documents_name_the_applicant():
    declaration = sample_declaration_input()
    config = sample_round_config()
    person = docs.document_person(declaration, WORKFLOW_ID)
    assert (person.name, person.employer_name, person.level, person.declaration_id) == (
        "张三",
        "新疆示例硅业有限公司",
        declaration.level,
        WORKFLOW_ID,
    )

    notice = docs.employer_publicity(declaration, config, person, AT, AT + timedelta(days=7))
    assert (notice.round_year, notice.applicant, notice.jurisdiction) == (
        config.year,
        person,
        declaration.jurisdiction,
    )
    assert (notice.starts_at, notice.ends_at) == (AT, AT + timedelta(days=7))
    assert notice.working_days == config.publicity_working_days
    assert [(a.kind, a.title) for a in notice.achievements] == [("patent", "多晶硅还原炉节能装置")]
    assert notice.current_level == declaration.eligibility.current_level
    assert notice.village_route is False

    opinion = docs.competent_unit_opinion(2025, person, "某主管局", "经审核，同意推荐")
    assert (opinion.competent_unit, opinion.opinion, opinion.applicant) == (
        "某主管局",
        "经审核，同意推荐",
        person,
    )
    approval = docs.approval_document(2025, person)
    assert isinstance(approval, ApprovalDocument) and approval.approved == [person]


def test_the_publicity_result_waits_for_its_open_objections():
    config = sample_round_config()
    person = docs.document_person(sample_declaration_input(), WORKFLOW_ID)
    ends = AT + timedelta(days=7)

    clean = docs.publicity_result(config, person, AT, ends, [])
    assert clean is not None
    assert (clean.objections_raised, clean.resolutions) == (0, [])
    assert clean.opinion == RECOMMENDATION_OPINION

    still_open = [objection(1, Stage.publicity, None)]
    assert docs.publicity_result(config, person, AT, ends, still_open) is None

    resolved = [
        objection(1, Stage.publicity, False, "经核实，材料真实"),
        objection(2, Stage.result_publicity, None),  # the result publicity's: not counted
    ]
    result = docs.publicity_result(config, person, AT, ends, resolved)
    assert result is not None
    assert (result.objections_raised, result.resolutions) == (1, ["经核实，材料真实"])


def test_the_exemption_is_for_half_a_year_in_a_village():
    def facts(months: int) -> EligibilityFacts:
        return EligibilityFacts(
            continuing_education_completed=False,
            village_stationed_months_this_year=months,
            current_level=None,
            years_at_current_level=0,
        )

    five = sample_declaration_input(eligibility=facts(5))
    person = docs.document_person(five, WORKFLOW_ID)
    assert docs.exemption(five, 2025, person) is None
    six = sample_declaration_input(eligibility=facts(6))
    exemption = docs.exemption(six, 2025, person)
    assert exemption is not None
    assert (exemption.village_stationed_months, exemption.round_year) == (6, 2025)


def test_a_request_and_how_its_publication_shows():
    config = sample_round_config()
    request = docs.material_requirements(config, "round-2025", AT)
    assert (request.scope, request.issued_at, request.key) == (
        "round-2025",
        AT,
        "material_requirements/round-2025",
    )
    assert isinstance(request.document, MaterialRequirements)
    assert request.document.submission_closes_at == config.submission_closes_at
    assert request.document.review_opens_at == config.review_opens_at

    kind = DocumentKind.approval_document
    assert docs.publishing(kind).status is DocumentStatus.publishing
    done = PublishedDocument(
        key=f"approval_document/{WORKFLOW_ID}",
        kind=kind,
        column=Column.approval_documents,
        title="关于张三同志具备工程师任职资格的通知",
        date="2025-12-03",
        document_number="甘经开人社〔2025〕1号",
        file_name=f"2025/approval_document-{WORKFLOW_ID}.pdf",
        sha256="a" * 64,
        html_file_name=f"2025/approval_document-{WORKFLOW_ID}.html",
        html_sha256="b" * 64,
        published_at=AT,
    )
    shown = docs.published(kind, done)
    assert (shown.status, shown.file_name, shown.document_number, shown.sha256) == (
        DocumentStatus.published,
        done.file_name,
        "甘经开人社〔2025〕1号",
        "a" * 64,
    )
    failed = docs.failed(kind, "cannot render")
    assert (failed.status, failed.error, failed.file_name) == (
        DocumentStatus.failed,
        "cannot render",
        None,
    )


def test_a_result_list_only_for_a_batch_with_people_passed():
    config = sample_round_config()
    batch = ResultBatch(
        session_id="S1",
        operation_id=7,
        started_at=AT,
        ends_at=AT + timedelta(days=7),
        passed=2,
        not_passed=1,
    )
    ids = ["decl-2025-a", "decl-2025-b", "decl-2025-c"]
    request = docs.result_list_request(config, batch, ids, AT + timedelta(minutes=1))
    assert request is not None
    assert (request.year, request.session_id, request.operation_id) == (config.year, "S1", 7)
    assert request.workflow_ids == ids  # the passed are picked by the activity
    assert (request.starts_at, request.ends_at) == (AT, AT + timedelta(days=7))
    assert request.working_days == config.publicity_working_days
    nobody = batch.model_copy(update={"passed": 0})
    assert docs.result_list_request(config, nobody, ids, AT) is None
    no_end = batch.model_copy(update={"ends_at": None})
    assert docs.result_list_request(config, no_end, ids, AT) is None


# --- window changes (R9) ---------------------------------------------------------------------


def test_window_changes_are_the_boundaries_that_move():
    config = sample_round_config()
    later = config.submission_closes_at + timedelta(days=2)
    proposed = {
        "submission_closes_at": later,
        "review_opens_at": config.review_opens_at,  # the same: no change
        "review_closes_at": None,  # not given
    }
    assert window_changes(config, proposed) == {"submission_closes_at": later}
    assert window_changes(config.model_copy(update={"submission_closes_at": later}), proposed) == {}


def test_changed_windows_must_stay_in_order():
    config = sample_round_config()
    later = config.submission_closes_at + timedelta(days=2)
    changed = changed_config(config, {"submission_closes_at": later, "review_opens_at": later})
    assert not isinstance(changed, Refused)
    assert (changed.submission_closes_at, changed.review_opens_at) == (later, later)
    assert config.submission_closes_at != later  # the original is untouched

    too_late = config.review_closes_at + timedelta(days=1)
    refused = changed_config(config, {"submission_closes_at": too_late})
    assert isinstance(refused, Refused) and refused.kind == "Invalid"
    assert refused.message.startswith("the changed windows are not valid: submission_closes_at")


def test_a_past_boundary_cannot_move_nor_a_boundary_into_the_past():
    config = sample_round_config()
    before_opening = config.submission_opens_at - timedelta(days=1)
    later = config.submission_closes_at + timedelta(days=1)
    assert boundary_refusal(config, {"submission_closes_at": later}, before_opening) is None

    after_close = config.submission_closes_at + timedelta(hours=1)
    passed = boundary_refusal(config, {"submission_closes_at": later}, after_close)
    assert passed is not None and passed.kind == "OutsideWindow"
    assert "has passed: a past boundary cannot move" in passed.message

    into_past = boundary_refusal(
        config, {"review_closes_at": before_opening - timedelta(days=1)}, before_opening
    )
    assert into_past is not None and into_past.kind == "Invalid"
    assert into_past.message.endswith("is in the past")


# --- the round's checks (R20, R22) -----------------------------------------------------------

COMMITTEE = Actor(role=Role.committee, id="committee-1")
SUPERVISOR = Actor(role=Role.supervisor, id="supervisor-1")


def session(session_id: str = "S1", attending: int = 7, valid: bool = True) -> CommitteeSession:
    return CommitteeSession(
        session_id=session_id,
        held_at=AT,
        recorded_by=COMMITTEE,
        committee_name="工程系列光伏硅基专业中级评审委员会",
        members=[f"expert-{n}" for n in range(1, 10)],
        attending=[f"expert-{n}" for n in range(1, attending + 1)],
        required_attendance=6,
        valid=valid,
    )


def votes(*pairs: tuple[str, int], session_id: str = "S1") -> CommitteeVotes:
    return CommitteeVotes(
        actor=COMMITTEE,
        session_id=session_id,
        votes=[Vote(workflow_id=w, yes_votes=y) for w, y in pairs],
    )


def test_votes_are_for_a_valid_session_and_the_rounds_declarations():
    sessions = [session(), session("S0", attending=4, valid=False)]
    assert votes_session(sessions, 2025, votes(("decl-2025-a", 6))) == sessions[0]

    def refusal(action: CommitteeVotes) -> str:
        refused = votes_session(sessions, 2025, action)
        assert isinstance(refused, Refused) and refused.kind == "Invalid"
        return refused.message

    assert refusal(votes(("decl-2025-a", 6), session_id="S9")).startswith("no session S9")
    assert "is not a valid meeting (R20): 4 of 9" in refusal(
        votes(("decl-2025-a", 2), session_id="S0")
    )
    assert refusal(votes(("decl-2024-a", 6))) == "decl-2024-a is not a declaration of 2025"
    assert "8 yes votes but only 7 members attended" in refusal(votes(("decl-2025-a", 8)))
    twice = votes(("decl-2025-a", 6), ("decl-2025-a", 5))
    assert refusal(twice) == "a declaration is listed twice"


def test_a_finding_is_for_a_drawn_spot_check_of_the_round():
    drawing = SpotCheck(
        check_id=1,
        seed=42,
        ratio=Ratio(numerator=1, denominator=20),
        minimum=1,
        requested_by=SUPERVISOR,
        requested_at=AT,
        operation_id=3,
    )
    drawn = drawing.model_copy(update={"check_id": 2, "population": 40, "sample": ["decl-2025-a"]})
    checks = [drawing, drawn]

    def finding(check_id: int, workflow_id: str = "decl-2025-b") -> SpotCheckResult:
        return SpotCheckResult(
            actor=SUPERVISOR, check_id=check_id, workflow_id=workflow_id, fraud=False, finding="无"
        )

    assert finding_check(checks, 2025, finding(2)) == drawn  # outside the sample counts too
    still_drawn = finding_check(checks, 2025, finding(1))
    assert isinstance(still_drawn, Refused) and still_drawn.kind == "WrongStage"
    unknown = finding_check(checks, 2025, finding(5))
    assert isinstance(unknown, Refused) and unknown.message == "no spot check 5"
    other_year = finding_check(checks, 2025, finding(2, "decl-2024-a"))
    assert isinstance(other_year, Refused) and "not a declaration of 2025" in other_year.message


# --- the layering ----------------------------------------------------------------------------

WORKFLOWS = ROOT / "workflows"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.py")), ids=lambda p: p.name)
def test_workflows_import_only_models_rules_temporalio_and_themselves(path: Path):
    allowed = ("models", "rules", "workflows", "temporalio", "pydantic", "__future__")
    standard = ("asyncio", "collections", "datetime", "typing")
    for name in imported_modules(path):
        top = name.split(".")[0]
        assert top in allowed + standard, f"{path.name} imports {name}"


def test_every_patch_is_named_in_patches_py():
    calls_to_patched = []
    for path in WORKFLOWS.glob("*.py"):
        calls_to_patched += re.findall(r"workflow\.patched\(([^)]*)\)", path.read_text("utf-8"))
    assert calls_to_patched and all(arg.startswith("patches.") for arg in calls_to_patched)
    used = {getattr(patches, arg.removeprefix("patches.")) for arg in calls_to_patched}
    assert used == set(patches.ALL)
    assert len(set(patches.ALL)) == len(patches.ALL)


def test_every_activity_called_by_name_is_registered_under_that_name():
    """workflows/calls.py calls each activity by the name models/ gives it; worker.py builds the
    activity classes that define them under the same names."""
    from worker import build_activities, build_ocr_activities

    source = (WORKFLOWS / "calls.py").read_text(encoding="utf-8")
    constants = set(re.findall(r"execute_(?:local_)?activity\(\s*([A-Z_]+(?:\[\w+\])?)", source))
    called = set()
    for constant in constants:
        if constant.startswith("SEND_ACTIVITY"):
            called |= set(calls.SEND_ACTIVITY.values())
        else:
            called.add(getattr(calls, constant))
    settings = load_settings()
    engine = get_engine("sqlite+aiosqlite://")
    registered = {
        activity._Definition.must_from_callable(fn).name
        for fn in build_activities(cast(Client, object()), "q", settings, engine)
        + build_ocr_activities(settings, engine)  # the OCR queue's (worker.build_ocr_worker)
    }
    # queue_notification is registered for a message not tied to a transition; no workflow
    # sends one yet.
    assert registered - called == {QUEUE_NOTIFICATION}
    assert called <= registered
    assert "record_transition" in registered and "act_on_declarations" in registered


def test_a_transition_record_carries_the_number_and_the_competent_unit():
    """The projection's 申报编号 and competent unit come from the declaration's input; no
    competent unit is '' (None would mean a record built before they were carried)."""
    numbered = sample_declaration_input(number="2025-000042")
    record = transition_record(
        numbered, entry(), workflow_id=WORKFLOW_ID, round_year=2025, return_count=0, deadlines={}
    )
    assert (record.number, record.competent_unit) == ("2025-000042", "")
    employer = numbered.applicant.employer.model_copy(update={"competent_unit": " 某管委会 "})
    applicant = numbered.applicant.model_copy(update={"employer": employer})
    unnumbered = sample_declaration_input(applicant=applicant)
    record = transition_record(
        unnumbered, entry(), workflow_id=WORKFLOW_ID, round_year=2025, return_count=0, deadlines={}
    )
    assert (record.number, record.competent_unit) == (None, "某管委会")
