"""docs/requirements.md carries the notice's rules inside the repository: every rule R1–R27 is
there, and every file it names as implementing a rule exists."""

from __future__ import annotations

import re

from settings import ROOT

REQUIREMENTS = ROOT / "docs" / "requirements.md"
# A cited path: `rules/publicity.py`, `templates/documents/`; `{year}` placeholders are patterns.
CITED = re.compile(r"`((?:[\w-]+/)+[\w.-]*)`")


def test_every_rule_is_written_down() -> None:
    text = REQUIREMENTS.read_text(encoding="utf-8")
    missing = [n for n in range(1, 28) if f"**R{n}**" not in text]
    assert not missing, f"docs/requirements.md lacks R{missing}"


def test_every_cited_file_exists() -> None:
    text = REQUIREMENTS.read_text(encoding="utf-8")
    cited = {path for path in CITED.findall(text) if "{" not in path}
    assert len(cited) > 30  # the check reads the citations, not nothing
    missing = sorted(path for path in cited if not (ROOT / path).exists())
    assert not missing, f"docs/requirements.md cites files that do not exist: {missing}"
