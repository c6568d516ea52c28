"""Flow inputs: what a flow declares, and the values an execution gets, checked before it runs.

Each value is validated with a pydantic ``TypeAdapter`` for its input type before any task runs
(the ``defaults`` too, when the flow is checked), and a bad one is refused with Kestra's words::

    Invalid input for `count`, Expected `INT` but received `many`: write a whole number ...
    Invalid input for `env`, it must match the values `[dev, prod]`, but received `test`

Strings (from the command line) become INT, FLOAT, BOOLEAN and JSON values; DATETIME, DATE,
TIME, DURATION, URI and SELECT values are checked and kept as written, as Kestra prints them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from .durations import parse_duration
from .errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BeforeValidator, TypeAdapter

__all__ = [
    "INPUT_TYPES",
    "URI_PATTERN",
    "DeclaresInputs",
    "FlowInput",
    "coerce_inputs",
    "convert_input",
    "input_problem",
]

INPUT_TYPES = frozenset(
    {
        *("STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE"),
        *("TIME", "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML"),
        "EMAIL",
    }
)
#: Kestra's ``FlowInputOutput.URI_PATTERN``.
URI_PATTERN = re.compile(
    r"^[a-z]+://(?:www\.)?[-a-zA-Z0-9@:%._+~#=]{1,256}\.[a-zA-Z0-9()]{1,6}\b"
    r"(?:[-a-zA-Z0-9()@:%_+.~#?&/=]*)$"
)
_CHOICES = frozenset({"SELECT", "ENUM"})
_KEPT_AS_WRITTEN = frozenset({"DATETIME", "DATE", "TIME", "DURATION", "URI"})


@dataclass(frozen=True)
class FlowInput:
    """A declared flow input (``values``: the choices of a SELECT or ENUM input)."""

    id: str
    type: str
    required: bool
    defaults: Any
    description: str | None
    values: tuple[str, ...] | None = None


def _text(pattern: str, advice: str) -> BeforeValidator:
    """Strings must match ``pattern`` whole (pydantic alone accepts more, e.g. timestamps)."""
    from pydantic import BeforeValidator

    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.fullmatch(value.strip()):
            raise ValueError(advice)
        return value.strip() if isinstance(value, str) else value

    return BeforeValidator(check)


def _whole(value: Any) -> Any:
    if isinstance(value, str):
        if not re.fullmatch(r"[-+]?\d{1,10}", value.strip()):
            raise ValueError("write a whole number such as 42")
        return int(value)
    return value


def _boolean(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() not in ("true", "false"):
            raise ValueError("write true or false")
        return value.strip().lower() == "true"
    return value


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _uri(value: Any) -> Any:
    if not isinstance(value, str) or not URI_PATTERN.fullmatch(value):
        raise ValueError("write a URI such as https://kestra.io/docs")
    return value


#: The input types checked by a pydantic type (the others are kept as given).
_CHECKED = frozenset(
    {"INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE", "TIME", "DURATION", "JSON", "ARRAY"}
    | {"MULTISELECT", "URI"}
)


def _type_of(type_name: str) -> Any:
    """The pydantic type checking values of ``type_name`` (one of :data:`_CHECKED`)."""
    from pydantic import AwareDatetime, BeforeValidator, Field, Strict

    int32 = Field(ge=-(2**31), le=2**31 - 1)
    types: dict[str, Any] = {
        "INT": Annotated[int, Strict(), BeforeValidator(_whole), int32],
        "FLOAT": Annotated[float, _text(r"[-+]?[\d.]+(?:[eE][-+]?\d+)?", "write 1.5")],
        "BOOLEAN": Annotated[bool, Strict(), BeforeValidator(_boolean)],
        "DATETIME": Annotated[
            AwareDatetime,
            _text(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[-+]\d{2}:?\d{2})", "write 2024-01-31T12:00:00Z"),
        ],
        "DATE": Annotated[date, _text(r"\d{4}-\d{2}-\d{2}", "write 2024-01-31")],
        "TIME": Annotated[time, _text(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?", "write 13:45:00")],
        "DURATION": Annotated[timedelta, BeforeValidator(_duration)],
        "JSON": Annotated[Any, BeforeValidator(_json)],
        "ARRAY": Annotated[Any, BeforeValidator(_json)],
        "MULTISELECT": Annotated[Any, BeforeValidator(_json)],
        "URI": Annotated[str, BeforeValidator(_uri)],
    }
    types["BOOL"] = types["BOOLEAN"]
    return types[type_name]


@functools.cache
def _adapter(type_name: str) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(_type_of(type_name))


def input_problem(item: FlowInput, value: Any) -> str | None:
    """Kestra's message when ``value`` is not a valid value of ``item``, else None."""
    try:
        convert_input(item, value)
    except ConfigError as exc:
        return exc.message
    return None


def convert_input(item: FlowInput, value: Any) -> Any:
    """``value`` checked (and converted from text) for ``item``; raises :class:`ConfigError`."""
    if item.type in _CHOICES and item.values is not None:
        if str(value) not in item.values:
            choices = "[" + ", ".join(item.values) + "]"
            raise ConfigError(
                f"Invalid input for `{item.id}`, it must match the values `{choices}`, "
                f"but received `{value}`"
            )
        return value
    if item.type not in _CHECKED:
        return value
    from pydantic import ValidationError

    adapter = _adapter(item.type)
    try:
        converted = adapter.validate_python(value)
    except (ValidationError, ValueError) as exc:
        raise ConfigError(_invalid(item, value, _detail(exc))) from exc
    return value if item.type in _KEPT_AS_WRITTEN else converted


def _detail(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return str(exc)


def _invalid(item: FlowInput, value: Any, detail: str) -> str:
    return f"Invalid input for `{item.id}`, Expected `{item.type}` but received `{value}`: {detail}"


class DeclaresInputs(Protocol):
    """What :func:`coerce_inputs` reads of a flow (:class:`~kestra_git_tasks.flow.Flow`)."""

    @property
    def uid(self) -> str: ...

    @property
    def inputs(self) -> Sequence[FlowInput]: ...


def coerce_inputs(flow: DeclaresInputs, given: Mapping[str, Any]) -> dict[str, Any]:
    """Flow inputs from ``given`` (strings from the CLI are converted by type), with defaults."""
    declared = {item.id: item for item in flow.inputs}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise ConfigError(
            f"unknown input(s) {', '.join(unknown)} for flow {flow.uid}; it declares: {names}"
        )
    values: dict[str, Any] = {}
    for item in flow.inputs:
        if item.id in given:
            values[item.id] = convert_input(item, given[item.id])
        elif item.defaults is not None:
            values[item.id] = convert_input(item, item.defaults)
        elif item.required:
            raise ConfigError(
                f"missing required input '{item.id}' for flow {flow.uid}; "
                f"pass it with --input {item.id}=VALUE"
            )
    return values
