"""Kestra's date filters and ``now()`` (``DateFilter``, ``DateAddFilter``, ``Timestamp*Filter``,
``NowFunction``), with Kestra's argument names (``format``, ``timeZone``, ``existingFormat``,
``locale``).

Contract: each takes what Kestra's takes and returns what Kestra prints (a formatted string, or
an integer for the timestamps); wrong input raises
:class:`~kestra_git_tasks.errors.TemplateError` (through :mod:`.dates`). ``locale`` is accepted
and ignored: names are English, as on Kestra's default locale.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ..errors import TemplateError
from . import dates

__all__ = ["DATE_FILTERS", "now"]

_UNITS = {
    "NANOS": timedelta(microseconds=0.001),
    "MICROS": timedelta(microseconds=1),
    "MILLIS": timedelta(milliseconds=1),
    "SECONDS": timedelta(seconds=1),
    "MINUTES": timedelta(minutes=1),
    "HOURS": timedelta(hours=1),
    "HALF_DAYS": timedelta(hours=12),
}
_CALENDAR_DAYS = {"DAYS": 1, "WEEKS": 7}
_CALENDAR_MONTHS = {"MONTHS": 1, "YEARS": 12, "DECADES": 120, "CENTURIES": 1200}


# -- dates ------------------------------------------------------------------------------------


def _date(
    value: Any,
    format: str = "iso",
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    if value is None:
        return None
    tz = dates.zone(timeZone)
    return dates.format_date(dates.convert(value, tz, existingFormat), format)


def _date_add(
    value: Any,
    amount: int,
    unit: str,
    format: str = "iso",
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> str | None:
    if value is None:
        return None
    tz = dates.zone(timeZone)
    moment = dates.convert(value, tz, existingFormat)
    unit = str(unit).upper()
    if unit in _UNITS:
        moment = (moment + _UNITS[unit] * int(amount)).astimezone(tz)
    elif unit in _CALENDAR_DAYS:
        local = moment.replace(tzinfo=None) + timedelta(days=_CALENDAR_DAYS[unit] * int(amount))
        moment = local.replace(tzinfo=tz)
    elif unit in _CALENDAR_MONTHS:
        months = moment.year * 12 + moment.month - 1 + _CALENDAR_MONTHS[unit] * int(amount)
        year, month = divmod(months, 12)
        day = min(moment.day, _days_in_month(year, month + 1))
        moment = moment.replace(year=year, month=month + 1, day=day)
    else:
        raise TemplateError(
            f"dateAdd: unknown unit '{unit}'; use a java.time.temporal.ChronoUnit name "
            f"({', '.join([*_UNITS, *_CALENDAR_DAYS, *_CALENDAR_MONTHS])})"
        )
    return dates.format_date(moment, format)


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _timestamp(value: Any, timeZone: str | None = None, existingFormat: str | None = None) -> int:
    return int(dates.convert(value, dates.zone(timeZone), existingFormat).timestamp())


def _timestamp_nano(
    value: Any,
    timeZone: str | None = None,
    existingFormat: str | None = None,
) -> int:
    moment = dates.convert(value, dates.zone(timeZone), existingFormat)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


def _timestamp_micro(
    value: Any,
    timeZone: str | None = None,
    existingFormat: str | None = None,
) -> int:
    # Kestra's TimestampMicroFilter adds nanos/1000 to epoch seconds * 10^9: kept as Kestra does.
    moment = dates.convert(value, dates.zone(timeZone), existingFormat)
    return int(moment.timestamp()) * 10**9 + moment.microsecond


def now(
    format: str = "iso",
    timeZone: str | None = None,
    locale: str | None = None,
) -> str:
    tz = dates.zone(timeZone)
    return dates.format_date(datetime.now(tz), format)


DATE_FILTERS: dict[str, Any] = {
    "date": _date,
    "dateAdd": _date_add,
    "timestamp": _timestamp,
    "timestampMilli": lambda v, timeZone=None: _timestamp_nano(v, timeZone) // 10**6,
    "timestampMicro": _timestamp_micro,
    "timestampNano": _timestamp_nano,
}
