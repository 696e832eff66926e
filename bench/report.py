"""bench/run.py's results as JSON, a Markdown table and a plot; the machine and the commit."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from settings import ROOT

DOCS = ROOT / "docs"
FINDINGS = "## Findings"  # docs/benchmark.md keeps its section from this heading on

# The benchmark's targets (docs/benchmark.md): printed beside the figures, never asserted.
THROUGHPUT_RATIO = 0.8
UPDATE_P99_MS = 150.0
UPDATE_P99_AT = 1000
HAPPY_EVENTS = 150
WORST_EVENTS = 4096  # Temporal suggests continue-as-new near 4K events
WORST_FAR_BELOW = 0.1  # "far below": under a tenth of it
OPEN_RSS_MB = 600.0
OPEN_RSS_AT = 10_000


def commit() -> str:
    """`git rev-parse --short HEAD`, "+dirty" when the tree has changes (untracked too)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = bool(_git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    temporal = Path(sys.executable).parent / "temporal"
    try:
        server = subprocess.run(
            [str(temporal), "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        server = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "temporalio": metadata.version("temporalio"),
        "temporal_cli": server,
    }


def _database(url: str | None) -> str:
    if not url:
        return "SQLite (a file per run)"
    return url.split(":", 1)[0].split("+")[0].replace("postgresql", "PostgreSQL")


def document(
    results: dict[str, Any], args: argparse.Namespace, started: datetime, server: str | None
) -> dict[str, Any]:
    return {
        "benchmark": "zhicheng declarations against the Temporal floor (bench/run.py)",
        "started_at": started.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "settings": {
            "n": args.n,
            "concurrency": args.concurrency,
            "publicity_seconds": args.publicity_seconds,
            "full_up_to": args.full_up_to,
            "idle_seconds": args.idle_seconds,
            "histories_sampled": args.histories,
            "database": _database(args.database_url),
            "server": server or "embedded dev server started for the run (in memory)",
            "worker": "a subprocess per run: `python worker.py` (system), "
            "`python -m bench.floor` (floor)",
            "command": "python -m bench.run " + " ".join(sys.argv[1:]),
        },
        **results,
        "targets": targets(results),
    }


def _run(results: dict[str, Any], n: int) -> dict[str, Any] | None:
    return next((r for r in results["runs"] if r["n"] == n), None)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    full = [r for r in results["runs"] if r["workload"] == "full"]
    out: list[dict[str, Any]] = []

    ratios = [(r["n"], r["throughput_ratio"]) for r in full if r["throughput_ratio"] is not None]
    out.append(
        {
            "target": f"throughput ≥ {THROUGHPUT_RATIO} × floor (full happy path)",
            "figure": ", ".join(f"N={n}: {ratio:.2f} ×" for n, ratio in ratios) or "not run",
            "met": all(ratio >= THROUGHPUT_RATIO for _, ratio in ratios) if ratios else None,
        }
    )
    at = _run(results, UPDATE_P99_AT)
    p99 = at["system"]["updates"]["latency_ms"].get("p99") if at else None
    out.append(
        {
            "target": f"update p99 < {UPDATE_P99_MS:g} ms at N={UPDATE_P99_AT:,}",
            "figure": f"{p99:g} ms" if p99 is not None else "not run",
            "met": p99 < UPDATE_P99_MS if p99 is not None else None,
        }
    )
    events = [r["system"]["history"]["events_max"] for r in full if r["system"]["history"]]
    out.append(
        {
            "target": f"≤ {HAPPY_EVENTS} history events on the happy path",
            "figure": f"{max(events)} events" if events else "not run",
            "met": max(events) <= HAPPY_EVENTS if events else None,
        }
    )
    worst = results.get("worst_path")
    worst_events = worst["history"]["events_max"] if worst else None
    out.append(
        {
            "target": f"worst path far below 4K events (< {WORST_FAR_BELOW:.0%} of {WORST_EVENTS})",
            "figure": f"{worst_events} events" if worst_events else "not run",
            "met": worst_events < WORST_FAR_BELOW * WORST_EVENTS if worst_events else None,
        }
    )
    at = _run(results, OPEN_RSS_AT)
    rss = at["system"]["worker"]["rss_mb_open"] if at else None
    out.append(
        {
            "target": f"{OPEN_RSS_AT:,} open declarations on timers: "
            f"worker RSS < {OPEN_RSS_MB:g} MB",
            "figure": f"{rss:g} MB (peak {at['system']['worker']['rss_mb_peak']:g} MB)"
            if at and rss is not None
            else "not run",
            "met": rss < OPEN_RSS_MB if rss is not None else None,
        }
    )
    return out


def failures(doc: dict[str, Any]) -> int:
    sides = [s for r in doc["runs"] for s in (r["system"], r["floor"])]
    if doc.get("worst_path"):
        sides.append(doc["worst_path"])
    return sum(side["failed"] for side in sides)


# --- text ------------------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def run_line(run: dict[str, Any]) -> str:
    s, f = run["system"], run["floor"]
    return (
        f"  N={run['n']} {run['workload']}: system {_num(s['throughput_per_s'], 2)}/s, "
        f"floor {_num(f['throughput_per_s'], 2)}/s, ratio {_num(run['throughput_ratio'], 2)}; "
        f"update p99 {_num(s['updates']['latency_ms'].get('p99'))} ms "
        f"(floor {_num(f['updates']['latency_ms'].get('p99'))} ms); "
        f"worker RSS open {_num(s['worker']['rss_mb_open'])} MB; "
        f"failed {s['failed']}+{f['failed']}"
    )


def _met(value: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[value]


def markdown(doc: dict[str, Any]) -> str:
    m, st = doc["machine"], doc["settings"]
    lines = [
        f"Commit `{doc['commit']}`, started {doc['started_at']}.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; "
        f"Python {m['python']}, temporalio {m['temporalio']}, {m['temporal_cli'].splitlines()[0]}.",
        "",
        f"Server: {st['server']}. Worker: {st['worker']}. Record database: {st['database']}. "
        f"Updates in flight: at most {st['concurrency']}. Drill publicities: "
        f"{st['publicity_seconds']} s. Command: `{st['command']}`.",
        "",
        "| N | workload | system decl/s | floor decl/s | ratio | update p50 / p95 / p99 ms "
        "| floor p99 ms | events / decl | bytes / decl | first task p50 ms "
        "| worker RSS open / peak MB | worker CPU open % | worker CPU ms / decl |",
        "| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for run in doc["runs"]:
        s, f = run["system"], run["floor"]
        lat, h, w = s["updates"]["latency_ms"], s["history"], s["worker"]
        lines.append(
            f"| {run['n']:,} | {run['workload']} | {_num(s['throughput_per_s'], 2)} "
            f"| {_num(f['throughput_per_s'], 2)} | {_num(run['throughput_ratio'], 2)} "
            f"| {_num(lat.get('p50'))} / {_num(lat.get('p95'))} / {_num(lat.get('p99'))} "
            f"| {_num(f['updates']['latency_ms'].get('p99'))} "
            f"| {_num(h['events_mean'])} | {_num(h['bytes_mean'])} "
            f"| {_num(h['first_workflow_task_ms'].get('p50'))} "
            f"| {_num(w['rss_mb_open'])} / {_num(w['rss_mb_peak'])} "
            f"| {_num(w['cpu_percent_open'])} | {_num(w['cpu_ms_per_declaration'])} |"
        )
    lines += ["", "The floor on the same runs:", ""]
    lines += [
        "| N | events / decl | bytes / decl | first task p50 ms | worker RSS open / peak MB "
        "| worker CPU ms / decl | failed (system + floor) |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for run in doc["runs"]:
        s, f = run["system"], run["floor"]
        h, w = f["history"], f["worker"]
        lines.append(
            f"| {run['n']:,} | {_num(h['events_mean'])} | {_num(h['bytes_mean'])} "
            f"| {_num(h['first_workflow_task_ms'].get('p50'))} "
            f"| {_num(w['rss_mb_open'])} / {_num(w['rss_mb_peak'])} "
            f"| {_num(w['cpu_ms_per_declaration'])} | {s['failed']} + {f['failed']} |"
        )
    full = [r for r in doc["runs"] if r["workload"] == "full"]
    if full:
        largest = full[-1]
        lines += [
            "",
            f"Update round trip by action at N={largest['n']:,} (system; ms):",
            "",
            "| action | p50 | p95 | p99 | max |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for action, lat in largest["system"]["updates"]["by_action"].items():
            lines.append(
                f"| {action} | {_num(lat.get('p50'))} | {_num(lat.get('p95'))} "
                f"| {_num(lat.get('p99'))} | {_num(lat.get('max'))} |"
            )
    worst = doc.get("worst_path")
    if worst:
        h = worst["history"]
        lines += [
            "",
            f"Worst path ({worst['declarations']} declarations: an objection in publicity, "
            "3 returns for correction, defense, an objection in result publicity): "
            f"{h['events_max']} events, {h['bytes_max']:,} bytes per declaration "
            f"(mean {h['events_mean']} events); update p99 "
            f"{_num(worst['updates']['latency_ms'].get('p99'))} ms; failed {worst['failed']}.",
        ]
    lines += ["", "| target | figure | |", "| --- | --- | --- |"]
    for t in doc["targets"]:
        lines.append(f"| {t['target']} | {t['figure']} | {_met(t['met'])} |")
    return "\n".join(lines) + "\n"


# --- the plot --------------------------------------------------------------------------------


def plot(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = doc["runs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for side, colour in (("system", "tab:red"), ("floor", "tab:blue")):
        for workload, marker, fill in (("full", "o", colour), ("open", "s", "none")):
            chosen = [r for r in runs if r["workload"] == workload]
            if not chosen:
                continue
            xs = [r["n"] for r in chosen]
            label = (
                f"{side} ({'full happy path' if workload == 'full' else 'open: start + submit'})"
            )
            left.plot(
                xs,
                [r[side]["throughput_per_s"] or 0 for r in chosen],
                marker=marker,
                color=colour,
                markerfacecolor=fill,
                label=label,
            )
            right.plot(
                xs,
                [r[side]["updates"]["latency_ms"].get("p99", 0) for r in chosen],
                marker=marker,
                color=colour,
                markerfacecolor=fill,
                label=label,
            )
    right.axhline(UPDATE_P99_MS, color="grey", linestyle="--", linewidth=1, label="target 150 ms")
    for axis, title, unit in (
        (left, "throughput", "declarations completed / s"),
        (right, "update round trip p99", "ms"),
    ):
        axis.set_xscale("log")
        axis.set_xlabel("N declarations")
        axis.set_ylabel(unit)
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.suptitle(f"zhicheng vs the Temporal floor — {doc['commit']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- files -----------------------------------------------------------------------------------


def write(doc: dict[str, Any], out: Path, docs: bool = False) -> list[Path]:
    """results.json, results.md and benchmark.png in `out`; with `docs`, docs/benchmark.md
    (keeping its "## Findings" section) and docs/benchmark.png."""
    table = markdown(doc)
    (out / "results.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (out / "results.md").write_text("# Benchmark results\n\n" + table)
    plot(doc, out / "benchmark.png")
    written = [out / "results.json", out / "results.md", out / "benchmark.png"]
    if docs:
        page = DOCS / "benchmark.md"
        kept = ""
        if page.exists():
            text = page.read_text()
            if FINDINGS in text:
                kept = "\n" + text[text.index(FINDINGS) :]
        page.write_text(docs_page(doc, table) + kept)
        plot(doc, DOCS / "benchmark.png")
        written += [page, DOCS / "benchmark.png"]
    return written


def docs_page(doc: dict[str, Any], table: str) -> str:
    return f"""# Benchmark: the system against the Temporal floor

Written by `python -m bench.run --docs` (bench/run.py; docs/testing.md, "Benchmark", says how
to run it). This page holds the last full run; a run writes its own copy with every
figure under `var/bench/<time>/` (results.json, results.md, benchmark.png).

![throughput and update p99 against N](benchmark.png)

## How it measures

- **System**: N intermediate declarations (the full happy path, with defense), each driven by
  every update a reviewer sends: submit, start_publicity, recommend, accept_materials,
  confirm_payment, arrange_defense, record_defense_score, committee_vote (sent to each
  declaration, as the round's committee_votes operation would). The worker is the project's
  own (`python worker.py`, `worker.build_worker`) with its real activities: the record
  (audit, projection, outbox) and the documents (three PDFs per declaration). Timers are
  shortened only through the round configuration: `drill_publicity_seconds` for both
  publicities, and a submission window that closes (and a review window that opens) a little
  after phase A is expected to be done.
- **Floor**: `bench/floor.py`, a workflow with the same stages, 8 updates, 14 no-op
  activities and 6 timers, on a worker with `build_worker`'s configuration; driven by the
  same code with the same concurrency and the same phases.
- **Throughput**: declarations completed per second over phases A and B (the gap between
  them, where every declaration waits on a timer and the worker's RSS and CPU are read, is
  left out on both sides). **Update latency**: the time `execute_update` takes to return,
  with at most `--concurrency` updates in flight. **History**: events and the sum of the
  serialized events' sizes (`event.ByteSize()`) per declaration, over a sample.
  **First task**: WorkflowExecutionStarted → first WorkflowTaskStarted, server times.
- Above `--full-up-to` the "open" workload runs instead on both sides: start + submit, then
  N declarations open on timers (the RSS target's situation).

## Last full run

{table}"""
