"""The command line, in-process against the real dev server: what an operator types and
reads, the exit codes, and one-line errors that name the file and the field."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from stdnum.cn import ric
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import cli.declarations
import starter
from client.declarations import start_declaration
from models.common import Role
from rules.actions import ACTIONS
from rules.identity import applicant_key
from rules.timezone import SHANGHAI, to_shanghai
from settings import ROOT, Settings, load_settings
from store.accounts import create_account
from store.db import get_engine
from tests.helpers.declaration_support import round_around, start, state
from tests.helpers.portal_support import OTHER_USCC
from tests.helpers.samples import SAMPLE_USCC, sample_declaration_input
from worker import build_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")

EXAMPLE = ROOT / "examples" / "declaration.json"
EXAMPLE_ROUND_2025 = ROOT / "examples" / "rounds" / "2025.json"
EXAMPLE_ID_CARD = "11010519491231002X"


def key_of(id_card: str) -> str:
    """The applicant key the command line derives, under the configured secret."""
    return applicant_key(id_card, load_settings().applicant_key_secret)


@dataclass
class Cli:
    """The environment the command line reads, and a way to run it and read its output."""

    year: int
    capsys: pytest.CaptureFixture[str]

    async def __call__(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()  # drop anything printed before
        code = await starter.run(list(argv))
        out, err = self.capsys.readouterr()
        return code, out, err


def one_line(err: str) -> str:
    """An error is exactly one line on stderr, never a traceback."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """No Temporal server (nothing listens at the address); no round files; the calendar
    package alone."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{closed_port()}")
    (tmp_path / "rounds").mkdir()
    monkeypatch.setenv("ZHICHENG_ROUNDS_DIR", str(tmp_path / "rounds"))
    monkeypatch.setenv("ZHICHENG_CALENDAR_OVERRIDES", str(tmp_path / "no-overrides.json"))
    return Cli(year=2025, capsys=capsys)


@pytest.fixture
async def online(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    dev_env: WorkflowEnvironment,
    dev_worker: Worker,
) -> Cli:
    """The dev server and its worker, a round whose submission window is open now (a
    config/rounds file) and calendar data for the server's year (an override file: the
    calendar package may not know it)."""
    now = to_shanghai(await dev_env.get_current_time())
    year = now.year
    rounds = tmp_path / "rounds"
    rounds.mkdir()
    round_file = {
        "year": year,
        "submission_opens_at": (now - timedelta(days=1)).isoformat(),
        "submission_closes_at": (now + timedelta(days=15)).isoformat(),
        "review_opens_at": (now + timedelta(days=15)).isoformat(),
        "review_closes_at": (now + timedelta(days=30)).isoformat(),
        "payment_closes_at": (now + timedelta(days=45)).isoformat(),
    }
    (rounds / f"{year}.json").write_text(json.dumps(round_file), encoding="utf-8")
    overrides = tmp_path / "calendar_overrides.json"
    plain_years: dict[str, dict[str, list[str]]] = {
        str(y): {"holidays": [], "workdays": []} for y in (year, year + 1)
    }
    overrides.write_text(json.dumps(plain_years), encoding="utf-8")

    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_env.client.namespace)
    monkeypatch.setenv("ZHICHENG_TASK_QUEUE", dev_worker.task_queue)
    monkeypatch.setenv("ZHICHENG_ROUNDS_DIR", str(rounds))
    monkeypatch.setenv("ZHICHENG_CALENDAR_OVERRIDES", str(overrides))
    return Cli(year=year, capsys=capsys)


async def listed(cli: Cli, workflow_id: str, *argv: str) -> str:
    """Visibility is eventually consistent: run `declaration list` until the id shows."""
    out = ""
    for _ in range(100):
        code, out, err = await cli("declaration", "list", *argv)
        assert code == 0, err
        if workflow_id in out:
            return out
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} not listed by {argv}:\n{out}")


async def test_a_declaration_from_start_to_withdrawal(online: Cli):
    cli, year = online, str(online.year)
    expected_id = f"decl-{year}-{key_of(EXAMPLE_ID_CARD)}"

    code, out, err = await cli("declaration", "start", str(EXAMPLE), "--year", year, "--json")
    assert code == 0, err
    started = json.loads(out)
    assert started["workflow_id"] == expected_id
    assert EXAMPLE_ID_CARD not in out  # only the key, never the ID card, names the declaration
    assert started["state"]["stage"] == "draft"
    assert started["state"]["round_year"] == online.year
    number = started["number"]  # 申报编号: the round's counter, no personal data in it
    assert re.fullmatch(rf"{year}-[0-9]{{6}}", number) and started["state"]["number"] == number

    code, _, err = await cli("declaration", "start", str(EXAMPLE), "--year", year)
    assert code == starter.EXIT_REFUSED
    assert one_line(err).startswith(f"refused (AlreadyDeclared): {expected_id} already exists")

    code, out, err = await cli(
        "declaration", "act", expected_id, "submit", "--role", "applicant", "--actor-id", "liming"
    )
    assert code == 0, err
    assert "submit: now employer_review (用人单位审核)" in out
    assert "return count: 0" in out
    assert "submission_closes_at" in out and "+08:00" in out

    code, out, err = await cli("declaration", "state", expected_id, "--json")
    assert code == 0, err
    state = json.loads(out)
    assert (state["stage"], state["level"], state["return_count"]) == (
        "employer_review",
        "intermediate",
        0,
    )
    assert all(at.endswith("+08:00") for at in state["deadlines"].values())
    allowed = {a["action"]: a["roles"] for a in state["allowed_actions"]}
    assert allowed == {
        "employer_return": ["employer"],
        "start_publicity": ["employer"],
        "withdraw": ["applicant"],
        "assign": ["employer"],  # R26: 转办
    }

    code, out, err = await cli("declaration", "state", expected_id)
    assert code == 0, err
    assert f"number:       {number}" in out
    assert "stage:        employer_review (用人单位审核)" in out
    assert "level:        intermediate (中级)" in out
    assert ["start_publicity", "employer"] in [line.split() for line in out.splitlines()]

    code, out, err = await cli("declaration", "history", expected_id)
    assert code == 0, err
    submit_line = next(line for line in out.splitlines() if " submit " in line)
    assert "applicant:liming" in submit_line
    assert "draft → employer_review" in submit_line
    assert "+08:00" in submit_line
    code, out, err = await cli("declaration", "history", expected_id, "--json")
    timeline = json.loads(out)
    assert [(e["seq"], e["action"]) for e in timeline] == [(1, "start"), (2, "submit")]
    assert all(e["at"].endswith("+08:00") for e in timeline)

    out = await listed(cli, expected_id, "--year", year, "--stage", "employer_review")
    row = next(line for line in out.splitlines() if line.startswith(expected_id))
    state = json.loads((await cli("declaration", "state", expected_id, "--json"))[1])
    assert row.split() == [
        expected_id,
        number,
        "employer_review",
        state["deadlines"]["submission_closes_at"],  # what employer review waits for (R10)
        "intermediate",
        "ftz_urumqi",
        "0",
        "running",
    ]
    assert "RoundYear = " + year in out.splitlines()[-1]
    # `Level` must reach the server quoted: unquoted, it rejects the whole query.
    code, out, err = await cli("declaration", "list", "--level", "intermediate", "--json")
    assert code == 0, err
    assert "`Level` = 'intermediate'" in json.loads(out)["query"]
    code, out, err = await cli("declaration", "list", "--year", year, "--stage", "correction")
    assert code == 0, err
    assert expected_id not in out
    # the Web UI's query language, narrowing the declarations
    query = "Stage = 'employer_review' AND ReturnCount = 0"
    code, out, err = await cli("declaration", "list", "--year", year, "--query", query)
    assert code == 0, err
    assert expected_id in out and f"AND ({query})" in out.splitlines()[-1]
    code, out, err = await cli("declaration", "list", "--query", "ReturnCount >= 1 AND Stage = 'x'")
    assert code == 0, err
    assert expected_id not in out
    code, out, err = await cli("declaration", "list", "--query", "Stage = = 'x'")
    assert code != 0 and "Stage = = 'x'" not in out, (code, out, err)

    # The validator's refusals: exit 3 and its own message.
    code, out, err = await cli(
        "declaration", "act", expected_id, "submit", "--role", "applicant", "--actor-id", "liming"
    )
    assert code == starter.EXIT_REFUSED
    assert one_line(err) == (
        "refused (WrongStage): submit is not allowed in stage employer_review (only in: draft)"
    )
    code, _, err = await cli(
        "declaration", "act", expected_id, "start_publicity", "--role", "applicant",
        "--actor-id", "liming",
    )  # fmt: skip
    assert code == starter.EXIT_REFUSED
    assert one_line(err).startswith("refused (WrongRole): start_publicity in stage employer_review")

    # The payload is checked before it is sent.
    code, _, err = await cli(
        "declaration", "act", expected_id, "employer_return", "--role", "employer",
        "--actor-id", "hr-01", "--data", '{"reason": ""}',
    )  # fmt: skip
    assert code == starter.EXIT_BAD_INPUT
    assert one_line(err) == "error: --data: reason: String should have at least 1 character"

    code, out, err = await cli(
        "declaration", "act", expected_id, "withdraw", "--role", "applicant", "--actor-id",
        "liming", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["stage"] == "withdrawn"
    # A closed workflow still answers its query while a worker runs.
    code, out, err = await cli("declaration", "state", expected_id)
    assert code == 0, err
    assert "stage:        withdrawn (申报人撤回)" in out
    assert "allowed actions: none (ended)" in out
    code, _, err = await cli(
        "declaration", "act", expected_id, "submit", "--role", "applicant", "--actor-id", "liming"
    )
    assert code == starter.EXIT_REFUSED
    assert "withdrawn" in one_line(err)


def id_card_born(birth: str, serial: str = "123") -> str:
    """A valid ID-card number (its check digit computed) for a birth date YYYYMMDD."""
    body = f"110105{birth}{serial}"
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder check digit


async def test_a_declaration_is_found_by_its_number(online: Cli, tmp_path: Path):
    """`declaration start` prints the 申报编号; opened again, the same declaration keeps it;
    `declaration find` looks it up in the record database and `list --number` in Temporal's
    visibility; a number that is nobody's is exit 4, one that is no number exit 2."""
    cli, year = online, str(online.year)
    id_card = id_card_born("19800101", f"{uuid.uuid4().int % 1000:03d}")
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["applicant"]["id_card"] = id_card
    path = tmp_path / "declaration.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    workflow_id = f"decl-{year}-{key_of(id_card)}"

    code, out, err = await cli("declaration", "start", str(path), "--year", year)
    assert code == 0, err
    first, number_line = out.splitlines()[:2]
    assert first == workflow_id
    number = number_line.removeprefix("number: ")
    assert re.fullmatch(rf"{year}-[0-9]{{6}}", number), out
    assert id_card not in out
    code, _, err = await cli("declaration", "start", str(path), "--year", year)
    assert code == starter.EXIT_REFUSED  # AlreadyDeclared; the number was not used up again
    code, out, err = await cli("declaration", "find", number)
    assert code == 0, err
    assert out.splitlines()[0] == workflow_id
    assert f"number:        {number}  (round {year})" in out
    assert "stage:         draft (填报中)" in out
    code, out, err = await cli("declaration", "find", number.replace("-0", "-", 1), "--json")
    assert code == 0, err  # as a person may type it: 2026-12 for 2026-000012
    found = json.loads(out)
    assert (found["workflow_id"], found["number"], found["stage"]) == (workflow_id, number, "draft")
    assert id_card not in out and data["applicant"]["name"] not in out
    out = await listed(cli, workflow_id, "--number", number)
    assert f"DeclarationNumber = '{number}'" in out.splitlines()[-1]

    code, _, err = await cli("declaration", "find", f"{int(year) + 50}-000001")
    assert code == starter.EXIT_UNAVAILABLE
    assert "no declaration numbered" in one_line(err)
    code, _, err = await cli("declaration", "find", id_card)
    assert code == starter.EXIT_BAD_INPUT
    assert "not a declaration number" in one_line(err) and id_card not in err  # not echoed
    code, _, err = await cli("declaration", "list", "--number", "x")
    assert code == starter.EXIT_BAD_INPUT


def request_id_of(err: str) -> str:
    """The request id a successful `act` prints on stderr (its only line there)."""
    found = re.fullmatch(r"request id: ([0-9a-f]{24})\n", err)
    assert found, err
    return found.group(1)


async def test_assign_names_the_colleague_from_the_accounts(
    online: Cli, dev_env: WorkflowEnvironment, dev_worker: Worker
):
    """R26: `act ... assign` resolves the colleague against the accounts table (its
    organisation goes with it); `history` names the person behind each account."""
    engine = get_engine(load_settings().database_url)
    tag = uuid.uuid4().hex[:6]
    colleague, stranger = f"hr-{tag}", f"hr-other-{tag}"
    for username, uscc in ((colleague, SAMPLE_USCC), (stranger, OTHER_USCC)):
        created = await create_account(
            engine, role=Role.employer, username=username, password="correct-horse-battery",
            display_name=f"王科长{tag}" if uscc == SAMPLE_USCC else "外单位", employer_uscc=uscc,
        )  # fmt: skip
        assert created
    handle = await start(dev_env, dev_worker)
    act = ("declaration", "act", handle.id)
    code, _, err = await online(*act, "submit", "--role", "applicant", "--actor-id", "liming")
    assert code == 0, err

    assign = (*act, "assign", "--role", "employer", "--actor-id", "hr-01", "--data")
    code, _, err = await online(*assign, json.dumps({"assignee": "nobody-" + tag}))
    assert code == starter.EXIT_BAD_INPUT and "no employer account named" in one_line(err)
    code, _, err = await online(*assign, json.dumps({"assignee": stranger}))
    assert code == starter.EXIT_REFUSED and "not an account of the organisation" in err
    code, out, err = await online(*assign, json.dumps({"assignee": colleague, "note": "请审核"}))
    assert code == 0, err
    assert "assign: now employer_review" in out

    code, out, err = await online("declaration", "history", handle.id)
    assert code == 0, err
    line = next(line for line in out.splitlines() if " assign " in line)
    assert f"assign → employer:employer:{colleague} (王科长{tag})" in line and "请审核" in line
    code, out, err = await online("declaration", "history", handle.id, "--json")
    entry = json.loads(out)[-1]
    assert entry["assignee"] == {"role": "employer", "id": f"employer:{colleague}"}
    assert entry["assignee_person"] == f"王科长{tag}"


async def test_a_request_repeated_with_its_id_is_applied_once(
    online: Cli, dev_env: WorkflowEnvironment, dev_worker: Worker
):
    """Each `act` is a request of its own, with an id it prints; `--request-id` repeats one:
    the second run answers with the first one's result and makes no second transition."""
    handle = await start(dev_env, dev_worker)
    submit = ["declaration", "act", handle.id, "submit", "--role", "applicant", "--actor-id", "lm"]
    code, out, err = await online(*submit)
    assert code == 0, err
    request_id = request_id_of(err)
    assert (await online(*submit, "--request-id", request_id)) == (0, out, err)
    assert [t.action for t in (await state(handle)).timeline] == ["start", "submit"]
    # without its id the same command is a new request, which the workflow refuses
    code, _, err = await online(*submit)
    assert code == starter.EXIT_REFUSED
    assert one_line(err).startswith("refused (WrongStage): submit is not allowed")
    # the id is the operator's request for this action as this actor: as another, it is new
    code, _, err = await online(*submit[:-1], "someone-else", "--request-id", request_id)
    assert code == starter.EXIT_REFUSED and "WrongStage" in one_line(err)


async def test_an_act_that_timed_out_is_repeated_with_its_request_id(
    online: Cli,
    dev_env: WorkflowEnvironment,
    session_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
):
    """No worker on the declaration's task queue: `act` gives up, and its one line says how
    to repeat it. Repeated with that id once a worker is up, it is applied once."""
    queue = f"no-worker-{uuid.uuid4().hex[:8]}"
    declaration = sample_declaration_input(
        round=round_around(await dev_env.get_current_time()), applicant_key=uuid.uuid4().hex[:16]
    )
    handle = await start_declaration(dev_env.client, declaration, queue)
    monkeypatch.setattr(cli.declarations, "UPDATE_TIMEOUT", timedelta(seconds=1))
    submit = ["declaration", "act", handle.id, "submit", "--role", "applicant", "--actor-id", "lm"]
    code, out, err = await online(*submit)
    assert (code, out) == (starter.EXIT_UNAVAILABLE, "")
    line = one_line(err)
    assert "submit not accepted by any worker within 1 s" in line
    found = re.search(r"to repeat it safely \(applied once\): --request-id ([0-9a-f]{24})$", line)
    assert found, line
    request_id = found.group(1)

    monkeypatch.setattr(cli.declarations, "UPDATE_TIMEOUT", timedelta(seconds=30))
    async with build_worker(dev_env.client, queue, settings=session_settings):
        code, out, err = await online(*submit, "--request-id", request_id)
        assert code == 0, err
        assert "submit: now employer_review" in out and request_id_of(err) == request_id
        assert [t.action for t in (await state(handle)).timeline] == ["start", "submit"]


async def test_start_after_submission_closed_is_refused(online: Cli, tmp_path: Path):
    """R10: such a declaration could only end as not_submitted, using up the applicant's one
    declaration of the round, so nothing is started."""
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["applicant"]["id_card"] = "650102198506151259"  # another valid ID card number
    path = tmp_path / "late.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, err = await online("declaration", "start", str(path), "--year", "2025")
    assert code == starter.EXIT_REFUSED
    assert out == ""
    assert one_line(err) == (
        "refused (SubmissionClosed): round 2025's submission closed at "
        "2025-09-30T00:00:00+08:00; nothing started (to try the system now: "
        "starter.py round try-out 2025)"
    )
    workflow_id = f"decl-2025-{key_of('650102198506151259')}"
    code, _, err = await online("declaration", "state", workflow_id)
    assert code == starter.EXIT_UNAVAILABLE, err


async def test_an_ineligible_applicant_is_refused_and_nothing_starts(
    online: Cli, dev_env: WorkflowEnvironment, tmp_path: Path
):
    """R1–R8 are checked before the start (client/declarations.py open_declaration): the
    workflow would only end `ineligible` and use up the applicant's one declaration of the
    round. Here R4 from the file's facts, and R8 from the integrity archive alone (the file
    declares no block)."""
    from datetime import date

    from sqlalchemy import delete
    from temporalio.service import RPCError, RPCStatusCode

    from store.db import get_engine
    from store.tables import IntegrityArchiveEntry

    id_card = "650102199001011239"
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["applicant"]["id_card"] = id_card
    data["eligibility"]["continuing_education_completed"] = False
    path = tmp_path / "ineligible.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    key = key_of(id_card)
    revoked = {
        "workflow_id": f"decl-2020-{key}",
        "applicant_key": key,
        "applicant_name": "王五",
        "round_year": 2020,
        "level": "junior",
        "reason": "业绩材料系伪造",
        "revoked_at": datetime(2021, 3, 1, tzinfo=SHANGHAI),
        "blocked_until": date(online.year + 2, 12, 31),
        "recorded_by": "supervisor:test",
    }
    async with get_engine().begin() as conn:
        await conn.execute(IntegrityArchiveEntry.__table__.insert(), [revoked])
    try:
        code, out, err = await online("declaration", "start", str(path), "--year", str(online.year))
    finally:
        async with get_engine().begin() as conn:
            await conn.execute(
                delete(IntegrityArchiveEntry).where(IntegrityArchiveEntry.applicant_key == key)
            )
    assert code == starter.EXIT_REFUSED == 3
    assert out == ""
    line = one_line(err)
    assert line.startswith("refused (Ineligible): not eligible (R4: continuing education")
    assert "; R8: " in line and f"{online.year + 2}-12-31" in line
    assert line.endswith("; nothing started")
    workflow_id = f"decl-{online.year}-{key}"
    with pytest.raises(RPCError) as raised:  # no workflow: the one declaration is not used up
        await dev_env.client.get_workflow_handle(workflow_id).describe()
    assert raised.value.status == RPCStatusCode.NOT_FOUND
    code, _, err = await online("declaration", "state", workflow_id)
    assert code == starter.EXIT_UNAVAILABLE, err


async def test_a_material_title_naming_the_applicant_is_refused_at_start(
    online: Cli, dev_env: WorkflowEnvironment, tmp_path: Path
):
    """R11: a material's title is shown to the evaluation body, so a declaration file whose
    material names the applicant or the employer starts nothing (client/declarations.py
    open_declaration); the refusal says where and what kind, never the value."""
    from temporalio.service import RPCError, RPCStatusCode

    id_card = "650102199203041233"
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["applicant"]["id_card"] = id_card
    data["materials"][1]["name"] = "李 明（新疆示例硅业）专利证书.pdf"
    path = tmp_path / "named.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, err = await online("declaration", "start", str(path), "--year", str(online.year))
    assert code == starter.EXIT_REFUSED
    assert out == ""
    assert one_line(err) == (
        "refused (IdentifyingTitle): materials[1]: the title identifies the applicant (name); "
        "nothing started (blind review, R11: rename that material in the file)"
    )
    with pytest.raises(RPCError) as raised:
        await dev_env.client.get_workflow_handle(f"decl-{online.year}-{key_of(id_card)}").describe()
    assert raised.value.status == RPCStatusCode.NOT_FOUND


async def test_round_try_out_opens_the_window_today(offline: Cli):
    code, out, err = await offline("round", "try-out", "2025")
    assert code == 0, err
    written = json.loads((load_settings().rounds_dir / "2025.json").read_text(encoding="utf-8"))
    today = datetime.now(SHANGHAI).date()
    assert written["submission_opens_at"] == f"{today.isoformat()}T00:00:00+08:00"
    closes = datetime.fromisoformat(written["submission_closes_at"])
    assert closes - datetime.fromisoformat(written["submission_opens_at"]) == timedelta(days=21)
    code, out, err = await offline("round", "plan", "2025", "--json")
    assert code == 0, err
    assert json.loads(out)["submission_closes_at"] == written["submission_closes_at"]
    code, _, err = await offline("round", "try-out", "2025")
    assert code == starter.EXIT_BAD_INPUT
    assert one_line(err).endswith("2025.json exists; --force replaces it")


async def test_unknown_declaration(online: Cli):
    code, out, err = await online("declaration", "state", "decl-1999-0000000000000000")
    assert code == starter.EXIT_UNAVAILABLE
    assert out == ""
    assert (
        one_line(err) == "error: no declaration 'decl-1999-0000000000000000' in namespace 'default'"
    )


async def test_unknown_action_is_named_before_anything_is_sent(offline: Cli):
    code, out, err = await offline(
        "declaration", "act", "decl-2025-x", "approve_everything", "--role", "employer",
        "--actor-id", "hr-01",
    )  # fmt: skip
    assert code == starter.EXIT_BAD_INPUT
    assert out == ""
    assert one_line(err).startswith("error: unknown action 'approve_everything'; known: submit, ")


@pytest.mark.parametrize(
    ("action", "data", "named"),
    [
        ("employer_return", '{"reason": "a\\u0000b"}', "reason: contains a control character"),
        ("submit", '{"note": "\\u001b[31m"}', "note: contains a control character"),
        ("resolve_objection", '{"objection_id": 1, "upheld": "yes", "resolution": "r"}',
         "upheld: Input should be a valid boolean"),
        ("record_defense_score", '{"score": "6"}', "score: Input should be a valid number"),
        ("record_defense_score", '{"score": true}', "score: Input should be a valid number"),
    ],
)  # fmt: skip
async def test_a_payload_is_checked_strictly_before_anything_is_sent(
    offline: Cli, action: str, data: str, named: str
):
    """Nothing listens at the Temporal address: the command line refuses before connecting,
    naming the field."""
    code, out, err = await offline(
        "declaration", "act", "decl-2025-x", action, "--role", "employer", "--actor-id", "hr-01",
        "--data", data,
    )  # fmt: skip
    assert code == starter.EXIT_BAD_INPUT
    assert out == ""
    assert one_line(err).startswith(f"error: --data: {named}"), err


async def test_an_actor_id_that_cannot_be_stored_is_refused(offline: Cli):
    code, _, err = await offline(
        "declaration", "act", "decl-2025-x", "submit", "--role", "applicant", "--actor-id",
        "li\x00ming",
    )  # fmt: skip
    assert code == starter.EXIT_BAD_INPUT
    assert "actor.id: contains a control character (U+0000) at character 3" in one_line(err)


async def test_a_malformed_request_id_is_refused_before_anything_is_sent(offline: Cli):
    for command in (
        ["declaration", "act", "decl-2025-x", "submit"],
        ["round", "act", "2025", "refresh_statistics"],
    ):
        code, out, err = await offline(
            *command, "--role", "applicant", "--actor-id", "a", "--request-id", "申报 1"
        )
        assert (code, out) == (starter.EXIT_BAD_INPUT, "")
        assert "argument --request-id: '申报 1' is not a request id: 1 to 64 characters" in (
            one_line(err)
        )


async def test_bad_role(offline: Cli):
    code, _, err = await offline(
        "declaration", "act", "decl-2025-x", "submit", "--role", "boss", "--actor-id", "b"
    )
    assert code == starter.EXIT_BAD_INPUT
    assert "argument --role: unknown choice 'boss'" in one_line(err)


async def test_malformed_json_file(offline: Cli, tmp_path: Path):
    path = tmp_path / "decl.json"
    path.write_text('{\n  "level": "junior"\n    "jurisdiction": "ftz_urumqi"\n}\n')
    code, out, err = await offline("declaration", "start", str(path), "--year", "2025")
    assert code == starter.EXIT_BAD_INPUT
    assert out == ""
    assert one_line(err) == f"error: {path}: line 3 column 5: Expecting ',' delimiter"

    code, _, err = await offline("declaration", "start", str(tmp_path / "missing.json"))
    assert code == starter.EXIT_BAD_INPUT
    assert one_line(err) == f"error: {tmp_path / 'missing.json'}: no such file"


async def test_invalid_id_card_names_file_and_field(offline: Cli, tmp_path: Path):
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["applicant"]["id_card"] = "110105194912310021"  # wrong check digit
    data["level"] = "senior"  # a second error, counted
    path = tmp_path / "decl.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, out, err = await offline("declaration", "start", str(path), "--year", "2025")
    assert code == starter.EXIT_BAD_INPUT
    assert out == ""
    line = one_line(err)
    assert line.startswith(
        f"error: {path}: applicant.id_card: not a valid resident ID card number: "
    )
    assert line.endswith("(and 1 more error)")


async def test_round_fields_are_not_part_of_a_declaration_file(offline: Cli, tmp_path: Path):
    data = json.loads(EXAMPLE.read_text(encoding="utf-8")) | {"applicant_key": "0" * 16}
    path = tmp_path / "decl.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = await offline("declaration", "start", str(path), "--year", "2025")
    assert code == starter.EXIT_BAD_INPUT
    assert one_line(err).startswith(f"error: {path}: applicant_key: leave it out of the file")


async def test_temporal_unreachable(offline: Cli):
    code, _, err = await offline("declaration", "list", "--year", "2025")
    assert code == starter.EXIT_UNAVAILABLE
    assert one_line(err).startswith("error: cannot reach Temporal at 127.0.0.1:")


async def test_round_plan_2025_needs_no_server(offline: Cli):
    code, out, err = await offline("round", "plan", "2025")
    assert code == 0, err
    lines = out.splitlines()
    latest = next(line for line in lines if "latest publicity start" in line)
    assert latest.split()[4] == "2025-09-22"
    assert "ending 2025-09-29T00:00:00+08:00" in latest
    assert "submission opens (R9)         2025-09-01T00:00:00+08:00" in out
    assert "submission closes (R9, R10)   2025-09-30T00:00:00+08:00" in out
    assert "review closes (R9)            2025-10-31T00:00:00+08:00" in out

    code, out, err = await offline("round", "plan", "2025", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["latest_publicity_start"] == "2025-09-22"
    assert plan["submission_opens_at"] == "2025-09-01T00:00:00+08:00"
    assert plan["submission_closes_at"] == "2025-09-30T00:00:00+08:00"


async def test_round_file_overrides_the_pattern(offline: Cli, monkeypatch: pytest.MonkeyPatch):
    """examples/rounds/2025.json spells out the pattern: the same plan, from the file."""
    code, from_pattern, _ = await offline("round", "plan", "2025", "--json")
    assert code == 0
    rounds = load_settings().rounds_dir
    shutil.copy(EXAMPLE_ROUND_2025, rounds / "2025.json")
    code, from_file, _ = await offline("round", "plan", "2025", "--json")
    assert code == 0
    assert json.loads(from_file) == json.loads(from_pattern)
    code, out, _ = await offline("round", "plan", "2025")
    assert f"configuration: {rounds / '2025.json'}" in out

    moved = json.loads(EXAMPLE_ROUND_2025.read_text()) | {"submission_closes_at": "2025-09-20"}
    (rounds / "2025.json").write_text(json.dumps(moved))
    code, out, err = await offline("round", "plan", "2025", "--json")
    assert code == starter.EXIT_BAD_INPUT
    assert one_line(err).startswith(f"error: {rounds / '2025.json'}: submission_closes_at: ")


async def test_round_plan_for_a_year_the_calendar_does_not_know(offline: Cli):
    code, out, err = await offline("round", "plan", "2031")
    assert code == starter.EXIT_BAD_INPUT
    assert out == ""
    assert one_line(err).startswith("error: working-day calendar for 2031 is not loaded")


async def test_actions_come_from_the_workflow(offline: Cli):
    code, out, err = await offline("actions", "--json")
    assert code == 0, err
    described = {item["action"]: item for item in json.loads(out)}
    assert list(described) == list(ACTIONS)
    fields = {f["name"]: f for f in described["return_for_correction"]["fields"]}
    assert fields["reason"] == {"name": "reason", "type": "str", "required": True}
    assert fields["actor"]["required"]
    assert described["submit"]["model"] == "SubmitAction"
    assert described["submit"]["stages"] == {"draft": ["applicant"]}
    assert described["raise_objection"]["stages"] == {
        "publicity": ["employer"],
        "result_publicity": ["supervisor"],
    }
    code, out, _ = await offline("actions")
    assert "  data: note: str | None (optional); materials: list[Material] | None (optional)" in out


async def test_help_everywhere(offline: Cli):
    for argv in (
        [],
        ["declaration"],
        ["declaration", "start"],
        ["declaration", "act"],
        ["declaration", "state"],
        ["declaration", "history"],
        ["declaration", "list"],
        ["round"],
        ["round", "plan"],
        ["documents", "failed"],
        ["documents", "retry"],
        ["actions"],
    ):
        code, out, err = await offline(*argv, "--help")
        assert code == 0, (argv, err)
        assert "exit codes:" in out and "3  refused" in out, argv
