"""Configuration from the environment (DESIGN §3). One place; every other module reads it here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _default_database_url() -> str:
    return f"sqlite+aiosqlite:///{ROOT / 'var' / 'zhicheng.db'}"


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
    smtp_host: str = field(default_factory=lambda: os.environ.get("SMTP_HOST", "localhost"))
    smtp_port: int = field(default_factory=lambda: int(os.environ.get("SMTP_PORT", "25")))
    wechat_api_base: str = field(
        default_factory=lambda: os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
    )


def load_settings() -> Settings:
    return Settings()
