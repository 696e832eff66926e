"""The databases record tests run on: SQLite always, PostgreSQL when scripts/test.sh (or you)
sets ZHICHENG_TEST_POSTGRES_URL to a server's URL."""

from __future__ import annotations

import os

import pytest

POSTGRES_URL = os.environ.get("ZHICHENG_TEST_POSTGRES_URL")

DATABASE_KINDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="ZHICHENG_TEST_POSTGRES_URL not set"),
    ),
]
