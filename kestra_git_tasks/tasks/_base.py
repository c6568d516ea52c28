"""Base classes of every task, and the checks a flow file gets before anything runs.

A task is a pydantic model whose fields are the task's properties: snake_case in Python,
camelCase in YAML (``git_directory`` / ``gitDirectory``). The runner renders a task's raw
mapping once and then calls :meth:`Task.from_properties`; inside :meth:`Task.run` every value
is typed and final.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import types
import typing
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUserError,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ..errors import ConfigError
from ..templating import has_template

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = [
    "Output",
    "Task",
    "format_validation_error",
    "secret_value",
    "typed_output",
    "unknown_property_message",
]


class Output(BaseModel):
    """Outputs of a task; each task nests its own ``Output`` subclass."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready outputs with Kestra's camelCase names (``outputs.<taskId>.<name>``)."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data


class Task(BaseModel):
    """A task of a flow. Subclasses set ``type`` and implement :meth:`run`.

    Fields common to every Kestra task (``id``, ``description``, ``disabled``,
    ``allowFailure``...) are declared here.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        defer_build=True,
    )

    #: Kestra's fully qualified type name, e.g. ``io.kestra.plugin.git.SyncFlows``.
    type: ClassVar[str] = ""
    #: Older type names that resolve to this class.
    aliases: ClassVar[tuple[str, ...]] = ()
    #: Properties holding child tasks (rendered only when those children run).
    child_task_fields: ClassVar[tuple[str, ...]] = ()

    id: str = Field(
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$",
        description="Identifier of the task, unique in the flow.",
    )
    description: str | None = Field(default=None, description="Free text about the task.")
    disabled: bool = Field(default=False, description="When true the task does not run.")
    allow_failure: bool = Field(
        default=False,
        description="When true a failure of this task sets the execution to WARNING and the "
        "flow goes on.",
    )
    allow_warning: bool = Field(default=False, description="Accepted for Kestra parity.")
    log_level: str | None = Field(default=None, description="Accepted for Kestra parity.")
    log_to_file: bool = Field(default=False, description="Accepted for Kestra parity.")
    retry: dict[str, Any] | None = Field(default=None, description="Accepted for Kestra parity.")
    timeout: str | None = Field(
        default=None, description="ISO-8601 duration; honoured by tasks that run commands."
    )
    run_if: str | None = Field(
        default=None,
        description="Rendered before the task runs; a false value (`false`, `0`, empty) "
        "skips the task.",
    )
    worker_group: dict[str, Any] | None = Field(
        default=None, description="Accepted for Kestra parity (EE)."
    )
    version: str | None = Field(default=None, description="Accepted for Kestra parity.")

    @model_validator(mode="before")
    @classmethod
    def _parse_json_collections(cls, data: Any) -> Any:
        """A rendered ``{{ some_list }}`` arrives as JSON text; turn it back into a list/map."""
        if not isinstance(data, dict):
            return data
        fixed = dict(data)
        for name, field in cls.model_fields.items():
            for key in (field.alias, name):
                value = fixed.get(key) if key else None
                if isinstance(value, str) and _expects_collection(field.annotation):
                    text = value.strip()
                    if text[:1] in ("[", "{"):
                        with contextlib.suppress(json.JSONDecodeError):
                            fixed[key] = json.loads(text)
        return fixed

    # -- construction --------------------------------------------------------------------------
    def __init__(self, /, **data: Any) -> None:
        """Build a task from Python: a bad property is a :class:`ConfigError`, worded as the
        flow check words it (``unknown property 'x'; did you mean 'y'?``)."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            message = format_validation_error(exc, data.get("id", "?"), type(self))
            raise ConfigError(message) from exc

    @classmethod
    def from_properties(cls, properties: dict[str, Any]) -> Task:
        """Validate a rendered mapping (YAML names, without ``type``) into a task."""
        try:
            return cls.model_validate(properties)
        except ValidationError as exc:
            task_id = properties.get("id", "?")
            raise ConfigError(format_validation_error(exc, task_id, cls)) from exc

    @classmethod
    def check_properties(cls, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Static checks before rendering: unknown, missing and wrongly typed properties.

        Returns ``(yaml key or None, message)`` pairs. Values holding a template are not
        type-checked: their type is only known once rendered.
        """
        if _no_property_problem(cls, properties):  # the usual answer, found with less work
            return []
        return _property_problems(cls, properties)

    # -- running -------------------------------------------------------------------------------
    def run(self, ctx: RunContext) -> Output | None:
        """Run the task; return its outputs (None when it has none)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement run()")


OutputT = TypeVar("OutputT", bound=Output)


def typed_output(output: object, cls: type[OutputT]) -> OutputT:
    """``output`` typed as the task's own ``Output`` class (anything else is a bug).

    A task whose ``run`` comes from a shared base class overrides it with
    ``return typed_output(super().run(ctx), MyTask.Output)``, so that ``MyTask(...).run(ctx)``
    is typed with ``MyTask.Output`` and its fields.
    """
    if not isinstance(output, cls):
        raise TypeError(f"expected a {cls.__qualname__}, got {type(output).__qualname__}")
    return output


def secret_value(value: SecretStr | None) -> str | None:
    """The plain value of an optional secret field."""
    return value.get_secret_value() if value is not None else None


def unknown_property_message(cls: type[Task], key: Any) -> str:
    """``unknown property 'x'``, with the closest known YAML name as a hint when there is one."""
    close = difflib.get_close_matches(str(key), list(_yaml_names(cls)), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown property '{key}'{hint}"


def format_validation_error(exc: ValidationError, task_id: Any, cls: type[Task]) -> str:
    """One line naming each bad property and what is wrong with it (the flow check's words)."""
    parts = []
    for error in exc.errors():
        loc = ".".join(str(item) for item in error["loc"]) or "(task)"
        if error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
            parts.append(unknown_property_message(cls, loc))
        elif error["type"] == "extra_forbidden":
            parts.append(f"unknown property '{loc}'")
        elif error["type"] == "missing":
            parts.append(f"missing required property '{loc}'")
        else:
            parts.append(f"property '{loc}': {error['msg']}")
    return f"task '{task_id}' ({cls.type}): " + "; ".join(parts)


def _contains_template(value: Any) -> bool:
    if isinstance(value, str):
        return has_template(value)
    if isinstance(value, dict):
        return any(_contains_template(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_template(item) for item in value)
    return False


def _expects_collection(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, dict, tuple, set):
        return True
    if origin in (Union, types.UnionType):
        return any(_expects_collection(arg) for arg in get_args(annotation))
    if origin is typing.Annotated:
        return _expects_collection(get_args(annotation)[0])
    return annotation in (list, dict)


@cache
def _yaml_names(cls: type[Task]) -> dict[str, str]:
    """YAML name -> field name, for every field (snake_case names are accepted too)."""
    names: dict[str, str] = {}
    for name, field in cls.model_fields.items():
        names[field.alias or name] = name
        names.setdefault(name, name)
    return names


@cache
def _field_rules(cls: type[Task]) -> tuple[tuple[str, str, bool], ...]:
    """``(yaml name, field name, required under this name)`` for each name of
    :func:`_yaml_names`, read once per class (pydantic's ``model_fields`` is slow to reach)."""
    fields = cls.model_fields
    return tuple(
        (yaml_name, name, fields[name].is_required() and yaml_name == (fields[name].alias or name))
        for yaml_name, name in _yaml_names(cls).items()
    )


def _property_problems(cls: type[Task], properties: dict[str, Any]) -> list[tuple[str | None, str]]:
    """:meth:`Task.check_properties`, every problem in order."""
    problems: list[tuple[str | None, str]] = []
    known = _yaml_names(cls)
    for key in properties:
        if key == "type" or key in known:
            continue
        problems.append((key, unknown_property_message(cls, key)))
    for yaml_name, name, required in _field_rules(cls):
        present = yaml_name in properties or (name != yaml_name and name in properties)
        if not present:
            if required:
                problems.append((None, f"missing required property '{yaml_name}'"))
            continue
        if name in cls.child_task_fields or name == "id":  # ids: checked by the flow
            continue
        value = properties.get(yaml_name, properties.get(name))
        if _contains_template(value):
            continue
        try:
            _adapter(cls, name).validate_python(value)
        except ValidationError as exc:
            detail = exc.errors()[0]["msg"]
            problems.append((yaml_name, f"property '{yaml_name}': {detail}"))
    return problems


@cache
def _property_rules(
    cls: type[Task],
) -> tuple[frozenset[str], tuple[tuple[str, str], ...], dict[str, str]]:
    """What :meth:`Task.check_properties` checks, read once per class: the known names, the
    ``(YAML name, field name)`` of each required field, and the field of each name whose value
    is type-checked (not ``id``, not child tasks)."""
    names = _yaml_names(cls)
    required = tuple((yaml_name, name) for yaml_name, name, needed in _field_rules(cls) if needed)
    typed = {
        key: name
        for key, name in names.items()
        if name not in cls.child_task_fields and name != "id"
    }
    return frozenset(names), required, typed


#: ``(class, field, type, value)`` of values found valid (the check is pure): strings,
#: integers, booleans and nulls (no floats: 0.0 equals -0.0, not its text); bounded
_VALID_SCALARS: set[tuple[Any, ...]] = set()
_SCALARS = (str, int, bool, type(None))


def _no_property_problem(cls: type[Task], properties: dict[str, Any]) -> bool:
    """Whether :meth:`Task.check_properties` finds nothing: every key known, every required
    field given, every value not holding a template of the type of its field."""
    known, required, typed = _property_rules(cls)
    for key in properties:
        if key not in known and key != "type":
            return False
    for yaml_name, name in required:
        if yaml_name not in properties and name not in properties:
            return False
    for key, value in properties.items():
        field = typed.get(key)
        if field is None or _contains_template(value):
            continue
        scalar = type(value) in _SCALARS
        if scalar and (cls, field, type(value), value) in _VALID_SCALARS:
            continue
        try:
            _adapter(cls, field).validate_python(value)
        except ValidationError:
            return False
        if scalar:
            if len(_VALID_SCALARS) >= 10_000:
                _VALID_SCALARS.clear()
            _VALID_SCALARS.add((cls, field, type(value), value))
    return True


@cache
def _adapter(cls: type[Task], name: str) -> TypeAdapter[Any]:
    field = cls.model_fields[name]
    annotation: Any = field.annotation
    if field.metadata:
        annotation = typing.Annotated[(annotation, *field.metadata)]
    try:
        return TypeAdapter(annotation, config=ConfigDict(coerce_numbers_to_str=True))
    except PydanticUserError:  # a model type carries its own config
        return TypeAdapter(annotation)
