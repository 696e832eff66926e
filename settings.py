"""Configuration from the environment (DESIGN §3). One place; every other module reads it here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{ROOT / 'var' / 'zhicheng.db'}"


SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def _smtp_port() -> int:
    """SMTP_PORT, else the usual port of SMTP_SECURITY (25 / 587 / 465)."""
    if os.environ.get("SMTP_PORT"):
        return int(os.environ["SMTP_PORT"])
    return SMTP_DEFAULT_PORTS.get(os.environ.get("SMTP_SECURITY", "starttls").lower(), 587)


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class Settings:
    temporal_address: str = field(
        default_factory=lambda: os.environ.get("TEMPORAL_ADDRESS", "localhost:7233")
    )
    temporal_namespace: str = field(
        default_factory=lambda: os.environ.get("TEMPORAL_NAMESPACE", "default")
    )
    task_queue: str = field(
        default_factory=lambda: os.environ.get("ZHICHENG_TASK_QUEUE", "zhicheng")
    )
    database_url: str = field(
        default_factory=lambda: os.environ.get("DATABASE_URL") or _default_database_url()
    )
    calendar_overrides: Path = field(
        default_factory=lambda: Path(
            os.environ.get(
                "ZHICHENG_CALENDAR_OVERRIDES", ROOT / "config" / "calendar_overrides.json"
            )
        )
    )
    # config/rounds/{year}.json: a round's configuration when it departs from the notice's pattern
    rounds_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("ZHICHENG_ROUNDS_DIR", ROOT / "config" / "rounds")
        )
    )
    # Keys the applicant pseudonym in workflow ids (rules.identity.applicant_key). Set a long
    # random value in production and keep it: changing it changes every applicant's id.
    applicant_key_secret: str = field(
        default_factory=lambda: os.environ.get(
            "ZHICHENG_APPLICANT_KEY_SECRET", "zhicheng-development-only"
        )
    )
    # --- delivery (activities/delivery.py; README "Delivery: SMTP and WeChat") ---
    # E-mail is on when SMTP_HOST and SMTP_FROM are set; WeChat when WECHAT_APP_ID and
    # WECHAT_APP_SECRET are. With neither, messages wait in the outbox as `pending`.
    smtp_host: str = field(default_factory=lambda: os.environ.get("SMTP_HOST", ""))
    # none (plain, e.g. a local relay), starttls (upgrade on connect), tls (implicit TLS)
    smtp_security: str = field(
        default_factory=lambda: os.environ.get("SMTP_SECURITY", "starttls").strip().lower()
    )
    smtp_port: int = field(default_factory=lambda: _smtp_port())
    smtp_username: str = field(default_factory=lambda: os.environ.get("SMTP_USERNAME", ""))
    smtp_password: str = field(
        default_factory=lambda: os.environ.get("SMTP_PASSWORD", ""), repr=False
    )
    smtp_from: str = field(default_factory=lambda: os.environ.get("SMTP_FROM", ""))
    smtp_from_name: str = field(
        default_factory=lambda: os.environ.get("SMTP_FROM_NAME", "新疆专业技术人员管理平台")
    )
    smtp_timeout: float = field(default_factory=lambda: _float("SMTP_TIMEOUT", 30))
    wechat_api_base: str = field(
        default_factory=lambda: os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
    )
    wechat_app_id: str = field(default_factory=lambda: os.environ.get("WECHAT_APP_ID", ""))
    wechat_app_secret: str = field(
        default_factory=lambda: os.environ.get("WECHAT_APP_SECRET", ""), repr=False
    )
    # event -> template id and field mapping; E.164 mobile -> openid (re-read when changed)
    wechat_templates: Path = field(
        default_factory=lambda: Path(
            os.environ.get("WECHAT_TEMPLATES", ROOT / "config" / "wechat_templates.json")
        )
    )
    wechat_bindings: Path = field(
        default_factory=lambda: Path(
            os.environ.get("WECHAT_BINDINGS", ROOT / "config" / "wechat_bindings.json")
        )
    )
    wechat_timeout: float = field(default_factory=lambda: _float("WECHAT_TIMEOUT", 15))
    # WeChat drops a second message with the same openid + client_msg_id for 10 minutes: a
    # send whose outcome is unknown is resent only within this window (margin included).
    wechat_dedup_window: float = field(
        default_factory=lambda: _float("WECHAT_DEDUP_WINDOW_SECONDS", 540)
    )
    # Retries of a temporary failure: exponential backoff from the first interval to the
    # maximum, each attempt limited to the attempt timeout; after give-up-hours it fails.
    delivery_retry_seconds: float = field(
        default_factory=lambda: _float("ZHICHENG_DELIVERY_RETRY_SECONDS", 10)
    )
    delivery_retry_max_seconds: float = field(
        default_factory=lambda: _float("ZHICHENG_DELIVERY_RETRY_MAX_SECONDS", 600)
    )
    delivery_attempt_timeout: float = field(
        default_factory=lambda: _float("ZHICHENG_DELIVERY_ATTEMPT_TIMEOUT", 60)
    )
    delivery_give_up_hours: float = field(
        default_factory=lambda: _float("ZHICHENG_DELIVERY_GIVE_UP_HOURS", 24)
    )

    # --- documents (activities/publish.py; README "Documents and the approval PDF") ---
    # The publication store: published PDFs and HTML, index.html and feed.json.
    publication_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("ZHICHENG_PUBLICATION_DIR", ROOT / "var" / "publication")
        )
    )
    # Licensed fonts dropped in here replace the Noto CJK defaults by role: title.* (小标宋),
    # body.* (仿宋), heading.* (黑体), kai.* (楷体); .ttf, .otf, .ttc or .otc.
    font_dir: Path | None = field(
        default_factory=lambda: (
            Path(os.environ["ZHICHENG_FONT_DIR"]) if os.environ.get("ZHICHENG_FONT_DIR") else None
        )
    )
    # R21: the issuing authority (red header, signature, seal) and its document-number prefix.
    issuing_authority: str = field(
        default_factory=lambda: os.environ.get(
            "ZHICHENG_ISSUING_AUTHORITY", "甘泉堡经济技术开发区（工业区）组织和人力资源部"
        )
    )
    document_number_prefix: str = field(
        default_factory=lambda: os.environ.get("ZHICHENG_DOCUMENT_NUMBER_PREFIX", "甘经开人社")
    )
    # Who takes questions and objections, as the notice names them (section 8).
    document_contact: str = field(
        default_factory=lambda: os.environ.get(
            "ZHICHENG_DOCUMENT_CONTACT",
            "甘泉堡经济技术开发区（工业区）人力资源服务中心，联系人：李世辉，电话：0991—7706810",
        )
    )


def load_settings() -> Settings:
    return Settings()
