"""settings.py: the environment and .env, validated, one line per bad setting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from settings import (
    DEPRECATED_NAMES,
    DEVELOPMENT_APPLICANT_KEY_SECRET,
    GENERATE_CODEC_KEY,
    GENERATE_SECRET,
    ROOT,
    SECRETS,
    Settings,
    SettingsError,
    development_secret,
    environment_names,
    get_settings,
    load_settings,
)
from tests.helpers.samples import OTHER_PRODUCTION_SECRETS


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean slate: no setting in the environment but development (ZHICHENG_ENV: the
    secrets may be unset), no Temporal profile file, and an .env file of the test's own."""
    for name in [*environment_names(), "TEMPORAL_PROFILE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "no-temporal.toml"))
    monkeypatch.setenv("ZHICHENG_ENV_FILE", str(tmp_path / ".env"))
    monkeypatch.setenv("ZHICHENG_ENV", "development")  # as the tests and scripts/run.sh run
    return monkeypatch


def test_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.temporal_address == "localhost:7233"
    assert settings.temporal_namespace == "default"
    assert settings.task_queue == "zhicheng"
    assert settings.database_url == f"sqlite+aiosqlite:///{ROOT / 'var' / 'zhicheng.db'}"
    assert settings.smtp_security == "starttls"
    assert settings.smtp_port == 587
    assert settings.smtp_timeout == 30
    assert settings.font_dir is None
    assert settings.rounds_dir == ROOT / "config" / "rounds"
    assert settings.metrics_address == ""
    assert settings.log_format == "text"


def test_environment_names_unchanged(env: pytest.MonkeyPatch) -> None:
    env.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    env.setenv("TEMPORAL_NAMESPACE", "zhicheng")
    env.setenv("ZHICHENG_TASK_QUEUE", "q")
    env.setenv("DATABASE_URL", "postgresql://u:p@db/zhicheng")
    env.setenv("SMTP_SECURITY", " TLS ")
    env.setenv("WECHAT_DEDUP_WINDOW_SECONDS", "300")
    env.setenv("ZHICHENG_FONT_DIR", "/fonts")
    env.setenv("ZHICHENG_DELIVERY_GIVE_UP_HOURS", "2.5")
    settings = load_settings()
    assert (settings.temporal_address, settings.temporal_namespace) == ("temporal:7233", "zhicheng")
    assert settings.task_queue == "q"
    assert settings.database_url == "postgresql://u:p@db/zhicheng"
    assert (settings.smtp_security, settings.smtp_port) == ("tls", 465)  # the port follows
    assert settings.wechat_dedup_window == 300
    assert settings.font_dir == Path("/fonts")
    assert settings.delivery_give_up_hours == 2.5
    env.setenv("SMTP_PORT", "2525")
    assert load_settings().smtp_port == 2525


def test_empty_means_unset(env: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "SMTP_PORT", "ZHICHENG_FONT_DIR", "SMTP_TIMEOUT"):
        env.setenv(name, "")
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert (settings.smtp_port, settings.font_dir, settings.smtp_timeout) == (587, None, 30)


def test_dotenv_file_and_environment_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# a comment\nSMTP_HOST=mail.example.org\nSMTP_PORT=2525\nZHICHENG_TASK_QUEUE=from-file\n",
        encoding="utf-8",
    )
    env.setenv("ZHICHENG_TASK_QUEUE", "from-env")
    settings = load_settings()
    assert (settings.smtp_host, settings.smtp_port) == ("mail.example.org", 2525)
    assert settings.task_queue == "from-env"


def test_one_line_per_bad_setting(env: pytest.MonkeyPatch) -> None:
    env.setenv("SMTP_PORT", "abc")
    env.setenv("SMTP_TIMEOUT", "soon")
    env.setenv("SMTP_SECURITY", "ssl")
    env.setenv("DATABASE_URL", "mysql://db/zhicheng")
    env.setenv("ZHICHENG_METRICS_ADDRESS", "9464")
    env.setenv("ZHICHENG_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert sorted(raised.value.lines) == sorted(
        [
            "SMTP_PORT: not an integer: 'abc'",
            "SMTP_TIMEOUT: not a number: 'soon'",
            "SMTP_SECURITY: not one of none, starttls, tls: 'ssl'",
            "DATABASE_URL: not a sqlite or postgresql URL: 'mysql://db/zhicheng'",
            "ZHICHENG_METRICS_ADDRESS: not host:port: '9464'",
            "ZHICHENG_LOG_FORMAT: not one of text, json: 'xml'",
        ]
    )


def test_temporal_tls(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from temporalio.service import TLSConfig

    from client.connection import tls_config

    assert tls_config(load_settings()) is False
    env.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(tmp_path / "client.pem"))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines == [
        "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both or neither"
    ]
    for name in ("ca", "client", "client-key"):
        (tmp_path / f"{name}.pem").write_bytes(f"PEM {name}".encode())
    env.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(tmp_path / "client-key.pem"))
    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "ca.pem"))
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    settings = load_settings()
    assert settings.temporal_tls  # implied by the certificates
    assert settings.deprecated_names == {}
    tls = tls_config(settings)
    assert isinstance(tls, TLSConfig)
    assert tls.server_root_ca_cert == b"PEM ca" and tls.client_private_key == b"PEM client-key"
    assert tls.domain == "temporal.internal"
    env.delenv("TEMPORAL_TLS_CLIENT_CERT_PATH")
    env.delenv("TEMPORAL_TLS_CLIENT_KEY_PATH")
    env.delenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    env.setenv("TEMPORAL_TLS", "true")
    tls = tls_config(load_settings())
    assert isinstance(tls, TLSConfig) and tls.server_root_ca_cert is None  # system roots


def test_old_tls_names_read_for_one_release_with_a_warning(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """TEMPORAL_TLS_CA, _CERT, _KEY (this project's names before it took the Temporal SDK's)
    still configure TLS, from the environment or .env; connecting warns, naming the new
    variable. A new name set beside its old one wins."""
    from temporalio.service import TLSConfig

    from client.connection import connect_config

    for name in ("ca", "client", "client-key", "other-ca"):
        (tmp_path / f"{name}.pem").write_bytes(f"PEM {name}".encode())
    env.setenv("TEMPORAL_TLS_CA", str(tmp_path / "ca.pem"))
    (tmp_path / ".env").write_text(
        f"TEMPORAL_TLS_CERT={tmp_path / 'client.pem'}\n"
        f"TEMPORAL_TLS_KEY={tmp_path / 'client-key.pem'}\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.deprecated_names == DEPRECATED_NAMES  # all three, with their new names
    with pytest.warns(FutureWarning) as warned:
        config = connect_config(settings, environ={})
    assert sorted(str(w.message) for w in warned) == [
        "TEMPORAL_TLS_CA is deprecated and read for one release only: "
        "set TEMPORAL_TLS_SERVER_CA_CERT_PATH instead",
        "TEMPORAL_TLS_CERT is deprecated and read for one release only: "
        "set TEMPORAL_TLS_CLIENT_CERT_PATH instead",
        "TEMPORAL_TLS_KEY is deprecated and read for one release only: "
        "set TEMPORAL_TLS_CLIENT_KEY_PATH instead",
    ]
    tls = config["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key) == (
        b"PEM ca",
        b"PEM client",
        b"PEM client-key",
    )

    env.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(tmp_path / "other-ca.pem"))
    settings = load_settings()
    assert settings.temporal_tls_ca == tmp_path / "other-ca.pem"
    assert "TEMPORAL_TLS_CA" in settings.deprecated_names  # still said: it should go


def test_connect_config_profile_under_the_settings(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """temporalio.envconfig's TOML profile gives what the settings leave unset; what they set
    (environment, .env, code) wins; an API key means TLS unless TLS is switched off."""
    from temporalio.service import TLSConfig

    from client.connection import connect_config
    from client.errors import ClientConfigError

    profile = tmp_path / "temporal.toml"
    profile.write_text(
        '[profile.default]\naddress = "profile-host:7233"\nnamespace = "profile-ns"\n'
        '[profile.default.grpc_meta]\nx-team = "zhicheng"\n'
        '[profile.cloud]\naddress = "cloud:7233"\napi_key = "from-profile"\n',
        encoding="utf-8",
    )
    environ = {"TEMPORAL_CONFIG_FILE": str(profile)}
    assert connect_config(load_settings(), environ={}) == {
        "target_host": "localhost:7233",  # no profile: the settings' defaults
        "namespace": "default",
        "tls": False,
    }
    assert connect_config(load_settings(), environ=environ) == {
        "target_host": "profile-host:7233",
        "namespace": "profile-ns",
        "rpc_metadata": {"x-team": "zhicheng"},
        "tls": False,
    }
    env.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    config = connect_config(load_settings(), environ=environ)
    assert (config["target_host"], config["namespace"]) == ("temporal:7233", "profile-ns")
    assert connect_config(Settings(temporal_namespace="coded"), environ=environ)["namespace"] == (
        "coded"
    )

    cloud = connect_config(load_settings(), environ=environ | {"TEMPORAL_PROFILE": "cloud"})
    assert cloud["api_key"] == "from-profile"
    assert isinstance(cloud["tls"], TLSConfig) and cloud["tls"].server_root_ca_cert is None
    env.setenv("TEMPORAL_API_KEY", "from-env")
    env.setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
    config = connect_config(load_settings(), environ=environ)
    assert config["api_key"] == "from-env"
    assert isinstance(config["tls"], TLSConfig) and config["tls"].domain == "temporal.internal"
    env.setenv("TEMPORAL_TLS", "false")
    assert connect_config(load_settings(), environ=environ)["tls"] is False

    with pytest.raises(ClientConfigError, match="TEMPORAL_PROFILE"):
        connect_config(load_settings(), environ=environ | {"TEMPORAL_PROFILE": "nope"})


def test_get_settings_is_read_once(env: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        env.setenv("ZHICHENG_TASK_QUEUE", "first")
        assert get_settings() is get_settings()
        env.setenv("ZHICHENG_TASK_QUEUE", "second")
        assert get_settings().task_queue == "first"  # cached
        assert load_settings().task_queue == "second"  # read again
        get_settings.cache_clear()
        assert get_settings().task_queue == "second"
    finally:
        get_settings.cache_clear()


def test_fixed_choices_and_database_urls(env: pytest.MonkeyPatch) -> None:
    """Settings with a fixed set of values are Literal types, named in one line when wrong; a
    database URL is checked with SQLAlchemy's syntax, without importing it."""
    env.setenv("ZHICHENG_LOG_LEVEL", "loud")
    env.setenv("DATABASE_URL", "postgresql://db:port/zhicheng")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines == [
        "DATABASE_URL: not a database URL: 'postgresql://db:port/zhicheng'",
        "ZHICHENG_LOG_LEVEL: not one of DEBUG, INFO, WARNING, ERROR, CRITICAL: 'LOUD'",
    ]
    env.setenv("ZHICHENG_LOG_LEVEL", " warning ")
    env.setenv("DATABASE_URL", "postgresql+psycopg://u:p@[::1]:5432/zhicheng?sslmode=require")
    env.setenv("ZHICHENG_WORKER_VERSIONING_BEHAVIOR", "PINNED")
    settings = load_settings()
    assert (settings.log_level, settings.worker_versioning_behavior) == ("WARNING", "pinned")
    env.setenv("DATABASE_URL", "not a url")
    with pytest.raises(SettingsError, match="DATABASE_URL: not a database URL: 'not a url'"):
        load_settings()


def test_out_of_range(env: pytest.MonkeyPatch) -> None:
    env.setenv("SMTP_PORT", "70000")
    env.setenv("ZHICHENG_DELIVERY_RETRY_SECONDS", "0")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines == [
        "SMTP_PORT: input should be less than or equal to 65535: '70000'",
        "ZHICHENG_DELIVERY_RETRY_SECONDS: input should be greater than 0: '0'",
    ]


def test_frozen_and_secrets_hidden(env: pytest.MonkeyPatch) -> None:
    env.setenv("SMTP_PASSWORD", "hunter2")
    env.setenv("ZHICHENG_APPLICANT_KEY_SECRET", "s3cret")
    settings = load_settings()
    assert "hunter2" not in repr(settings) and "s3cret" not in repr(settings)
    with pytest.raises(ValueError):
        settings.smtp_host = "x"  # type: ignore[misc]
    assert Settings(smtp_port=25).smtp_port == 25  # by field name, in code


@pytest.mark.parametrize("program", ["worker.py", "starter.py"])
def test_programs_exit_2_on_bad_settings(program: str, tmp_path: Path) -> None:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZHICHENG_ENV_FILE": str(tmp_path / ".env"),
        "ZHICHENG_ENV": "development",
        "SMTP_PORT": "abc",
        "WECHAT_TIMEOUT": "-1",
    }
    args = ["outbox", "list"] if program == "starter.py" else []
    result = subprocess.run(
        [sys.executable, str(ROOT / program), *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "invalid setting: SMTP_PORT: not an integer: 'abc'",
        "invalid setting: WECHAT_TIMEOUT: input should be greater than 0: '-1'",
    ]


def test_json_logs_carry_workflow_id_and_stage() -> None:
    """ZHICHENG_LOG_FORMAT=json: one object a line with what the SDK's loggers attach."""
    import json
    import logging

    from worker import JsonFormatter

    record = logging.makeLogRecord(
        {
            "name": "temporalio.workflow",
            "levelname": "INFO",
            "msg": "moved to %s",
            "args": ("employer_review",),
            "temporal_workflow": {"workflow_id": "declaration-1", "workflow_type": "Declaration"},
            "stage": "employer_review",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "moved to employer_review"
    assert entry["workflow_id"] == "declaration-1"
    assert entry["workflow_type"] == "Declaration"
    assert entry["stage"] == "employer_review"
    assert entry["time"].endswith("Z")


def test_metrics_endpoint(env: pytest.MonkeyPatch) -> None:
    """ZHICHENG_METRICS_ADDRESS: the Temporal runtime serves Prometheus metrics there."""
    import socket
    import urllib.request

    from worker import metrics_runtime

    assert metrics_runtime(load_settings()) is None  # off by default
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.setenv("ZHICHENG_METRICS_ADDRESS", f"127.0.0.1:{port}")
    runtime = metrics_runtime(load_settings())
    assert runtime is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        assert response.status == 200


async def test_outbox_backlog_gauges(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import asyncio
    import socket
    import urllib.request
    from datetime import timedelta

    from store.db import dispose_engines, ensure_schema, get_engine
    from store.tables import OutboxMessage, utcnow
    from worker import export_calendar_gap, export_outbox_backlog, metrics_runtime

    url = f"sqlite+aiosqlite:///{tmp_path / 'backlog.db'}"
    await ensure_schema(url)
    async with get_engine(url).begin() as conn:
        await conn.execute(
            OutboxMessage.__table__.insert(),
            [
                {
                    "key": f"k{i}",
                    "workflow_id": "w",
                    "event": "submitted",
                    "recipient_role": "applicant",
                    "recipient_name": "张三",
                    "subject": "s",
                    "body": "b",
                    "status": status,
                    "created_at": utcnow() - timedelta(minutes=30),
                }
                for i, status in enumerate(["pending", "pending", "failed", "sent"])
            ],
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env.setenv("ZHICHENG_METRICS_ADDRESS", f"127.0.0.1:{port}")
    runtime = metrics_runtime(load_settings())
    assert runtime is not None
    try:
        stop = asyncio.Event()
        task = asyncio.create_task(
            export_outbox_backlog(runtime, stop, every=0.05, engine=get_engine(url))
        )
        # the next round's calendar, against an empty override table
        empty = load_settings().model_copy(
            update={"calendar_overrides": tmp_path / "none.json", "calendar_warning_days": 400}
        )
        gap = asyncio.create_task(export_calendar_gap(runtime, stop, empty, every=0.05))
        await asyncio.sleep(0.3)
        stop.set()
        await task
        await gap
    finally:
        await dispose_engines(url)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    lines = [line for line in text.splitlines() if line.startswith("zhicheng_outbox")]
    assert any('status="pending"' in line and line.endswith(" 2") for line in lines), lines
    assert any('status="failed"' in line and line.endswith(" 1") for line in lines), lines
    oldest = next(line for line in lines if line.startswith("zhicheng_outbox_oldest"))
    assert 1700 < float(oldest.rsplit(" ", 1)[1]) < 1900
    from rules.schedule import next_default_run, round_year_of
    from store.config_files import calendar_year_info

    year = round_year_of(next_default_run(datetime.now(UTC)))
    missing = calendar_year_info(year, empty).calendar is None  # the package may know it
    [gauge] = [line for line in text.splitlines() if line.startswith("zhicheng_calendar_missing")]
    assert f'year="{year}"' in gauge and gauge.endswith(" 1" if missing else " 0"), gauge


def test_worker_versioning(env: pytest.MonkeyPatch) -> None:
    """Unversioned by default; a deployment and build id make a versioned worker whose
    workflows auto-upgrade unless pinned; one without the other is refused."""
    from temporalio.common import VersioningBehavior

    from worker import deployment_config

    assert deployment_config(load_settings()) is None
    env.setenv("ZHICHENG_WORKER_DEPLOYMENT", "zhicheng")
    with pytest.raises(SettingsError, match="set both or neither"):
        load_settings()
    env.setenv("ZHICHENG_WORKER_BUILD_ID", "2025.09.1")
    config = deployment_config(load_settings())
    assert config is not None and config.use_worker_versioning
    assert (config.version.deployment_name, config.version.build_id) == ("zhicheng", "2025.09.1")
    assert config.default_versioning_behavior is VersioningBehavior.AUTO_UPGRADE
    env.setenv("ZHICHENG_WORKER_VERSIONING_BEHAVIOR", "Pinned")
    config = deployment_config(load_settings())
    assert config is not None
    assert config.default_versioning_behavior is VersioningBehavior.PINNED
    env.setenv("ZHICHENG_WORKER_VERSIONING_BEHAVIOR", "sometimes")
    with pytest.raises(SettingsError, match="auto_upgrade, pinned"):
        load_settings()


# --- secrets outside development (docs/security.md, "Secrets") ---------------------------

GOOD_SECRETS = {  # four different values of at least 32 bytes
    **OTHER_PRODUCTION_SECRETS,
    "ZHICHENG_CODEC_KEYS": "k1:" + base64.b64encode(b"c" * 32).decode(),  # id:key, 47 bytes
}
SHIPPED = {  # a value the repository ships for each, which is no secret
    "ZHICHENG_APPLICANT_KEY_SECRET": DEVELOPMENT_APPLICANT_KEY_SECRET,
    "PORTAL_SECRET": development_secret(DEVELOPMENT_APPLICANT_KEY_SECRET, "zhicheng-portal"),
    "ZHICHENG_ACTOR_SIGNING_KEY": development_secret(
        DEVELOPMENT_APPLICANT_KEY_SECRET, "zhicheng-actor"
    ),
    "ZHICHENG_CODEC_KEYS": "change-me",  # .env.example's POSTGRES_PASSWORD, say
}


def production(tmp_path: Path, **variables: str | None) -> dict[str, str]:
    """A subprocess's whole environment: production, the good secrets, then `variables`
    (None: that variable unset)."""
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZHICHENG_ENV_FILE": str(tmp_path / ".env"),
        "TEMPORAL_CONFIG_FILE": str(tmp_path / "no-temporal.toml"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
        "ZHICHENG_ENV": "production",
        **GOOD_SECRETS,
    }
    for name, value in variables.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def test_the_secrets_are_these_four() -> None:
    names = environment_names()
    assert {names[variable] for variable in GOOD_SECRETS} == set(SECRETS)


@pytest.mark.parametrize("variable", list(GOOD_SECRETS))
@pytest.mark.parametrize("how", ["missing", "empty", "shipped", "short"])
def test_a_bad_secret_is_refused_outside_development(
    variable: str, how: str, tmp_path: Path
) -> None:
    """`python settings.py` in production: one line naming the secret, exit 2."""
    value = {"missing": None, "empty": "", "shipped": SHIPPED[variable], "short": "k" * 31}[how]
    result = subprocess.run(
        [sys.executable, str(ROOT / "settings.py")],
        cwd=tmp_path,
        env=production(tmp_path, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"invalid setting: {variable}: "), line
    shipped = how == "shipped" or (how != "short" and variable == "ZHICHENG_APPLICANT_KEY_SECRET")
    expected = {
        "missing": "not set",
        "empty": "not set",
        "shipped": "a value shipped with zhicheng",
        "short": "too short: 31 bytes, at least 32",
    }["shipped" if shipped else how]
    generate = GENERATE_CODEC_KEY if variable == "ZHICHENG_CODEC_KEYS" else GENERATE_SECRET
    assert expected in line and generate in line, line
    assert value is None or value == "" or value not in line  # the secret is never printed


@pytest.mark.parametrize(
    ("program", "args"),
    [
        ("settings.py", []),
        ("worker.py", []),
        ("starter.py", ["outbox", "list"]),
        ("-m", ["uvicorn", "portal.app:app", "--port", "0"]),
        ("-m", ["alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"]),
    ],
)
def test_every_program_refuses_to_start_without_its_secrets(
    program: str, args: list[str], tmp_path: Path
) -> None:
    """The worker, the command line, the portal (as uvicorn serves it) and the migrations, in
    production with no secret set: each secret named on its own line, exit 2, nothing
    started (no database made)."""
    command = [sys.executable, program if program == "-m" else str(ROOT / program), *args]
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=production(tmp_path, **dict.fromkeys(GOOD_SECRETS)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "ZHICHENG_APPLICANT_KEY_SECRET",
        "ZHICHENG_ACTOR_SIGNING_KEY",
        "ZHICHENG_CODEC_KEYS",
        "PORTAL_SECRET",
    ], result.stderr
    assert all(line.startswith("invalid setting: ") for line in lines)
    assert not (tmp_path / "never.db").exists()


def test_good_secrets_and_each_its_own(env: pytest.MonkeyPatch) -> None:
    env.setenv("ZHICHENG_ENV", "Production")
    for name, value in GOOD_SECRETS.items():
        env.setenv(name, value)
    settings = load_settings()
    assert settings.environment == "production"
    assert settings.portal_secret == "p" * 48  # as set: nothing derived outside development
    assert all(value not in repr(settings) for value in GOOD_SECRETS.values())
    env.setenv("PORTAL_SECRET", GOOD_SECRETS["ZHICHENG_APPLICANT_KEY_SECRET"])
    env.setenv("ZHICHENG_ACTOR_SIGNING_KEY", GOOD_SECRETS["ZHICHENG_CODEC_KEYS"])
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines == [
        "PORTAL_SECRET: the same value as ZHICHENG_APPLICANT_KEY_SECRET: each secret is its own",
        "ZHICHENG_CODEC_KEYS: the same value as ZHICHENG_ACTOR_SIGNING_KEY: each secret is its own",
    ]
    env.setenv("ZHICHENG_ENV", "staging")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines[0] == ("ZHICHENG_ENV: not one of development, production: 'staging'")


def test_development_derives_what_is_unset(env: pytest.MonkeyPatch) -> None:
    """In development nothing is required: the applicant key has its development value and
    the portal's secret and the actor-signing key are derived from it (PORTAL_SECRET as the
    portal derived it before: a development database's blind codes stay the same); the codec
    keys are left to the codec."""
    settings = load_settings()
    assert settings.environment == "development"
    assert settings.applicant_key_secret == DEVELOPMENT_APPLICANT_KEY_SECRET
    assert (
        settings.portal_secret
        == hmac.new(
            DEVELOPMENT_APPLICANT_KEY_SECRET.encode(), b"zhicheng-portal", hashlib.sha256
        ).hexdigest()
    )
    assert settings.actor_signing_key not in ("", settings.portal_secret)
    assert settings.codec_keys == ""
    env.setenv("PORTAL_SECRET", "short but allowed here")
    assert load_settings().portal_secret == "short but allowed here"


def test_trusted_proxies(env: pytest.MonkeyPatch) -> None:
    import ipaddress

    assert load_settings().trusted_proxy_networks == ()
    env.setenv("PORTAL_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16 ::1")
    assert load_settings().trusted_proxy_networks == (
        ipaddress.ip_network("10.0.0.5/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("::1/128"),
    )
    env.setenv("PORTAL_TRUSTED_PROXIES", "10.0.0.5,proxy.internal")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert raised.value.lines == [
        "PORTAL_TRUSTED_PROXIES: not an IP address or network: 'proxy.internal'"
    ]
