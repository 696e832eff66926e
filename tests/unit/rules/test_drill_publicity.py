"""The drill setting the benchmark relies on (bench/run.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from rules.publicity import round_publicity_ends_at
from tests.helpers.declaration_support import round_around

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_a_drill_publicity_lasts_seconds() -> None:
    drill = round_around(NOW, drill_publicity_seconds=3)
    assert round_publicity_ends_at(drill, NOW) == NOW + timedelta(seconds=3)


def test_without_the_knob_working_days_count() -> None:
    ends = round_publicity_ends_at(round_around(NOW), NOW)
    assert ends - NOW > timedelta(days=5)


def test_the_knob_is_positive() -> None:
    with pytest.raises(ValidationError):
        round_around(NOW, drill_publicity_seconds=0)
