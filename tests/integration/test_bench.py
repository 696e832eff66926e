"""bench/run.py end to end at N = 20, as a person runs it: its own dev server, the real
worker and the floor worker as subprocesses, results written as JSON, Markdown and a PNG.
Only the shape of what it writes is checked, never a figure (this machine is shared)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def test_benchmark_runs_at_n_20_and_writes_its_results(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}  # its own server
    command = [sys.executable, "-m", "bench.run", "--n", "20", "--out", str(tmp_path)]
    command += ["--publicity-seconds", "1", "--seconds-per-declaration", "0.5"]
    command += ["--idle-seconds", "1", "--worst", "1", "--histories", "5"]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())
    for key in ("commit", "machine", "settings", "runs", "worst_path", "targets"):
        assert key in results
    assert results["settings"]["n"] == [20]
    for key in ("cpu", "cores", "ram_gb", "python", "temporalio"):
        assert results["machine"][key]
    [run] = results["runs"]
    assert run["n"] == 20 and run["workload"] == "full"
    assert number(run["throughput_ratio"])
    for side in (run["system"], run["floor"], results["worst_path"]):
        assert side["failed"] == 0, side["failures"]
        assert number(side["throughput_per_s"])
        for key in ("phase_a", "phase_b", "measured", "wall"):
            assert number(side["seconds"][key])
        for key in ("p50", "p95", "p99", "max"):
            assert number(side["updates"]["latency_ms"][key])
        history = side["history"]
        for key in ("events_mean", "events_max", "bytes_mean", "bytes_max"):
            assert number(history[key]) and history[key] > 0
        assert number(history["first_workflow_task_ms"]["p50"])
        for key in ("rss_mb_open", "rss_mb_peak", "cpu_seconds", "cpu_percent_open"):
            assert number(side["worker"][key])
    assert run["system"]["records"]["outbox_messages"] > 0  # notifications reached the outbox
    for target in results["targets"]:
        assert set(target) == {"target", "figure", "met"}

    table = (tmp_path / "results.md").read_text()
    assert "| N | workload | system decl/s | floor decl/s | ratio |" in table
    assert "| 20 | full |" in table
    assert (tmp_path / "benchmark.png").read_bytes().startswith(PNG_MAGIC)
