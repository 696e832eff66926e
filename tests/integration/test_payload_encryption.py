"""Payload encryption on the real dev server: an applicant's declaration walks the whole happy
path (with its documents) and neither the server's database file nor `temporal workflow show`
holds the applicant's name, ID-card number, mobile or e-mail, in any of the forms a payload
could carry them (UTF-8, JSON \\u escapes, base64 of either); the worker logged none of them.
With the codec server running, the same history decodes (its /decode and the CLI's
--codec-endpoint), and it replays. A declaration started by a client without the codec is the
check of the check: its name is found in both.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.connection import data_converter
from client.declarations import start_declaration
from models.common import Level, Stage
from models.declaration import Applicant, DeclarationInput, Employer
from rules.identity import applicant_key
from settings import ROOT, Settings
from tests.conftest import prepared, venv_binary
from tests.helpers.declaration_support import (
    RECOMMENDATION,
    SECOND,
    act,
    arrange_defense,
    round_around,
    sleep_until,
)
from tests.helpers.portal_applicant_support import new_id_card
from tests.helpers.samples import sample_declaration_input
from worker import build_replayer, build_worker

TOKEN = "ops-" + "x" * 40
COMMON_HANZI = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"


def unique_applicant() -> Applicant:
    """A name, ID card, mobile and e-mail nobody else in the session has."""
    tag = uuid.uuid4().hex[:10]
    return Applicant(
        name="欧阳" + "".join(random.choices(COMMON_HANZI, k=3)),
        id_card=new_id_card(),
        mobile="139" + f"{random.randrange(10**8):08d}",
        email=f"enc-{tag}@example.com",
        employer=Employer(name="新疆示例硅业有限公司", uscc="91110000802100433B"),
    )


def personal_values(applicant: Applicant) -> dict[str, str]:
    values = {
        "name": applicant.name,
        "id_card": applicant.id_card,
        "mobile": applicant.mobile,  # as stored: +86...
        "mobile_national": applicant.mobile.removeprefix("+86"),
    }
    assert applicant.email is not None
    values["email"] = str(applicant.email)
    return values


def _base64_cores(data: bytes) -> set[bytes]:
    """What base64 of `data` looks like inside a longer base64 text, at each of the three
    alignments: the characters that depend on `data` alone (standard and URL-safe)."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data)
        start = {0: 0, 1: 2, 2: 3}[offset]
        end = (offset + len(data)) // 3 * 4  # complete groups only
        core = encoded[start:end]
        cores |= {core, core.translate(bytes.maketrans(b"+/", b"-_"))}
    return {core for core in cores if len(core) >= 8}


def needles(value: str) -> dict[str, bytes]:
    """Every form a payload or a log could hold `value` in."""
    escaped = json.dumps(value)[1:-1]  # \\uXXXX for each non-ASCII character
    forms = {
        "utf-8": value.encode(),
        "json-escaped": escaped.encode(),
        "json-escaped-upper": escaped.replace("\\u", "\\U").upper().replace("\\U", "\\u").encode(),
    }
    for label, form in list(forms.items()):
        for n, core in enumerate(sorted(_base64_cores(form))):
            forms[f"base64({label})#{n}"] = core
    return forms


def occurrences(haystack: bytes, values: dict[str, str]) -> dict[str, int]:
    found = {}
    for field, value in values.items():
        for form, needle in needles(value).items():
            count = haystack.count(needle)
            if count:
                found[f"{field} as {form}"] = count
    return found


def database_bytes(path: Path) -> bytes:
    """The dev server's SQLite file with its WAL (what is not checkpointed yet)."""
    return b"".join(
        p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")) if p.is_file()
    )


def cli(env: WorkflowEnvironment, *args: str) -> str:
    command = [
        venv_binary("temporal"),
        *args,
        "--address",
        env.client.service_client.config.target_host,
        "--namespace",
        env.client.namespace,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def codec_server(settings: Settings, log: Path) -> Iterator[str]:
    """`python codec_server.py` as production runs it: its keys and token, not development."""
    port = free_port()
    environ = os.environ | {
        "ZHICHENG_ENV": "production",  # so every secret must be real: each its own
        "ZHICHENG_APPLICANT_KEY_SECRET": secrets.token_urlsafe(48),
        "PORTAL_SECRET": secrets.token_urlsafe(48),
        "ZHICHENG_ACTOR_SIGNING_KEY": secrets.token_urlsafe(48),
        "ZHICHENG_CODEC_KEYS": settings.codec_keys,
        "ZHICHENG_CODEC_TOKEN": TOKEN,
        "ZHICHENG_CODEC_ADDRESS": f"127.0.0.1:{port}",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "codec_server.py"],
            cwd=ROOT,
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                assert process.poll() is None, log.read_text(errors="replace")
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise AssertionError(f"the codec server did not start:\n{log.read_text()}")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def walk_happy_path(env: WorkflowEnvironment, declaration: DeclarationInput, queue: str):
    """Start to approval on real time: drill publicities of 2 s, the review window opening
    shortly after the start (the round's windows), every reviewer's action on the way."""
    handle = await start_declaration(env.client, declaration, queue)
    await act(handle, "submit", "applicant")
    current = await act(handle, "start_publicity", "employer")
    await sleep_until(env, datetime.fromisoformat(current.deadlines["publicity_ends_at"]), SECOND)
    current = await act(handle, "recommend", "employer", **RECOMMENDATION)
    assert current.stage is Stage.evaluation_review
    await sleep_until(env, datetime.fromisoformat(current.deadlines["review_opens_at"]), SECOND)
    await act(handle, "accept_materials", "evaluation_body")
    await act(handle, "confirm_payment", "evaluation_body", receipt_no="R-1")
    starts = await arrange_defense(env, handle, SECOND)  # real time: a defense soon
    await sleep_until(env, starts, SECOND)  # scored once it has begun (R18)
    await act(handle, "record_defense_score", "evaluation_body", score=82.5)
    current = await act(
        handle, "committee_vote", "committee", session_id="S1", members=9, attending=7, yes_votes=5
    )
    assert current.stage is Stage.result_publicity
    final = await handle.result()
    assert final.stage is Stage.approved
    assert len(final.documents) >= 3, final.documents  # the happy path's documents, published
    return handle


@pytest.mark.asyncio(loop_scope="session")
async def test_no_personal_data_in_temporal(
    session_settings: Settings,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.INFO)
    key = base64.b64encode(os.urandom(32)).decode()
    settings = session_settings.model_copy(
        update={"codec_keys": f"it-{uuid.uuid4().hex[:6]}:{key}"}
    )
    db_file = tmp_path / "temporal.db"
    async with await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=venv_binary("temporal"),
        dev_server_extra_args=["--db-filename", str(db_file)],
    ) as env:
        await prepared(env, database_url)
        queue = f"encrypted-{uuid.uuid4().hex[:8]}"
        applicant = unique_applicant()
        values = personal_values(applicant)
        now = await env.get_current_time()
        opens = now + timedelta(seconds=20)
        config = round_around(
            now, submission_closes_at=opens, review_opens_at=opens, drill_publicity_seconds=2
        )
        declaration = sample_declaration_input(
            round=config,
            applicant=applicant,
            applicant_key=applicant_key(applicant.id_card, settings.applicant_key_secret),
            level=Level.intermediate,
        )
        async with build_worker(env.client, queue, settings=settings):
            handle = await walk_happy_path(env, declaration, queue)

            # The check of the check: a client without the codec writes the name as it is.
            plain_applicant = unique_applicant()
            plain_client = await Client.connect(
                env.client.service_client.config.target_host,
                namespace=env.client.namespace,
                data_converter=pydantic_data_converter,
            )
            plain = await start_declaration(
                plain_client,
                sample_declaration_input(
                    round=config, applicant=plain_applicant, applicant_key=uuid.uuid4().hex[:16]
                ),
                queue,
            )
            await plain.terminate("the check of the check")

        shown = cli(env, "workflow", "show", "--workflow-id", handle.id, "--output", "json")
        history_json = json.loads(shown)
        assert len(history_json["events"]) > 20
        assert occurrences(shown.encode(), values) == {}
        plain_shown = cli(env, "workflow", "show", "--workflow-id", plain.id, "--output", "json")
        assert occurrences(plain_shown.encode(), {"name": plain_applicant.name})

        described = cli(env, "workflow", "describe", "--workflow-id", handle.id, "--output", "json")
        assert occurrences(described.encode(), values) == {}

        stored = database_bytes(db_file)
        assert handle.id.encode() in stored  # the right file
        assert occurrences(stored, {"name": plain_applicant.name}), "the check checks nothing"
        assert occurrences(stored, values) == {}

        # Logs: the worker's, the SDK's, the activities' and the workflows' records.
        assert caplog.records
        assert occurrences(caplog.text.encode(), values) == {}

        # With the codec server, the same history decodes.
        with codec_server(settings, tmp_path / "codec.log") as codec:
            started = history_json["events"][0]["workflowExecutionStartedEventAttributes"]
            async with httpx.AsyncClient(base_url=codec) as http:
                refused = await http.post("/decode", json=started["input"])
                assert refused.status_code == 401
                response = await http.post(
                    "/decode",
                    json=started["input"],
                    headers={"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default"},
                )
            assert response.status_code == 200, response.text
            [payload] = response.json()["payloads"]
            decoded = json.loads(base64.b64decode(payload["data"]))
            assert decoded["applicant"]["name"] == applicant.name
            assert decoded["applicant"]["id_card"] == applicant.id_card

            # The CLI, as operations staff use it (docs/operations.md).
            with_codec = cli(
                env,
                "workflow",
                "show",
                "--workflow-id",
                handle.id,
                "--output",
                "json",
                "--codec-endpoint",
                codec,
                "--codec-auth",
                f"Bearer {TOKEN}",
            )
            assert occurrences(with_codec.encode(), {"name": applicant.name})
        codec_log = (tmp_path / "codec.log").read_text(errors="replace")
        assert occurrences(codec_log.encode(), values) == {}

        # The encrypted history replays with the same keys.
        history = WorkflowHistory.from_json(handle.id, shown)
        result = await build_replayer(settings).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert result.replay_failure is None, result.replay_failure


def test_needles_find_what_they_look_for() -> None:
    """The search above finds each form inside longer text, at any base64 alignment."""
    value = "欧阳伟芳"
    for prefix in (b"", b"x", b"xy"):
        blob = prefix + json.dumps({"name": value}).encode()
        assert occurrences(base64.b64encode(blob), {"v": value})
        assert occurrences(base64.b64encode(prefix + value.encode()), {"v": value})
    assert occurrences(json.dumps({"n": value}).encode(), {"v": value})
    assert occurrences(b"'" + value.encode() + b"'", {"v": value})
    assert not occurrences(b"nothing here", {"v": value})
