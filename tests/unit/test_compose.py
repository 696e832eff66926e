"""docker-compose.yml, .env.example and the Dockerfile, checked without a Docker engine.

The file is validated against the Compose specification's JSON schema: tests/data/
compose_spec.json, vendored unchanged from github.com/compose-spec/compose-spec
(schema/compose-spec.json at commit 170098ba07d9, June 2026, Apache-2.0), the schema
`docker compose` itself validates with. Before that, ${VAR} references are interpolated
from .env.example as `docker compose` does from .env. Then: the app services pass settings
settings.py reads, every one of them; .env.example lists every setting and every variable
the file uses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from models.search_attributes import cli_pairs
from settings import GENERATE_SECRET, ROOT, SECRETS, Settings, environment_names

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA = Path(__file__).parent / "data" / "compose_spec.json"
APP_SERVICES = (
    "migrate",
    "worker",
    "portal",
    "codec",
)  # built from the Dockerfile: zhicheng's code
ONE_SHOT = ("migrate", "temporal-setup")
# Read by settings.py itself (where .env is), not a field of Settings.
SETTINGS_FILE_VARIABLES = {"ZHICHENG_ENV_FILE"}
# Read from .env by docker compose itself.
COMPOSE_VARIABLES = {"COMPOSE_PROJECT_NAME"}

_REFERENCE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
)


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            assert name not in values, f".env.example: {name} twice"
            values[name] = value
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?"):
            assert value if op == ":?" else value is not None, f"{name} required: {arg}"
            return value or ""
        return value or ""

    return _REFERENCE.sub(replace, text)


def referenced_variables(text: str) -> set[str]:
    return {
        m.group("braced") or m.group("plain")
        for m in _REFERENCE.finditer(text)
        if m.group(0) != "$$"
    }


def interpolate_values(node: Any, env: dict[str, str]) -> Any:
    """Interpolation as compose does it: in the values, after the YAML is read."""
    if isinstance(node, dict):
        return {key: interpolate_values(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_values(item, env) for item in node]
    return interpolate(node, env) if isinstance(node, str) else node


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate_values(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")), env_example())


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.path))}: {error.message}" for error in errors
    )


def test_the_schema_refuses_what_compose_would(compose: dict[str, Any]) -> None:
    """The check can fail: a misspelt key, a restart policy of the wrong shape, a dependency
    on a condition compose does not know."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    worker = compose["services"]["worker"]
    for broken in (
        {**worker, "helthcheck": {"test": ["CMD", "true"]}},
        {**worker, "restart": {"policy": "always"}},
        {**worker, "depends_on": {"postgres": {"condition": "sometimes"}}},
    ):
        changed = {**compose, "services": {**compose["services"], "worker": broken}}
        assert list(Draft7Validator(schema).iter_errors(changed)), broken


def test_the_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {
        "postgres", "temporal", "temporal-setup", "temporal-ui", "mailpit", *APP_SERVICES
    }  # fmt: skip
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert "container_name" not in services["worker"]  # replicas need generated names
    assert "ports" not in services["worker"]
    assert services["portal"]["command"][:2] == ["uvicorn", "portal.app:app"]
    for name in ("worker", "portal"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["temporal-setup"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][-3:] == ["alembic", "upgrade", "head"]


def test_pinned_images_health_checks_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if name not in APP_SERVICES:
            repository, _, tag = image.rpartition(":")
            assert repository and tag and tag != "latest", f"{name}: pin {image!r}"
        else:
            assert "build" in service, name
        if name not in ONE_SHOT:
            assert "healthcheck" in service, f"{name} has no health check"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_search_attributes_created_at_start() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for pair in cli_pairs():  # models/search_attributes.py, as everything else registers them
        assert pair in text, pair


def test_app_services_pass_exactly_the_settings(compose: dict[str, Any]) -> None:
    names = set(environment_names())
    for service in APP_SERVICES:
        environment = compose["services"][service]["environment"]
        passed = set(environment if isinstance(environment, dict) else
                     (item.partition("=")[0] for item in environment))  # fmt: skip
        unknown = passed - names - SETTINGS_FILE_VARIABLES
        assert not unknown, f"{service} passes variables settings.py does not read: {unknown}"
        missing = names - passed
        assert not missing, f"{service} does not pass the settings {missing}"
        assert "env_file" not in compose["services"][service]  # it would pass anything


def test_compose_environment_is_valid_settings(compose: dict[str, Any]) -> None:
    """What compose hands the worker, with .env.example as .env, is accepted by settings.py."""
    environment = compose["services"]["worker"]["environment"]
    settings = Settings(**{environment_names()[k]: v for k, v in environment.items() if v})
    assert settings.temporal_address == "temporal:7233"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.metrics_address == "0.0.0.0:9464"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == (
        "mailpit", 1025, "none"
    )  # fmt: skip
    assert settings.log_format == "json"


def test_no_usable_secret_shipped(compose: dict[str, Any], tmp_path: Path) -> None:
    """.env.example and docker-compose.yml set no secret and say how to make each; what
    compose hands the worker with .env.example as .env is refused in production (the default),
    one line per secret, until .env sets them (docs/security.md)."""
    variables = [name for name, field in environment_names().items() if field in SECRETS]
    assert len(variables) == len(SECRETS)
    example = env_example()
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for variable in variables:
        assert example[variable] == "", f".env.example ships a value of {variable}"
        comment = text[: text.index(f"\n{variable}=")].rsplit("=", 1)[-1]  # its comment
        assert GENERATE_SECRET in comment, f".env.example: how to generate {variable}?"
    environment = compose["services"]["worker"]["environment"]
    assert environment["ZHICHENG_ENV"] == ""  # production
    passed = {name: str(value) for name, value in environment.items() if value}
    result = subprocess.run(
        [sys.executable, str(ROOT / "settings.py")],
        cwd=tmp_path,
        env=passed | {"PATH": "/usr/bin:/bin", "ZHICHENG_ENV_FILE": str(tmp_path / ".env")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout
    named = sorted(line.split(":")[1].strip() for line in result.stderr.splitlines())
    assert named == sorted(variables), result.stderr


def test_env_example_lists_every_setting_and_variable() -> None:
    listed = set(env_example())
    settings = set(environment_names())
    assert not settings - listed, f".env.example lacks the settings {settings - listed}"
    used = referenced_variables(COMPOSE.read_text(encoding="utf-8"))
    assert not used - listed, (
        f"docker-compose.yml uses variables .env.example lacks: {used - listed}"
    )
    stray = listed - settings - used - COMPOSE_VARIABLES
    assert not stray, f".env.example lists what neither settings.py nor compose reads: {stray}"


def test_dockerfile_installs_the_document_libraries() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lib = (ROOT / "scripts" / "lib.sh").read_text(encoding="utf-8")
    packages = re.search(r"DOCUMENT_PACKAGES=\(([^)]*)\)", lib)
    assert packages
    for package in packages.group(1).split():
        assert package in dockerfile, package
    assert re.search(r"^FROM python:3\.11[\w.-]*$", dockerfile, re.MULTILINE)
