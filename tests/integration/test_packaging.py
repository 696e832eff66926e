"""Packaging without a Docker engine: the Dockerfile's dependency step works on exactly the
files it copies, the locks (scripts/lock.sh) pin every dependency pyproject.toml names, the
packages are found by name, and the `zhicheng` console script runs."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from settings import ROOT

DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"  # the dependencies (scripts/run.sh, the Dockerfile)
DEV_LOCK = ROOT / "requirements-dev.lock"  # and the dev extra (scripts/test.sh)
RELOCK = "run scripts/lock.sh and commit the locks with pyproject.toml"


# --- the Dockerfile ---------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue  # a comment line, also inside a continued instruction, as Docker does
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        current = ""
    assert not current, "the Dockerfile ends in a continuation line"
    return result


def copy_arguments(arguments: str) -> tuple[list[str], str]:
    """COPY's sources and destination, flags (--chown=..., --link) dropped."""
    words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
    words = [word for word in words if not word.startswith("--")]
    assert len(words) >= 2, f"COPY {arguments}: a source and a destination"
    return words[:-1], words[-1]


def is_copy_everything(arguments: str) -> bool:
    sources, destination = copy_arguments(arguments)
    return [source.rstrip("/") for source in sources] == ["."] and destination in {".", "./"}


def dependency_step() -> tuple[list[str], list[str]]:
    """What the last stage does before `COPY . .`: the sources it copies, and the commands it
    runs from its first COPY on (the dependency-cache step)."""
    steps = instructions(DOCKERFILE.read_text(encoding="utf-8"))
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    stage = steps[last_from + 1 :]
    everything = [i for i, (k, a) in enumerate(stage) if k == "COPY" and is_copy_everything(a)]
    assert everything, "the Dockerfile has no `COPY . .` step"
    before = stage[: everything[0]]
    copies = [i for i, (keyword, _) in enumerate(before) if keyword in {"COPY", "ADD"}]
    assert copies, "nothing is copied before `COPY . .`: the dependency step caches nothing"
    sources: list[str] = []
    for i in copies:
        assert before[i][0] == "COPY", f"ADD {before[i][1]}: the dependency step uses COPY"
        assert "--from" not in before[i][1], "the dependency step copies from the build context"
        found, destination = copy_arguments(before[i][1])
        assert destination in {".", "./"}, f"COPY {before[i][1]}: copy into WORKDIR (./)"
        sources += found
    commands = []
    for keyword, arguments in before[copies[0] :]:
        if keyword == "RUN":
            if arguments.startswith("["):
                commands.append(shlex.join(json.loads(arguments)))
            else:
                commands.append(arguments)
    assert commands, "no RUN after the dependency step's COPY: nothing is installed from it"
    return sources, commands


def dockerignored(path: str) -> bool:
    """Whether .dockerignore leaves PATH out of the build context (its simple patterns)."""
    ignore = ROOT / ".dockerignore"
    patterns = ignore.read_text(encoding="utf-8").splitlines() if ignore.exists() else []
    excluded = False
    for pattern in (line.strip() for line in patterns):
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern + "/*"):
            excluded = not negated
    return excluded


def test_dockerfile_dependency_step_installs_from_what_it_copies(tmp_path: Path) -> None:
    """The step before `COPY . .` run on a context holding only the files it copies, in a fresh
    virtualenv (pip's cache reused; no bytecode compiled): a step that reads a file it did not
    copy, or a lock pip cannot install as it is, fails here rather than in `docker build`."""
    sources, commands = dependency_step()
    app = tmp_path / "app"
    app.mkdir()
    for source in sources:
        matches = sorted(ROOT.glob(source))
        assert matches, f"the Dockerfile copies {source}, which the repository does not have"
        for match in matches:
            relative = match.relative_to(ROOT).as_posix()
            assert not dockerignored(relative), f"COPY {relative}: .dockerignore leaves it out"
            if match.is_dir():  # COPY DIR ./ copies what is in DIR
                shutil.copytree(match, app, dirs_exist_ok=True)
            else:
                shutil.copy2(match, app / match.name)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    env = {
        **os.environ,
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "PIP_NO_COMPILE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for name in ("PYTHONPATH", "PYTHONHOME", "PIP_NO_CACHE_DIR"):
        env.pop(name, None)
    for command in commands:
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        output = [  # less this machine's notes on its local package directories
            line
            for line in (result.stdout + result.stderr).strip().splitlines()
            if not line.startswith("WARNING: Location ")
        ]
        assert result.returncode == 0, (
            f"the Dockerfile's `RUN {command}` failed with only {sources} copied:\n"
            + "\n".join(output[-30:])
        )
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, f"the step installed a broken set:\n{check.stdout}"
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    names = {canonicalize_name(item["name"]) for item in json.loads(installed.stdout)}
    missing = sorted(set(pins(LOCK)) - names)
    assert not missing, f"requirements.lock pins what the step did not install: {missing}"


# --- the locks --------------------------------------------------------------------------------

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)")


def pins(lock: Path) -> dict[str, Version]:
    """A lock's pins by normalized name; every entry must be `name==version` with hashes."""
    text = lock.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, Version] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _PIN.match(line)
        assert match, f"{lock.name}: not an exact pin: {line[:80]}"
        assert "--hash=sha256:" in line, f"{lock.name}: {match['name']} has no hash"
        found[canonicalize_name(match["name"])] = Version(match["version"])
    return found


def direct_requirements(*groups: str) -> list[Requirement]:
    """pyproject.toml's requirements: "" is [project] dependencies, others are extras."""
    project = PYPROJECT["project"]
    return [
        Requirement(line)
        for group in groups
        for line in (
            project["dependencies"] if not group else project["optional-dependencies"][group]
        )
    ]


def extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What REQUIREMENT's extras ([email], [binary], ...) add, from the installed metadata."""
    if not requirement.extras:
        return []
    added = []
    for line in metadata.requires(requirement.name) or []:
        needed = Requirement(line)
        marker = needed.marker
        if marker is None or "extra" not in str(marker):
            continue
        if any(marker.evaluate({"extra": extra}) for extra in requirement.extras):
            added.append(needed)
    return added


@pytest.mark.parametrize(("lock", "groups"), [(LOCK, ("",)), (DEV_LOCK, ("", "dev"))])
def test_lock_pins_every_direct_dependency(lock: Path, groups: tuple[str, ...]) -> None:
    pinned = pins(lock)
    missing: list[str] = []
    ruled_out: list[str] = []
    for requirement in direct_requirements(*groups):
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        for needed in [requirement, *extra_requirements(requirement)]:
            name = canonicalize_name(needed.name)
            if name not in pinned:
                via = "" if needed is requirement else f" (for {requirement})"
                missing.append(f"{needed.name}{needed.specifier}{via}")
            elif not needed.specifier.contains(pinned[name], prereleases=True):
                ruled_out.append(f"{name}=={pinned[name]} (pyproject.toml: {needed})")
    assert not missing, f"{lock.name} does not pin {', '.join(missing)}: {RELOCK}"
    assert not ruled_out, (
        f"{lock.name} pins versions pyproject.toml rules out: {', '.join(ruled_out)}: {RELOCK}"
    )


def test_locks_agree() -> None:
    """The plain lock is the dev lock's pins less the dev extra's: one resolution for both."""
    plain, dev = pins(LOCK), pins(DEV_LOCK)
    differ = [
        f"{name}: {plain[name]} vs {dev.get(name)}"
        for name in plain
        if dev.get(name) != plain[name]
    ]
    assert not differ, f"requirements.lock and requirements-dev.lock differ: {differ}: {RELOCK}"


def test_locks_match_the_installed_environment() -> None:
    """This virtualenv came from the dev lock (scripts/lib.sh): every pin is what is installed."""
    stale = []
    for name, version in pins(DEV_LOCK).items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            stale.append(f"{name} (not installed)")
            continue
        if installed != version:
            stale.append(f"{name} {installed} (lock: {version})")
    assert not stale, (
        f"the virtualenv differs from requirements-dev.lock: {', '.join(stale)}; "
        "scripts/test.sh reinstalls it when the lock is newer than its stamp"
    )


# --- packages and the console script -----------------------------------------------------------


def test_every_project_package_directory_is_a_package() -> None:
    """packages.find includes packages by name without namespaces: a directory of modules under
    a listed package without an __init__.py would silently be left out of the install."""
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert find.get("namespaces") is False
    patterns = find["include"]
    lacking = []
    for directory in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        for path in [directory, *sorted(p for p in directory.rglob("*") if p.is_dir())]:
            dotted = path.relative_to(ROOT).as_posix().replace("/", ".")
            if "__pycache__" in dotted or not any(fnmatch.fnmatchcase(dotted, p) for p in patterns):
                continue
            if any(path.glob("*.py")) and not (path / "__init__.py").exists():
                lacking.append(path.relative_to(ROOT).as_posix())
    assert not lacking, f"package directories without an __init__.py: {lacking}"


def test_zhicheng_console_script_runs() -> None:
    """[project.scripts] zhicheng, installed beside this interpreter, imports the project from the
    install (its sys.path has no repo root) and exits with main()'s code."""
    script = Path(sys.executable).parent / "zhicheng"
    assert script.exists(), (
        f"{script} is missing: pyproject.toml's [project.scripts] zhicheng is installed by "
        "`pip install -e .` (scripts/lib.sh ensure_venv)"
    )
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [str(script), "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"zhicheng --help exited {result.returncode}:\n{result.stderr}"
    assert "declaration" in result.stdout
    result = subprocess.run(
        [str(script), "no-such-command"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, f"a usage error exits 2, not {result.returncode}"
