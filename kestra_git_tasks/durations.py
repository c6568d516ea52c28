"""ISO-8601 durations, the one parser for task ``timeout`` and ``DURATION`` inputs.

Accepted as Kestra reads them (Java's ``Duration.parse``), plus weeks: an optional sign, ``P``,
then weeks ``W``, days ``D`` and, after ``T``, hours ``H``, minutes ``M`` and seconds ``S`` (the
only unit with a fraction); each number may carry its own sign. Case does not matter. Examples:
``PT30S``, ``PT1H30M``, ``P1DT2H``, ``P1W``, ``PT0.5S``, ``-PT5M``. Years and months have no
fixed length and are refused.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DURATION_EXAMPLES", "parse_duration"]

DURATION_EXAMPLES = "PT30S, PT5M, PT1H30M, P1DT2H or P1W"

_NUMBER = r"([-+]?\d{1,12})"
_ISO = re.compile(
    rf"([-+]?)P(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:([-+]?\d{{1,12}})(?:[.,](\d{{0,9}}))?S)?)?",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` spells; raises ValueError saying how to write one."""
    value = text.strip()
    match = _ISO.fullmatch(value)
    if match is None or value.upper().endswith(("P", "T")):
        raise ValueError(f"'{text}' is not an ISO-8601 duration: write e.g. {DURATION_EXAMPLES}")
    sign, weeks, days, hours, minutes, seconds, fraction = match.groups()
    whole_seconds = int(seconds or 0)
    nanos = int((fraction or "").ljust(9, "0")) if fraction else 0
    if whole_seconds < 0 or (seconds or "").startswith("-"):
        nanos = -nanos  # Java: "PT-0.5S" is minus half a second
    try:
        result = timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=whole_seconds,
            microseconds=nanos / 1000,
        )
    except OverflowError as exc:
        raise ValueError(f"'{text}' is longer than {timedelta.max.days} days") from exc
    return -result if sign == "-" else result
