"""Configuration from the environment and `.env`. One place; every other module reads it here:
`get_settings()` (built once per process, for code that runs long) or `load_settings()` (read
again on every call, so a test that changes the environment sees the change).

One pydantic-settings object: each field names the environment variable it is read from
(`validation_alias`), and the values are checked when it is built. A bad value fails with
`SettingsError`, whose `lines` say one bad setting each (`SMTP_PORT: not an integer: 'abc'`);
the worker and the starter print them and exit 2 (`load_settings_or_exit`).

`.env` in the repository root (or the file ZHICHENG_ENV_FILE names) is read too; a variable set
in the environment wins over the file. An empty variable counts as unset (its default applies).

A renamed variable (DEPRECATED_NAMES) is still read for one release under its old name;
`Settings.deprecated_names` says which old names were used, and the client's connection warns
about each (client/connection.py).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{ROOT / 'var' / 'zhicheng.db'}"


SmtpSecurity = Literal["none", "starttls", "tls"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
VersioningBehavior = Literal["auto_upgrade", "pinned"]

# The actor-signing key's development default (ZHICHENG_ACTOR_SIGNING_KEY): never for
# production, where a long random value is set.
DEVELOPMENT_ACTOR_SIGNING_KEY = "zhicheng-development-only-actor-signing-key"

SMTP_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)
VERSIONING_BEHAVIORS: tuple[str, ...] = get_args(VersioningBehavior)

# Renamed variables: old name -> the name that replaces it. The old name is still read (after
# the new one) until the next release, with a warning; the new names are the Temporal SDK's own
# (temporalio.envconfig), so one set of variables configures this project and the temporal CLI.
DEPRECATED_NAMES: dict[str, str] = {
    "TEMPORAL_TLS_CA": "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_CERT": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_KEY": "TEMPORAL_TLS_CLIENT_KEY_PATH",
}


def env_file() -> Path:
    return Path(os.environ.get("ZHICHENG_ENV_FILE") or ROOT / ".env")


def _env(name: str, default: Any = None, **kwargs: Any) -> Any:
    """A field read from the environment variable `name` (and only from it), or also from the
    old name it replaces (DEPRECATED_NAMES), which is read after it."""
    names = [name, *(old for old, new in DEPRECATED_NAMES.items() if new == name)]
    if "default_factory" in kwargs:
        return Field(validation_alias=AliasChoices(*names), **kwargs)
    return Field(default, validation_alias=AliasChoices(*names), **kwargs)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        env_ignore_empty=True,
        populate_by_name=True,  # Settings(smtp_port=25) in code; the environment uses the aliases
        validate_default=False,
    )

    # The Temporal connection (client/connection.py). The variables are the Temporal SDK's
    # (temporalio.envconfig), which also reads a TOML profile (TEMPORAL_PROFILE,
    # TEMPORAL_CONFIG_FILE); a value set here, in the environment or .env, wins over the profile.
    temporal_address: str = _env("TEMPORAL_ADDRESS", "localhost:7233")
    temporal_namespace: str = _env("TEMPORAL_NAMESPACE", "default")
    task_queue: str = _env("ZHICHENG_TASK_QUEUE", "zhicheng")
    # TLS to the Temporal frontend (docs/deployment.md): on with TEMPORAL_TLS=true, when a CA or
    # client certificate is given, or with an API key; mTLS with TEMPORAL_TLS_CLIENT_CERT_PATH +
    # TEMPORAL_TLS_CLIENT_KEY_PATH (PEM files).
    temporal_tls: bool = _env("TEMPORAL_TLS", False)
    temporal_tls_ca: Path | None = _env("TEMPORAL_TLS_SERVER_CA_CERT_PATH", None)
    temporal_tls_cert: Path | None = _env("TEMPORAL_TLS_CLIENT_CERT_PATH", None)
    temporal_tls_key: Path | None = _env("TEMPORAL_TLS_CLIENT_KEY_PATH", None, repr=False)
    temporal_tls_server_name: str = _env("TEMPORAL_TLS_SERVER_NAME", "")
    # Temporal Cloud and other API-key servers: sent as a bearer token, over TLS.
    temporal_api_key: str = _env("TEMPORAL_API_KEY", "", repr=False)
    database_url: str = _env("DATABASE_URL", default_factory=_default_database_url)
    calendar_overrides: Path = _env(
        "ZHICHENG_CALENDAR_OVERRIDES", ROOT / "config" / "calendar_overrides.json"
    )
    # config/rounds/{year}.json: a round's configuration when it departs from the notice's pattern
    rounds_dir: Path = _env("ZHICHENG_ROUNDS_DIR", ROOT / "config" / "rounds")
    # Keys the applicant pseudonym in workflow ids (rules.identity.applicant_key). Set a long
    # random value in production and keep it: changing it changes every applicant's id.
    applicant_key_secret: str = _env(
        "ZHICHENG_APPLICANT_KEY_SECRET", "zhicheng-development-only", repr=False
    )

    # --- delivery (activities/delivery.py; README "Delivery: SMTP and WeChat") ---
    # E-mail is on when SMTP_HOST and SMTP_FROM are set; WeChat when WECHAT_APP_ID and
    # WECHAT_APP_SECRET are. With neither, messages wait in the outbox as `pending`.
    smtp_host: str = _env("SMTP_HOST", "")
    # none (plain, e.g. a local relay), starttls (upgrade on connect), tls (implicit TLS)
    smtp_security: SmtpSecurity = _env("SMTP_SECURITY", "starttls")
    # SMTP_PORT, else the usual port of SMTP_SECURITY (25 / 587 / 465)
    smtp_port: int = _env("SMTP_PORT", 0, ge=0, le=65535)
    smtp_username: str = _env("SMTP_USERNAME", "")
    smtp_password: str = _env("SMTP_PASSWORD", "", repr=False)
    smtp_from: str = _env("SMTP_FROM", "")
    smtp_from_name: str = _env("SMTP_FROM_NAME", "新疆专业技术人员管理平台")
    smtp_timeout: float = _env("SMTP_TIMEOUT", 30.0, gt=0)
    wechat_api_base: str = _env("WECHAT_API_BASE", "https://api.weixin.qq.com")
    wechat_app_id: str = _env("WECHAT_APP_ID", "")
    wechat_app_secret: str = _env("WECHAT_APP_SECRET", "", repr=False)
    # event -> template id and field mapping; E.164 mobile -> openid (re-read when changed)
    wechat_templates: Path = _env("WECHAT_TEMPLATES", ROOT / "config" / "wechat_templates.json")
    wechat_bindings: Path = _env("WECHAT_BINDINGS", ROOT / "config" / "wechat_bindings.json")
    wechat_timeout: float = _env("WECHAT_TIMEOUT", 15.0, gt=0)
    # WeChat drops a second message with the same openid + client_msg_id for 10 minutes: a
    # send whose outcome is unknown is resent only within this window (margin included).
    wechat_dedup_window: float = _env("WECHAT_DEDUP_WINDOW_SECONDS", 540.0, ge=0)
    # Retries of a temporary failure: exponential backoff from the first interval to the
    # maximum, each attempt limited to the attempt timeout; after give-up-hours it fails.
    delivery_retry_seconds: float = _env("ZHICHENG_DELIVERY_RETRY_SECONDS", 10.0, gt=0)
    delivery_retry_max_seconds: float = _env("ZHICHENG_DELIVERY_RETRY_MAX_SECONDS", 600.0, gt=0)
    delivery_attempt_timeout: float = _env("ZHICHENG_DELIVERY_ATTEMPT_TIMEOUT", 60.0, gt=0)
    delivery_give_up_hours: float = _env("ZHICHENG_DELIVERY_GIVE_UP_HOURS", 24.0, gt=0)

    # --- documents (activities/publish.py; README "Documents and the approval PDF") ---
    # The publication store: published PDFs and HTML, index.html and feed.json.
    publication_dir: Path = _env("ZHICHENG_PUBLICATION_DIR", ROOT / "var" / "publication")
    # Licensed fonts dropped in here replace the Noto CJK defaults by role: title.* (小标宋),
    # body.* (仿宋), heading.* (黑体), kai.* (楷体); .ttf, .otf, .ttc or .otc.
    font_dir: Path | None = _env("ZHICHENG_FONT_DIR", None)
    # R21: the issuing authority (red header, signature, seal) and its document-number prefix.
    issuing_authority: str = _env(
        "ZHICHENG_ISSUING_AUTHORITY", "甘泉堡经济技术开发区（工业区）组织和人力资源部"
    )
    document_number_prefix: str = _env("ZHICHENG_DOCUMENT_NUMBER_PREFIX", "甘经开人社")
    # Who takes questions and objections, as the notice names them (section 8).
    document_contact: str = _env(
        "ZHICHENG_DOCUMENT_CONTACT",
        "甘泉堡经济技术开发区（工业区）人力资源服务中心，联系人：李世辉，电话：0991—7706810",
    )

    # --- portal (portal/) ---
    # Signs the session cookie and keys the blind codes; empty: derived from the applicant-key
    # secret. Set a long random value in production.
    portal_secret: str = _env("PORTAL_SECRET", "", repr=False)
    # The session cookie only over HTTPS (behind the TLS-terminating proxy in production).
    portal_https_only: bool = _env("PORTAL_HTTPS_ONLY", False)
    # Uploaded scans (portal/uploads.py): content-addressed files (<dir>/ab/<sha256>) and the
    # largest upload accepted, in bytes.
    upload_dir: Path = _env("ZHICHENG_UPLOAD_DIR", ROOT / "var" / "uploads")
    upload_max_bytes: int = _env("ZHICHENG_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, gt=0)

    # --- operations (worker.py; docs/deployment.md) ---
    # host:port of the worker's Prometheus endpoint (Temporal SDK metrics); empty: off.
    metrics_address: str = _env("ZHICHENG_METRICS_ADDRESS", "")
    # text (one line a record, for a terminal) or json (one object a line, for a log store)
    log_format: LogFormat = _env("ZHICHENG_LOG_FORMAT", "text")
    log_level: LogLevel = _env("ZHICHENG_LOG_LEVEL", "INFO")
    # Worker versioning (docs/deployment.md, "Rolling out a workflow change"): the Worker
    # Deployment this worker belongs to and its build id; both empty: unversioned. The
    # behaviour of workflows started on a version: auto_upgrade (they move to the current
    # version; changes to running logic go behind workflow.patched) or pinned (they stay on
    # the version that started them: keep its workers until they end).
    worker_deployment: str = _env("ZHICHENG_WORKER_DEPLOYMENT", "")
    worker_build_id: str = _env("ZHICHENG_WORKER_BUILD_ID", "")
    worker_versioning_behavior: VersioningBehavior = _env(
        "ZHICHENG_WORKER_VERSIONING_BEHAVIOR", "auto_upgrade"
    )

    # --- signed actors (rules/actor_signature.py; docs/security.md "Signed actors") ---
    # The HMAC-SHA256 key the portal, the command line and the worker sign every update's
    # actor with, and the worker's validators verify it with: the SAME value for all of them,
    # a long random one in production (e.g. `openssl rand -hex 32`). Changing it refuses the
    # updates signed in the moment of the change (at most MAX_AGE, 10 minutes); nothing
    # recorded depends on it. Default: a development-only value.
    actor_signing_key: str = _env(
        "ZHICHENG_ACTOR_SIGNING_KEY", DEVELOPMENT_ACTOR_SIGNING_KEY, repr=False
    )

    # The old names (DEPRECATED_NAMES) this object's values were read from; set by
    # load_settings(), empty for settings made in code.
    _deprecated_names: tuple[str, ...] = PrivateAttr(default=())

    @property
    def deprecated_names(self) -> dict[str, str]:
        """Each old variable name in use -> the name to use instead."""
        return {old: DEPRECATED_NAMES[old] for old in self._deprecated_names}

    @field_validator("smtp_security", "log_format", "worker_versioning_behavior", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("metrics_address")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        value = value.strip()
        if value:
            host, _, port = value.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"not host:port: {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # SQLAlchemy's URL syntax, checked without importing SQLAlchemy: reading the settings
        # stays cheap for the commands that never open the database (`starter.py round plan`).
        found = _DATABASE_URL.match(value)
        if found is None or not (found["port"] or "0").isdigit():
            raise ValueError(f"not a database URL: {value!r}")
        if found["name"].split("+")[0] not in ("sqlite", "postgresql"):
            raise ValueError(f"not a sqlite or postgresql URL: {value!r}")
        return value

    @model_validator(mode="after")
    def _worker_version(self) -> Settings:
        if bool(self.worker_deployment.strip()) != bool(self.worker_build_id.strip()):
            raise ValueError(
                "ZHICHENG_WORKER_DEPLOYMENT and ZHICHENG_WORKER_BUILD_ID: set both or neither"
            )
        return self

    @model_validator(mode="after")
    def _temporal_tls(self) -> Settings:
        if bool(self.temporal_tls_cert) != bool(self.temporal_tls_key):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: "
                "set both or neither"
            )
        if self.temporal_tls_ca or self.temporal_tls_cert:
            object.__setattr__(self, "temporal_tls", True)
        return self

    @model_validator(mode="after")
    def _default_smtp_port(self) -> Settings:
        if not self.smtp_port:
            object.__setattr__(self, "smtp_port", SMTP_DEFAULT_PORTS[self.smtp_security])
        return self


# SQLAlchemy's URL pattern (sqlalchemy.engine.url._parse_url), so that a URL SQLAlchemy would
# refuse is refused here: name://[user[:password]@][host][:port][/database][?query], the name
# backend[+driver].
_DATABASE_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


def environment_names() -> dict[str, str]:
    """Each setting's environment variable -> its field name (compose and .env.example checks),
    the old names of DEPRECATED_NAMES included while they are read."""
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices)
        for choice in alias.choices:
            assert isinstance(choice, str)
            names[choice] = name
    return names


def _deprecated_names_in_use(dotenv: Path) -> tuple[str, ...]:
    """The old names set (not empty) in the environment or in the .env file."""
    from dotenv import dotenv_values

    in_file = dotenv_values(dotenv, encoding="utf-8") if dotenv.is_file() else {}
    return tuple(old for old in DEPRECATED_NAMES if os.environ.get(old) or in_file.get(old))


_PROBLEMS = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "float_parsing": "not a number",
    "bool_parsing": "not true or false",
}


class SettingsError(ValueError):
    """Invalid settings: `lines` holds one line per bad setting."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _error_lines(error: ValidationError) -> list[str]:
    fields = Settings.model_fields
    lines = []
    for item in error.errors(include_url=False):
        where = str(item["loc"][0]) if item["loc"] else ""
        field = fields.get(where) or fields.get(environment_names().get(where, ""))
        name = where
        if field is not None and isinstance(field.validation_alias, AliasChoices):
            name = str(field.validation_alias.choices[0])
        problem = _PROBLEMS.get(item["type"])
        if problem is not None:
            lines.append(f"{name}: {problem}: {item['input']!r}")
        elif item["type"] == "literal_error" and field is not None:
            allowed = ", ".join(str(value) for value in get_args(field.annotation))
            lines.append(f"{name}: not one of {allowed}: {item['input']!r}")
        elif item["type"] == "value_error" and not item["loc"]:  # across settings
            lines.append(str(item["ctx"]["error"]))
        elif item["type"] == "value_error":
            lines.append(f"{name}: {item['ctx']['error']}")
        else:
            message = item["msg"][0].lower() + item["msg"][1:]
            lines.append(f"{name}: {message}: {item['input']!r}")
    return lines


def load_settings() -> Settings:
    """The settings from the environment and `.env`, read again on every call; SettingsError
    when any is bad."""
    dotenv = env_file()
    try:
        settings = Settings(_env_file=dotenv, _env_file_encoding="utf-8")
    except ValidationError as exc:
        raise SettingsError(_error_lines(exc)) from None
    settings._deprecated_names = _deprecated_names_in_use(dotenv)
    return settings


@functools.cache
def get_settings() -> Settings:
    """load_settings(), once per process (`get_settings.cache_clear()` reads them again)."""
    return load_settings()


def load_settings_or_exit() -> Settings:
    """load_settings(), or each bad setting on a line of stderr and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"invalid setting: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def check_main() -> NoReturn:  # `python settings.py`: validates and exits 0 or 2
    load_settings_or_exit()
    print("settings: ok")
    raise SystemExit(0)


if __name__ == "__main__":
    check_main()
