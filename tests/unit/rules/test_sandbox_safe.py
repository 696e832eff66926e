"""rules/ is imported by workflows: nothing in it but the calendar adapter may pull in I/O."""

import subprocess
import sys
from pathlib import Path

RULES = Path(__file__).resolve().parents[3] / "rules"
ADAPTER = "calendar_source"
FORBIDDEN = ("chinese_calendar", "sqlalchemy", "aiosmtplib", "jinja2", "httpx")


def test_rules_import_without_io_libraries() -> None:
    modules = sorted(p.stem for p in RULES.glob("*.py") if p.stem not in ("__init__", ADAPTER))
    assert "calendar" in modules and "eligibility" in modules
    script = "\n".join(
        [
            "import sys",
            *(f"import rules.{name}" for name in modules),
            f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"
