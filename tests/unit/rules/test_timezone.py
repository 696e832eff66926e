from datetime import UTC, date, datetime

import pytest

from rules.timezone import (
    SHANGHAI,
    closing_day,
    shanghai_date,
    shanghai_iso,
    start_of_day,
    to_shanghai,
)


def test_to_shanghai_converts_an_instant_to_plus_eight() -> None:
    converted = to_shanghai(datetime(2025, 9, 29, 16, 30, tzinfo=UTC))
    assert (converted.year, converted.month, converted.day, converted.hour) == (2025, 9, 30, 0)
    assert converted.utcoffset() == SHANGHAI.utcoffset(None)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_shanghai(datetime(2025, 9, 1))


def test_shanghai_iso_carries_the_offset() -> None:
    assert shanghai_iso(datetime(2025, 8, 31, 16, tzinfo=UTC)) == "2025-09-01T00:00:00+08:00"


def test_shanghai_date_is_the_local_date() -> None:
    assert shanghai_date(datetime(2025, 9, 29, 15, 59, tzinfo=UTC)) == date(2025, 9, 29)
    assert shanghai_date(datetime(2025, 9, 29, 16, 0, tzinfo=UTC)) == date(2025, 9, 30)


def test_start_of_day_is_local_midnight() -> None:
    midnight = start_of_day(date(2025, 10, 1))
    assert midnight.isoformat() == "2025-10-01T00:00:00+08:00"
    assert midnight == datetime(2025, 9, 30, 16, tzinfo=UTC)


def test_an_end_at_midnight_closes_the_day_before() -> None:

    assert closing_day(datetime.fromisoformat("2025-09-30T00:00:00+08:00")) == (
        date(2025, 9, 29),
        True,
    )
    assert closing_day(datetime.fromisoformat("2025-09-29T16:00:00Z")) == (date(2025, 9, 29), True)
    assert closing_day(datetime.fromisoformat("2025-10-03T06:00:00Z")) == (date(2025, 10, 3), False)
