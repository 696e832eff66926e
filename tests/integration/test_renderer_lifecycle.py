"""The PDF renderer process (documents/render.py) ends with the process that started it: at a
normal exit, and when that process is killed (SIGKILL runs no handler of its own)."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from settings import ROOT

# Renders one small document, prints the renderer's pid, then leaves as the argument says.
SCRIPT = """
import asyncio, os, signal, sys
import psutil
from documents.render import render_pdf
pdf = asyncio.run(render_pdf("<html><body><p>测试</p></body></html>"))
assert pdf.startswith(b"%PDF")
children = [c.pid for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]
print(*children, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
"""


def ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_the_renderer_ends_with_its_parent(how: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, how], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == (-9 if how == "kill" else 0), run.stderr
    renderers = [int(pid) for pid in run.stdout.split()]
    assert len(renderers) == 1, run.stdout  # the check below watches a real process
    deadline = time.monotonic() + 10
    while not all(ended(pid) for pid in renderers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(ended(pid) for pid in renderers), f"renderer {renderers} outlived its parent"
