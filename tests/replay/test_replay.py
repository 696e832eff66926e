"""Recorded histories replay against the current workflow code, so a change that would break
running declarations fails here before it lands (use `workflow.patched` for such changes).

Record them again with:
    ZHICHENG_RECORD_HISTORIES=1 scripts/test.sh tests/workflows/test_declaration.py
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from worker import build_replayer

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
REQUIRED = {"happy_path_intermediate", "correction_path_abandoned"}


def test_required_histories_are_committed():
    assert {path.stem for path in HISTORIES} >= REQUIRED


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    result = await build_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
