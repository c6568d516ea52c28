"""The dates a Schedule trigger fires on (Kestra's cron rules), without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kestra_git_tasks.server.scheduler import cron_iter, next_date
from kestra_git_tasks.triggers import Schedule

START = datetime(2026, 1, 1, 10, 0, 0, tzinfo=UTC)  # a Thursday


def _schedule(**fields: object) -> Schedule:
    return Schedule.model_validate({"id": "s", **fields})


def test_five_fields_are_minute_hour_day_month_weekday() -> None:
    assert next_date(_schedule(cron="*/15 * * * *"), START) == datetime(
        2026, 1, 1, 10, 15, tzinfo=UTC
    )


def test_with_seconds_puts_seconds_first() -> None:
    schedule = _schedule(cron="30 */2 * * * *", withSeconds=True)
    assert next_date(schedule, START) == datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)
    assert next_date(schedule, datetime(2026, 1, 1, 10, 0, 30, tzinfo=UTC)) == datetime(
        2026, 1, 1, 10, 2, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("nickname", "expected"),
    [
        ("@hourly", datetime(2026, 1, 1, 11, tzinfo=UTC)),
        ("@daily", datetime(2026, 1, 2, tzinfo=UTC)),
        ("@midnight", datetime(2026, 1, 2, tzinfo=UTC)),
        ("@weekly", datetime(2026, 1, 4, tzinfo=UTC)),
        ("@monthly", datetime(2026, 2, 1, tzinfo=UTC)),
        ("@yearly", datetime(2027, 1, 1, tzinfo=UTC)),
        ("@annually", datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_nicknames(nickname: str, expected: datetime) -> None:
    assert next_date(_schedule(cron=nickname, timezone="UTC"), START) == expected


def test_day_of_week_seven_is_sunday() -> None:
    moment = next_date(_schedule(cron="0 0 * * 7", timezone="UTC"), START)
    assert moment.weekday() == 6


def test_timezone_is_honoured() -> None:
    moment = next_date(_schedule(cron="0 9 * * *", timezone="Europe/Paris"), START)
    assert moment.astimezone(ZoneInfo("Europe/Paris")).hour == 9
    assert moment.astimezone(UTC) == datetime(2026, 1, 2, 8, tzinfo=UTC)


def test_an_unknown_timezone_is_refused_with_its_name() -> None:
    # the Schedule model refuses it first (as validate does); the cron layer would too
    with pytest.raises(ValueError, match=r"unknown time ?zone 'Mars/Olympus'"):
        cron_iter(_schedule(cron="* * * * *", timezone="Mars/Olympus"), START)
    with pytest.raises(ValueError, match=r"unknown time ?zone"):
        cron_iter(_schedule(cron="* * * * *", timezone="../../etc/passwd"), START)
