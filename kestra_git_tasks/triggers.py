"""Trigger models: ``Schedule`` (cron) and ``Webhook`` (key).

They are validated with the flow; ``kestra-git run`` runs a flow once, whatever its triggers.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .errors import ConfigError

__all__ = ["TRIGGER_TYPES", "Schedule", "Trigger", "Webhook", "resolve_trigger_type"]

#: what Java's ZoneId reads besides region names: Z, offsets, and UTC/GMT/UT with an offset
_OFFSET = re.compile(
    r"Z|(?:UTC|GMT|UT)(?:[+-]\d{1,2}(?::?\d{2}){0,2})?|[+-]\d{1,2}(?::?\d{2}){0,2}", re.IGNORECASE
)
_NICKNAMES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


class Trigger(BaseModel):
    """Fields common to every trigger."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", defer_build=True
    )

    type: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    description: str | None = None
    disabled: bool = False
    conditions: list[dict[str, Any]] | None = None
    labels: dict[str, Any] | list[dict[str, Any]] | None = None
    stop_after: list[str] | None = None
    log_level: str | None = None
    log_to_file: bool = False
    worker_group: dict[str, Any] | None = None

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Problems found in a trigger's YAML mapping (without its ``type``)."""
        data = {key: value for key, value in properties.items() if key != "type"}
        try:
            cls.model_validate(data)
        except ValidationError as exc:
            problems: list[tuple[str | None, str]] = []
            for error in exc.errors():
                key = str(error["loc"][0]) if error["loc"] else None
                if error["type"] == "extra_forbidden":
                    problems.append((key, f"unknown property '{key}'"))
                elif error["type"] == "missing":
                    problems.append((None, f"missing required property '{key}'"))
                else:
                    message = error["msg"].removeprefix("Value error, ")
                    problems.append((key, f"property '{key}': {message}"))
            return problems
        return []


class Schedule(Trigger):
    """Start the flow on a cron schedule (5 fields, or 6 with ``withSeconds``)."""

    type: ClassVar[str] = "io.kestra.plugin.core.trigger.Schedule"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.models.triggers.types.Schedule",)

    cron: str
    with_seconds: bool = False
    timezone: str | None = None
    inputs: dict[str, Any] | None = None
    late_maximum_delay: str | None = None
    recover_missed_schedules: str | None = None
    schedule_conditions: list[dict[str, Any]] | None = None
    backfill: dict[str, Any] | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        expression = value.strip()
        if expression.lower() in _NICKNAMES:
            return value
        fields = expression.split()
        if len(fields) not in (5, 6) or not _cron_is_valid(expression):
            raise ValueError(
                f"invalid cron expression '{value}': expected 5 fields "
                "(minute hour day-of-month month day-of-week) or a nickname such as @daily"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None or _OFFSET.fullmatch(value):
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"unknown time zone '{value}': use an IANA name such as Europe/Paris or "
                f"an offset such as +02:00{hint}"
            ) from None
        return value


class Webhook(Trigger):
    """Start the flow when a request reaches its webhook URL with the right key."""

    type: ClassVar[str] = "io.kestra.plugin.core.trigger.Webhook"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.core.models.triggers.types.Webhook",)

    key: str = Field(max_length=256)
    wait: bool = False
    return_outputs: bool = False
    response_content_type: str | None = None

    @field_validator("key")
    @classmethod
    def _key_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the webhook key must not be blank")
        return value


@functools.lru_cache(maxsize=1024)
def _cron_is_valid(expression: str) -> bool:
    from croniter import croniter  # imported on the first cron checked

    return bool(croniter.is_valid(expression))


TRIGGER_TYPES: dict[str, type[Trigger]] = {}
for _cls in (Schedule, Webhook):
    TRIGGER_TYPES[_cls.type] = _cls
    for _alias in _cls.aliases:
        TRIGGER_TYPES[_alias] = _cls


def resolve_trigger_type(name: str) -> type[Trigger]:
    """The trigger class of ``name``; raises ConfigError listing the known types."""
    try:
        return TRIGGER_TYPES[name]
    except KeyError:
        known = ", ".join(sorted(cls.type for cls in set(TRIGGER_TYPES.values())))
        raise ConfigError(f"unknown trigger type '{name}'; known types: {known}") from None
