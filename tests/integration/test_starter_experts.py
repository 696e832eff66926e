"""`starter.py expert …` and `account create --role expert` (cli/experts.py) on the
record database (the `database` fixture): what the centre's staff type, what they read
back, and one line with an exit code when something is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.exits import Exit
from documents.expert_sheets import COLUMNS
from store.db import get_engine
from store.experts import expert_changes
from tests.helpers.experts import uscc_of
from tests.helpers.projection import id_card
from tests.integration.test_starter import Cli, one_line


@pytest.fixture
def cli(database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("DATABASE_URL", database)
    return Cli(year=2026, capsys=capsys)


async def test_the_pool_from_the_command_line(cli: Cli, database: str, tmp_path: Path) -> None:
    card = id_card(4)
    add = [
        "expert",
        "add",
        "--uscc",
        uscc_of(1),
        "--employer",
        "示例单位",
        "--title",
        "正高级工程师",
    ]
    code, out, err = await cli(
        *add, "--name", "王建国", "--specialty", "光伏硅基", "--mobile", "13800138000",
        "--past-employer", f"{uscc_of(2)}|旧单位|2025-03-31", "--relation", f"{card}|配偶",
        "--note", "首批", "--actor-id", "zhao",
    )  # fmt: skip
    assert code == Exit.ok, err
    assert out.strip() == "已加入专家库：E0001"
    code, out, _ = await cli("expert", "show", "E0001")
    assert code == Exit.ok and '"relations": 1' in out and card not in out
    code, out, _ = await cli("expert", "list")
    assert "王建国" in out and out.strip().endswith("共 1 位专家")

    code, out, _ = await cli("expert", "deactivate", "E0001", "--note", "退休")
    assert (code, out.strip()) == (Exit.ok, "E0001：已停用")
    code, out, _ = await cli("expert", "list")
    assert "王建国" not in out
    code, out, _ = await cli("expert", "list", "--inactive", "--json")
    assert '"active": false' in out
    code, out, err = await cli("expert", "activate", "E0099")
    assert code == Exit.unavailable and one_line(err) == "error: 专家库中没有 E0099"

    export = tmp_path / "pool.xlsx"
    code, out, err = await cli("expert", "export", str(export))
    assert code == Exit.ok, err
    code, out, err = await cli("expert", "import", str(export))  # read back: nothing changes
    assert code == Exit.ok, err
    assert out.strip() == "已导入：新增 0 位，修改 0 位，未变 1 位"

    bad = tmp_path / "bad.csv"
    header = ",".join(COLUMNS.values())
    bad.write_text(f"{header}\nE0001,王建国,{uscc_of(1)},单位,光伏,教授,123,,是,,\n", "utf-8")
    code, out, err = await cli("expert", "import", str(bad))
    assert code == Exit.bad_input
    assert err.splitlines() == [
        "第2行 手机：不是有效的手机号码",
        f"error: {bad}: 未导入任何一行（1 处错误）",
    ]

    code, out, _ = await cli("expert", "changes", "E0001")
    assert code == Exit.ok and "cli:zhao" in out and "首批" in out and "退休" in out
    history = await expert_changes(get_engine(database), "E0001")
    assert [c.action for c in history] == ["created", "deactivated"]

    # an expert's own account, bound to its pool code
    account = ["account", "create", "--role", "expert", "--username", "wangjg"]
    code, _, err = await cli(*account, "--expert-code", "E0042", "--password", "x" * 12)
    assert code == Exit.bad_input and "no expert E0042" in one_line(err)
    code, _, err = await cli(*account, "--password", "x" * 12)
    assert code == Exit.bad_input and "--expert-code" in one_line(err)
    code, out, err = await cli(*account, "--expert-code", "E0001", "--password", "x" * 12)
    assert code == Exit.ok, err


async def test_a_bad_field_is_one_line(cli: Cli) -> None:
    code, _, err = await cli(
        "expert", "add", "--name", "王", "--uscc", "123", "--employer", "单位",
        "--specialty", "光伏", "--title", "教授",
    )  # fmt: skip
    assert code == Exit.bad_input
    assert one_line(err).startswith("error: employer_uscc: not a valid unified social credit")
