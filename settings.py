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

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
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
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{ROOT / 'var' / 'zhicheng.db'}"


# The portal as people reach it (ZHICHENG_PORTAL_URL): what the messages link to.
DEFAULT_PORTAL_URL = "http://localhost:8000"

SmtpSecurity = Literal["none", "starttls", "tls"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
VersioningBehavior = Literal["auto_upgrade", "pinned"]
Environment = Literal["development", "production"]

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


# --- secrets (docs/security.md, "Secrets") ---
# The settings that are secrets. Outside development (ZHICHENG_ENV) each must be set, at least
# SECRET_MIN_BYTES long and none of the values this repository ships (SHIPPED_SECRETS), or the
# settings are refused, one line per secret (Settings._secret). Each is its own: the same value
# in two of them is refused too. In development an unset secret gets a development-only value.
SECRETS: tuple[str, ...] = (
    "applicant_key_secret",
    "portal_secret",
    "actor_signing_key",
    "codec_keys",
)
SECRET_MIN_BYTES = 32
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
DEVELOPMENT_APPLICANT_KEY_SECRET = "zhicheng-development-only"


def development_secret(applicant_key_secret: str, purpose: str) -> str:
    """In development only: the value of an unset secret, derived from the applicant-key
    secret (stable across restarts and processes). PORTAL_SECRET's is what the portal derived
    before secrets were required, so a development database's blind codes stay the same."""
    return hmac.new(applicant_key_secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()


# secret -> what its development value is derived with (codec keys: the codec's own rule)
DEVELOPMENT_PURPOSES = {"portal_secret": "zhicheng-portal", "actor_signing_key": "zhicheng-actor"}
SHIPPED_SECRETS = frozenset(
    {
        DEVELOPMENT_APPLICANT_KEY_SECRET,
        *(
            development_secret(DEVELOPMENT_APPLICANT_KEY_SECRET, p)
            for p in DEVELOPMENT_PURPOSES.values()
        ),
        "change-me",
    }
)


# The codec keys are "id:base64 of 32 bytes" (client/codec.py), not a free-form secret.
GENERATE_CODEC_KEY = (
    'python -c "import base64, secrets; '
    "print('k1:' + base64.b64encode(secrets.token_bytes(32)).decode())\""
)


def secret_problem(value: str, generate: str = GENERATE_SECRET) -> str | None:
    """What is wrong with `value` as a secret outside development, None when nothing is;
    `generate` is the command the message offers."""
    if not value.strip():
        return (
            "not set: every secret must be set outside development (ZHICHENG_ENV=development); "
            f"generate one: {generate}"
        )
    if value in SHIPPED_SECRETS:
        return f"a value shipped with zhicheng, not a secret; generate one: {generate}"
    size = len(value.encode("utf-8"))
    if size < SECRET_MIN_BYTES:
        return f"too short: {size} bytes, at least {SECRET_MIN_BYTES}; generate one: {generate}"
    return None


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

    # --- the environment (docs/security.md, "Secrets") ---
    # production (the default): every secret below (SECRETS) must be set, at least 32 bytes,
    # not a shipped development value, or nothing starts (one line per secret, exit 2).
    # development (scripts/run.sh, the tests): unset secrets get development-only values, and
    # the portal serves its API description (/openapi.json). First field: the secrets'
    # validator reads it.
    environment: Environment = _env("ZHICHENG_ENV", "production")

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
    # Warn (schedule describe, the supervisor's page, the worker's metric) from this many days
    # before the Schedule's next run when its year's working-day calendar is not loaded.
    calendar_warning_days: int = _env("ZHICHENG_CALENDAR_WARNING_DAYS", 365, ge=0)
    # config/rounds/{year}.json: a round's configuration when it departs from the notice's pattern
    rounds_dir: Path = _env("ZHICHENG_ROUNDS_DIR", ROOT / "config" / "rounds")
    # Keys the applicant pseudonym in workflow ids (rules.identity.applicant_key). A secret
    # (SECRETS): set a long random value in production and keep it: changing it changes every
    # applicant's id.
    applicant_key_secret: str = _env(
        "ZHICHENG_APPLICANT_KEY_SECRET",
        DEVELOPMENT_APPLICANT_KEY_SECRET,
        repr=False,
        validate_default=True,
    )

    # --- secrets (docs/security.md, "Secrets"; checked by _secret below) ---
    # Signs the actor of every update the portal, the command line and the worker send, and
    # the workers' validators verify it (rules/actor_signature.py, client/signing.py;
    # docs/security.md "Signed actors"): the same value for all of them.
    actor_signing_key: str = _env(
        "ZHICHENG_ACTOR_SIGNING_KEY", "", repr=False, validate_default=True
    )
    # The payload codec's keys (client/connection.py, the codec server), as the codec reads
    # them; here only their presence and length are checked.
    codec_keys: str = _env("ZHICHENG_CODEC_KEYS", "", repr=False, validate_default=True)

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
    # The organisations' addresses (employers, competent units, the evaluation body, the
    # supervisor: models/recipients.py), read when a message is queued; re-read when changed.
    recipients_file: Path = _env("ZHICHENG_RECIPIENTS", ROOT / "config" / "recipients.json")
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
    # The archive: records kept for the supervisor and the observer, never published (the
    # committee sessions' meeting records, documents/meeting_record.py).
    archive_dir: Path = _env("ZHICHENG_ARCHIVE_DIR", ROOT / "var" / "archive")
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
    # The portal's own secret (SECRETS): signs the login form's CSRF cookie and keys the blind
    # codes. In development only, empty means one derived from the applicant-key secret.
    portal_secret: str = _env("PORTAL_SECRET", "", repr=False, validate_default=True)
    # The cookies only over HTTPS (`Secure`) and Strict-Transport-Security: the portal is
    # served over HTTPS (behind the TLS-terminating proxy in production).
    portal_https_only: bool = _env("PORTAL_HTTPS_ONLY", False)
    # Uploaded scans (portal/uploads.py): content-addressed files (<dir>/ab/<sha256>) and the
    # largest upload accepted, in bytes.
    upload_dir: Path = _env("ZHICHENG_UPLOAD_DIR", ROOT / "var" / "uploads")
    upload_max_bytes: int = _env("ZHICHENG_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, gt=0)

    # --- portal sessions and login (portal/sessions.py, portal/security.py; docs/security.md) ---
    # A session (a row of the record database; the cookie holds only its random id) ends after
    # this long without a request, and this long after the login whatever happens.
    portal_session_idle_minutes: float = _env("PORTAL_SESSION_IDLE_MINUTES", 30.0, gt=0)
    portal_session_absolute_hours: float = _env("PORTAL_SESSION_ABSOLUTE_HOURS", 8.0, gt=0)
    # Failed logins within the window, counted in the record database (every replica sees
    # them): this many for one account (from anywhere) or from one client address (whatever
    # the usernames: password spraying) and further logins are refused until the window passes.
    portal_login_window_minutes: float = _env("PORTAL_LOGIN_WINDOW_MINUTES", 15.0, gt=0)
    portal_login_account_failures: int = _env("PORTAL_LOGIN_ACCOUNT_FAILURES", 5, gt=0)
    portal_login_address_failures: int = _env("PORTAL_LOGIN_ADDRESS_FAILURES", 20, gt=0)
    # The reverse proxies whose X-Forwarded-For is believed: IP addresses or networks,
    # separated by commas (10.0.0.5, 10.1.0.0/16). Empty: none; the client address is the
    # connection's peer and X-Forwarded-For is ignored.
    portal_trusted_proxies: str = _env("PORTAL_TRUSTED_PROXIES", "")
    # The largest request body of any route but an upload's (those: ZHICHENG_UPLOAD_MAX_BYTES
    # per file), refused with 413 before it is read.
    portal_body_max_bytes: int = _env("PORTAL_BODY_MAX_BYTES", 1024 * 1024, gt=0)
    # The Temporal Web UI the supervisor's page links each declaration's workflow to
    # (`{url}/namespaces/{TEMPORAL_NAMESPACE}/workflows/{id}`); compose: http://localhost:8080.
    temporal_ui_url: str = _env("ZHICHENG_TEMPORAL_UI_URL", "http://localhost:8233")
    # The portal's public address, as the people who get the messages open it (behind the
    # proxy: https://...): every message links its page there (delivery/outbox.py). The
    # default is the development portal's; set it in production.
    portal_url: str = _env("ZHICHENG_PORTAL_URL", DEFAULT_PORTAL_URL)

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

    # --- payload encryption (client/codec.py, codec_server.py; docs/security.md) ---
    # ZHICHENG_CODEC_KEYS (the `codec_keys` secret above) holds the AES-256-GCM keys of every
    # Temporal payload: "id:base64 of 32 bytes", comma-separated, newest first. The first
    # encrypts; each decrypts the payloads that name its id, so keep an old key listed until no
    # history needs it (docs/security.md, "Rotating the key"). In development a development
    # key and token stand in for missing ones.
    # The codec server (codec_server.py) for the Temporal Web UI and CLI: its bearer token
    # (at least 32 characters outside development), where it listens, and the Web UI origins
    # allowed to call it (comma-separated).
    codec_token: str = _env("ZHICHENG_CODEC_TOKEN", "", repr=False)
    codec_address: str = _env("ZHICHENG_CODEC_ADDRESS", "127.0.0.1:8234")
    codec_cors_origins: str = _env(
        "ZHICHENG_CODEC_CORS_ORIGINS", "http://localhost:8233,http://127.0.0.1:8233"
    )

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def codec_key_ring(self) -> list[tuple[str, bytes]]:
        """The payload keys, newest (the one that encrypts) first; in development without
        ZHICHENG_CODEC_KEYS, the development key (id `dev`)."""
        if self.codec_keys.strip():
            return parse_codec_keys(self.codec_keys)
        if self.is_development:
            return [(DEVELOPMENT_CODEC_KEY_ID, DEVELOPMENT_CODEC_KEY)]
        raise ValueError(f"ZHICHENG_CODEC_KEYS: {CODEC_KEYS_REQUIRED}")

    @property
    def codec_cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]

    @field_validator("codec_keys")
    @classmethod
    def _codec_keys(cls, value: str, info: ValidationInfo) -> str:
        # Outside development a value that fails the secrets' rule is refused for that (one
        # line: Settings._secret); any other value must parse (a ValueError names the entry,
        # never the key).
        development = info.data.get("environment") == "development"
        if value.strip() and (development or secret_problem(value) is None):
            parse_codec_keys(value)
        return value

    @field_validator("codec_address")
    @classmethod
    def _codec_address(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not host:port: {value!r}")
        return value.strip()

    # The old names (DEPRECATED_NAMES) this object's values were read from; set by
    # load_settings(), empty for settings made in code.
    _deprecated_names: tuple[str, ...] = PrivateAttr(default=())

    @property
    def deprecated_names(self) -> dict[str, str]:
        """Each old variable name in use -> the name to use instead."""
        return {old: DEPRECATED_NAMES[old] for old in self._deprecated_names}

    @field_validator(
        "smtp_security", "log_format", "worker_versioning_behavior", "environment", mode="before"
    )
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

    # --- secrets (SECRETS) ---
    @field_validator(*SECRETS)
    @classmethod
    def _secret(cls, value: str, info: ValidationInfo) -> str:
        # `environment` is the first field: validated before these (missing when it was
        # itself wrong: then the secrets are checked as in production)
        if info.data.get("environment") != "development":
            generate = GENERATE_CODEC_KEY if info.field_name == "codec_keys" else GENERATE_SECRET
            problem = secret_problem(value, generate)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _secrets_each_its_own(self) -> Settings:
        if self.environment == "development":
            for name, purpose in DEVELOPMENT_PURPOSES.items():
                if not getattr(self, name):
                    value = development_secret(self.applicant_key_secret, purpose)
                    object.__setattr__(self, name, value)
            return self
        seen: dict[str, str] = {}
        lines = []
        for name in SECRETS:
            variable = _variable(name)
            value = getattr(self, name)
            if value in seen:
                lines.append(f"{variable}: the same value as {seen[value]}: each secret is its own")
            seen.setdefault(value, variable)
        if lines:
            raise ValueError("\n".join(lines))
        return self

    # --- portal sessions and login ---
    @field_validator("portal_trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        return value

    @field_validator("temporal_ui_url", "portal_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#\"'<>]+(/[^\s?#\"'<>]*)?", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """PORTAL_TRUSTED_PROXIES, parsed (a single address is a network of one)."""
        entries = _entries(self.portal_trusted_proxies)
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)

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


# --- payload encryption: the key format of ZHICHENG_CODEC_KEYS (client/codec.py uses them) ---
CODEC_KEY_BYTES = 32  # AES-256
CODEC_KEYS_REQUIRED = (
    "required outside development (ZHICHENG_ENV=development): id:base64 of 32 random bytes, "
    "comma-separated, newest first (docs/security.md)"
)
_CODEC_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Derived, not secret: only for ZHICHENG_ENV=development without ZHICHENG_CODEC_KEYS, so that
# every process of a development run (worker, portal, CLI, codec server) shares it.
DEVELOPMENT_CODEC_KEY_ID = "dev"
DEVELOPMENT_CODEC_KEY = hashlib.sha256(b"zhicheng development codec key, not secret").digest()


def parse_codec_keys(value: str) -> list[tuple[str, bytes]]:
    """`id:base64,...` -> [(id, 32-byte key)], in the given order (the first encrypts).
    A ValueError names the bad entry by its position and id, never by its key."""
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(value.split(","), start=1):
        key_id, sep, encoded = (part.strip() for part in entry.strip().partition(":"))
        if not sep or not key_id or not encoded:
            raise ValueError(f"entry {position} is not id:base64-key")
        if not _CODEC_KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"entry {position}: the key id must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if any(key_id == known for known, _ in keys):
            raise ValueError(f"key id {key_id!r} is listed twice")
        try:
            key = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(key) != CODEC_KEY_BYTES:
            raise ValueError(
                f"key {key_id!r} is {len(key)} bytes; AES-256 needs {CODEC_KEY_BYTES} "
                "(e.g. `openssl rand -base64 32`)"
            )
        keys.append((key_id, key))
    return keys


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


def _entries(value: str) -> list[str]:
    """A list setting's entries: separated by commas or white space."""
    return [entry for entry in re.split(r"[\s,]+", value) if entry]


def _variable(field_name: str) -> str:
    """The environment variable a field is read from."""
    alias = Settings.model_fields[field_name].validation_alias
    assert isinstance(alias, AliasChoices)
    return str(alias.choices[0])


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
            lines.extend(str(item["ctx"]["error"]).splitlines())
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
