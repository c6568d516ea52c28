"""Dates as Kestra's Pebble handles them (``AbstractDate.java``).

Contract:

* :class:`KestraDate` is the date value templates see (``execution.startDate``,
  ``trigger.date``): it prints as Java prints an ``Instant`` (``2024-01-02T03:04:05.123Z``) or a
  zoned date-time, and compares with another date or with an ISO string.
* :func:`format_date` formats with a named format (``iso``, ``sql``, ``iso_date_time``...,
  the styles ``full``/``long``/``medium``/``short`` in the English locale) or a Java
  ``DateTimeFormatter`` pattern; :func:`convert` reads a date, an epoch-second integer or a
  string (ISO zoned, ISO local date-time, ISO date, or ``existingFormat``).
* The default time zone is UTC (Kestra uses the server's zone; Kestra's images run in UTC).
* Errors are :class:`~kestra_git_tasks.errors.TemplateError` naming the pattern or the value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import TemplateError

__all__ = ["KestraDate", "convert", "format_date", "java_string", "zone"]

_NAMED = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSSSSS",
    "sql_seq": "yyyy-MM-dd HH:mm:ss",
    "iso_local_date": "yyyy-MM-dd",
    "iso_date": "yyyy-MM-ddXXX",
    "iso_ordinal_date": "yyyy-DDDXXX",
    "rfc_1123_date_time": "EEE, d MMM yyyy HH:mm:ss Z",
    "full": "EEEE, MMMM d, y 'at' h:mm:ss a zzzz",
    "long": "MMMM d, y 'at' h:mm:ss a z",
    "medium": "MMM d, y, h:mm:ss a",
    "short": "M/d/yy, h:mm a",
}
_ISO_TIME = {  # (date pattern, with the time, offset, zone id)
    "iso_local_date_time": ("yyyy-MM-dd'T'", True, False, False),
    "iso_local_time": ("", True, False, False),
    "iso_offset_time": ("", True, True, False),
    "iso_time": ("", True, True, False),
    "iso_date_time": ("yyyy-MM-dd'T'", True, True, True),
    "iso_zoned_date_time": ("yyyy-MM-dd'T'", True, True, True),
}
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_PATTERN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)


def zone(name: str | None) -> tzinfo:
    """The zone ``timeZone`` names (UTC when None)."""
    if name is None or name in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TemplateError(
            f"unknown timeZone '{name}'; use a zone id such as 'Europe/Paris' or 'UTC'"
        ) from exc


class KestraDate(datetime):
    """A date-time value that prints and compares as a Java temporal does in Kestra."""

    def __str__(self) -> str:
        return java_string(self)

    def _other(self, other: Any) -> Any:
        if isinstance(other, str):
            return convert(other, UTC)
        return other

    def __lt__(self, other: Any) -> bool:
        return datetime.__lt__(self, self._other(other))

    def __le__(self, other: Any) -> bool:
        return datetime.__le__(self, self._other(other))

    def __gt__(self, other: Any) -> bool:
        return datetime.__gt__(self, self._other(other))

    def __ge__(self, other: Any) -> bool:
        return datetime.__ge__(self, self._other(other))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                return datetime.__eq__(self, convert(other, UTC))
            except TemplateError:
                return False
        return datetime.__eq__(self, other)

    __hash__ = datetime.__hash__

    @classmethod
    def of(cls, value: datetime) -> KestraDate:
        """``value`` as a :class:`KestraDate` (a naive value is taken as UTC)."""
        tz = value.tzinfo or UTC
        return cls(*value.timetuple()[:6], value.microsecond, tzinfo=tz)


def _fraction(micro: int) -> str:
    """Java's ``toString`` fraction: nothing, or 3 or 6 digits."""
    if micro == 0:
        return ""
    return f".{micro // 1000:03d}" if micro % 1000 == 0 else f".{micro:06d}"


def java_string(value: datetime | date) -> str:
    """How Kestra prints a date value: ``Instant.toString()`` for UTC, else ISO with offset."""
    if not isinstance(value, datetime):
        return value.isoformat()
    offset = value.utcoffset()
    if value.tzinfo is not None and not offset:  # an Instant: seconds always printed
        return value.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(value.microsecond) + "Z"
    text = value.strftime("%Y-%m-%dT%H:%M")  # LocalDateTime.toString: seconds only when set
    if value.second or value.microsecond:
        text += f":{value.second:02d}" + _fraction(value.microsecond)
    if offset is None:
        return text
    named_zone = getattr(value.tzinfo, "key", None)
    return text + _offset(offset, "XXX") + (f"[{named_zone}]" if named_zone else "")


def convert(value: Any, tz: tzinfo, existing_format: str | None = None) -> datetime:
    """``value`` as an aware date-time in ``tz`` (see the module doc)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, 12, tzinfo=tz)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz)
    if not isinstance(value, str):
        raise TemplateError(f"cannot read {value!r} as a date")
    if existing_format is not None:
        return _parse(value, existing_format, tz)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TemplateError(
            f"Text '{value}' could not be parsed as a date; give its pattern with "
            "existingFormat='...'"
        ) from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def format_date(value: datetime, format: str) -> str:
    """``value`` formatted with a named format or a Java pattern."""
    if format in ("iso_instant",):
        return java_string(value.astimezone(UTC)).replace("+00:00", "Z")
    if format == "iso_week_date":
        year, week, day = value.isocalendar()
        return f"{year}-W{week:02d}-{day}" + _offset(value.utcoffset() or timedelta(0), "XXX")
    if format in _ISO_TIME:
        date_pattern, _time, with_offset, with_zone = _ISO_TIME[format]
        text = _java_format(value, date_pattern) + value.strftime("%H:%M:%S")
        text += _fraction_min(value.microsecond)
        if with_offset:
            text += _offset(value.utcoffset() or timedelta(0), "XXX")
        named_zone = getattr(value.tzinfo, "key", None) or ("UTC" if value.tzinfo is UTC else None)
        return text + (f"[{named_zone}]" if with_zone and named_zone else "")
    elif format == "rfc_1123_date_time":
        offset = value.utcoffset() or timedelta(0)
        return _java_format(value, "EEE, d MMM yyyy HH:mm:ss ") + (
            _offset(offset, "Z") if offset else "GMT"
        )
    else:
        pattern = _NAMED.get(format, format)
    return _java_format(value, pattern)


def _fraction_min(micro: int) -> str:
    return f".{micro:06d}".rstrip("0") if micro else ""


def _offset(offset: timedelta, letters: str) -> str:
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total) // 60, 60)
    if letters[0] == "X" and total == 0:
        return "Z"
    if len(letters) == 1:
        return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
    if len(letters) == 2 or (letters[0] == "Z" and len(letters) <= 3):
        return f"{sign}{hours:02d}{minutes:02d}"
    if letters == "ZZZZ":
        return "GMT" if total == 0 else f"GMT{sign}{hours:02d}:{minutes:02d}"
    return f"{sign}{hours:02d}:{minutes:02d}"


def _java_format(value: datetime, pattern: str) -> str:
    out: list[str] = []
    for match in _PATTERN.finditer(pattern):
        text = match.group()
        if text.startswith("'"):
            out.append(text[1:-1].replace("''", "'") if len(text) > 2 else "'")
        elif match.group(1):
            out.append(_field(value, text))
        elif text not in "[]":
            out.append(text)
    return "".join(out)


def _field(value: datetime, letters: str) -> str:
    letter, count = letters[0], len(letters)
    hour12 = value.hour % 12 or 12
    numbers = {
        "d": value.day,
        "D": value.timetuple().tm_yday,
        "H": value.hour,
        "h": hour12,
        "K": value.hour % 12,
        "k": value.hour or 24,
        "m": value.minute,
        "s": value.second,
        "e": value.isoweekday() % 7 + 1,
        "w": value.isocalendar()[1],
        "Q": (value.month - 1) // 3 + 1,
    }
    if letter in numbers:
        return f"{numbers[letter]:0{count}d}"
    if letter in "yuY":
        year = value.isocalendar()[0] if letter == "Y" else value.year
        return f"{year % 100:02d}" if count == 2 else f"{year:0{count}d}"
    if letter in "ML":
        if count >= 3:
            name = _MONTHS[value.month - 1]
            return name if count == 4 else name[:3] if count == 3 else name[0]
        return f"{value.month:0{count}d}"
    if letter == "E":
        name = _DAYS[value.weekday()]
        return name if count == 4 else name[:3]
    if letter == "a":
        return "AM" if value.hour < 12 else "PM"
    if letter == "S":
        return f"{value.microsecond:06d}{'0' * 3}"[:count].ljust(count, "0")
    if letter == "n":
        return str(value.microsecond * 1000)
    if letter == "G":
        return "AD"
    if letter in "XxZ":
        return _offset(value.utcoffset() or timedelta(0), letters)
    if letter == "O":
        return _offset(value.utcoffset() or timedelta(0), "ZZZZ")
    if letter == "V":
        return str(getattr(value.tzinfo, "key", None) or "UTC")
    if letter == "z":
        return value.tzname() or "UTC"
    raise TemplateError(f"unsupported letter '{letter}' in the date pattern")


_PARSE_FIELDS = {
    "y": r"(?P<year>\d{4})",
    "u": r"(?P<year>\d{4})",
    "M": r"(?P<month>\d{1,2})",
    "MMM": r"(?P<mon>[A-Za-z]{3})",
    "MMMM": r"(?P<mon>[A-Za-z]+)",
    "d": r"(?P<day>\d{1,2})",
    "H": r"(?P<hour>\d{1,2})",
    "h": r"(?P<hour12>\d{1,2})",
    "m": r"(?P<minute>\d{1,2})",
    "s": r"(?P<second>\d{1,2})",
    "S": r"(?P<fraction>\d+)",
    "a": r"(?P<ampm>AM|PM|am|pm)",
    "E": r"[A-Za-z]+",
    "X": r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)",
    "x": r"(?P<offset>[+-]\d{2}(?::?\d{2})?)",
    "Z": r"(?P<offset>[+-]\d{4}|GMT|Z)",
    "V": r"(?P<zone>[A-Za-z_/+-]+)",
    "z": r"(?P<zone>[A-Za-z_/+-]+)",
}


def _parse(text: str, existing_format: str, tz: tzinfo) -> datetime:
    pattern = _NAMED.get(existing_format, existing_format)
    regex: list[str] = []
    for match in _PATTERN.finditer(pattern):
        piece = match.group()
        if piece.startswith("'"):
            regex.append(re.escape(piece[1:-1].replace("''", "'") if len(piece) > 2 else "'"))
        elif match.group(1):
            key = piece if piece in ("MMM", "MMMM") else piece[0]
            regex.append(_PARSE_FIELDS.get(key, r"\S+"))
        else:
            regex.append(re.escape(piece))
    found = re.fullmatch("".join(regex), text.strip())
    if found is None:
        raise TemplateError(f"Text '{text}' could not be parsed with the pattern '{pattern}'")
    return _from_groups(found.groupdict(), tz)


def _from_groups(groups: dict[str, str | None], tz: tzinfo) -> datetime:
    month = int(groups["month"] or 1) if groups.get("month") else 1
    if groups.get("mon"):
        names = [name[:3].lower() for name in _MONTHS]
        month = names.index(str(groups["mon"])[:3].lower()) + 1
    hour = int(groups.get("hour") or 0)
    if groups.get("hour12"):
        hour = int(str(groups["hour12"])) % 12 + (
            12 if str(groups.get("ampm")).upper() == "PM" else 0
        )
    micro = int((str(groups.get("fraction") or "0") + "000000")[:6])
    result = datetime(
        int(groups.get("year") or 1970),
        month,
        int(groups.get("day") or 1),
        hour,
        int(groups.get("minute") or 0),
        int(groups.get("second") or 0),
        micro,
    )
    offset = groups.get("offset")
    if offset:
        if offset in ("Z", "GMT"):
            return result.replace(tzinfo=UTC).astimezone(tz)
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        return result.replace(tzinfo=_fixed(sign * delta)).astimezone(tz)
    if groups.get("zone"):
        return result.replace(tzinfo=zone(groups["zone"])).astimezone(tz)
    return result.replace(tzinfo=tz)


def _fixed(delta: timedelta) -> tzinfo:
    from datetime import timezone

    return timezone(delta)
