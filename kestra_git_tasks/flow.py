"""The flow model: parse flow YAML and check it with Kestra's rules, naming file and line.

:func:`parse_flow` returns a :class:`Flow` or raises :class:`FlowFileError` listing every
problem found (not only the first), each with its file and line. :func:`validate_source` is the
same check returning the problems as text, which is what an instance needs.
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any

from . import flow_sections, validated
from .errors import FlowFileError, FlowProblem
from .flow_model import Flow, TaskSpec, TriggerSpec
from .flow_sections import FlowOutput
from .flow_types import TypeRules, source_warnings
from .flowfile import flow_identity, remember_identity, remember_known_identity, top_level_identity
from .ids import (
    FLOW_ID_MAX,
    FLOW_ID_PATTERN,
    INPUT_ID_PATTERN,
    NAMESPACE_MAX,
    NAMESPACE_PATTERN,
    TASK_ID_PATTERN,
)
from .inputs import INPUT_TYPES, FlowInput, input_problem
from .plugin_defaults import apply_plugin_defaults
from .tasks._base import Task
from .tasks.registry import task_class
from .templating import has_template
from .yamlio import LineDict, line_of, load_yaml, read_flow_text

__all__ = [
    "FLOW_ID_PATTERN",
    "NAMESPACE_PATTERN",
    "Flow",
    "FlowInput",
    "FlowOutput",
    "TaskSpec",
    "TriggerSpec",
    "load_flow_file",
    "parse_flow",
    "read_flow_text",
    "source_warnings",
    "validate_source",
]


TOP_LEVEL_KEYS = frozenset(
    {
        *("id", "namespace", "description", "labels", "inputs", "variables", "outputs"),
        *("tasks", "errors", "finally", "afterExecution", "listeners", "triggers"),
        *("pluginDefaults", "taskDefaults", "concurrency", "retry", "sla", "checks"),
        *("disabled", "revision", "tenantId", "deleted", "workerSelector"),
    }
)


#: Keys under which Kestra's flowable tasks hold child tasks (for plugins we do not implement).
GENERIC_CHILD_KEYS = ("tasks", "errors", "finally", "then", "else")


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[FlowProblem] = []
        self.types = TypeRules(path, self.problems)
        self.task_ids: dict[str, int | None] = {}

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(FlowProblem(self.path, line, message))

    # -- tasks ---------------------------------------------------------------------------------
    def tasks(self, items: Any, where: str, line: int | None) -> list[TaskSpec]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.problem(line, f"'{where}' must be a list of tasks")
            return []
        specs = []
        for index, item in enumerate(items):
            spec = self.task(item, f"{where}[{index}]", line_of(items, index))
            if spec is not None:
                specs.append(spec)
        return specs

    def task(self, raw: Any, where: str, line: int | None) -> TaskSpec | None:
        if not isinstance(raw, dict):
            self.problem(line, f"{where} must be a mapping with 'id' and 'type'")
            return None
        task_id = raw.get("id")
        label = f"task '{task_id}'" if isinstance(task_id, str) else where
        valid_id = self.identifier(raw, "id", TASK_ID_PATTERN, label, "task id")
        if valid_id is not None:
            if valid_id in self.task_ids:
                first = self.task_ids[valid_id]
                self.problem(
                    line_of(raw, "id"),
                    f"Duplicate task id with name [{valid_id}] (first declared at line "
                    f"{first}); task ids must be unique across the whole flow",
                )
            else:
                self.task_ids[valid_id] = line_of(raw, "id")
        type_name = raw.get("type")
        if not isinstance(type_name, str) or not type_name:
            self.problem(line_of(raw, "type") or line, f"{label}: missing 'type'")
            return None
        if "timeout" in raw or "retry" in raw:  # what durations() checks
            self.types.durations(raw, label)
        cls = task_class(type_name)
        if cls is None:
            if self.types.foreign(raw, type_name, "task", label):
                self.unknown_task(raw, type_name, label)
            return None
        if "taskRunner" in raw:  # what task_runner() checks
            self.types.task_runner(raw, label)
        properties = {key: value for key, value in raw.items() if key != "type"}
        flow_sections.normalize_when(raw, properties, label, self.problem)
        for key, message in cls.check_properties(properties):
            self.problem(
                line_of(raw, key) if key else line_of(raw),
                f"{label} ({type_name}): {message}",
            )
        children = self.children(cls, raw, label)
        if valid_id is None:
            return None
        return TaskSpec(valid_id, type_name, cls, properties, line_of(raw), children)

    def children(self, cls: type[Task], raw: dict[str, Any], label: str) -> dict[str, Any]:
        """The child task lists of a flowable task, by key (``cases.<value>`` for a Switch)."""
        if not _has_children(cls):
            return {}
        lists = flow_sections.child_lists(cls, raw)
        return {
            key: self.tasks(items, f"{label}.{key}", line) for key, (items, line) in lists.items()
        }

    def unknown_task(self, raw: dict[str, Any], type_name: str, label: str) -> None:
        """A task of a plugin we do not implement: check what Kestra core checks."""
        self.types.task_runner(raw, label)
        for key in GENERIC_CHILD_KEYS:
            value = raw.get(key)
            if isinstance(value, list) and all(isinstance(item, dict) for item in value):
                self.tasks(value, f"{label}.{key}", line_of(raw, key))
        cases = raw.get("cases")
        if isinstance(cases, dict):
            for case, value in cases.items():
                if isinstance(value, list):
                    self.tasks(value, f"{label}.cases.{case}", line_of(cases, case))

    # -- triggers ------------------------------------------------------------------------------
    def triggers(self, items: Any, line: int | None) -> list[TriggerSpec]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.problem(line, "'triggers' must be a list")
            return []
        from .triggers import TRIGGER_TYPES

        specs: list[TriggerSpec] = []
        seen: dict[str, int | None] = {}
        for index, raw in enumerate(items):
            item_line = line_of(items, index)
            if not isinstance(raw, dict):
                self.problem(item_line, f"triggers[{index}] must be a mapping")
                continue
            trigger_id = raw.get("id")
            label = f"trigger '{trigger_id}'" if isinstance(trigger_id, str) else f"trigger {index}"
            valid_id = self.identifier(raw, "id", TASK_ID_PATTERN, label, "trigger id")
            if valid_id is not None and valid_id in seen:
                self.problem(line_of(raw, "id"), f"Duplicate trigger id with name [{valid_id}]")
            elif valid_id is not None:
                seen[valid_id] = line_of(raw, "id")
            type_name = raw.get("type")
            if not isinstance(type_name, str):
                self.problem(line_of(raw, "type") or item_line, f"{label}: missing 'type'")
                continue
            if "conditions" in raw:  # what conditions() checks
                self.types.conditions(raw["conditions"], label)
            cls = TRIGGER_TYPES.get(type_name)
            if cls is None:
                self.types.foreign(raw, type_name, "trigger", label, runs=False)
                continue
            properties = {key: value for key, value in raw.items() if key != "type"}
            for key, message in _trigger_problems(cls, properties):
                self.problem(
                    line_of(raw, key) if key else item_line, f"{label} ({type_name}): {message}"
                )
            if valid_id is not None:
                specs.append(TriggerSpec(valid_id, type_name, cls, properties, item_line))
        return specs

    # -- inputs and labels ---------------------------------------------------------------------
    def inputs(self, items: Any, line: int | None) -> list[FlowInput]:
        if items is None:
            return []
        if not isinstance(items, list):
            self.problem(line, "'inputs' must be a list")
            return []
        result: list[FlowInput] = []
        for index, raw in enumerate(items):
            if not isinstance(raw, dict):
                self.problem(line_of(items, index), f"inputs[{index}] must be a mapping")
                continue
            input_id = self.identifier(raw, "id", INPUT_ID_PATTERN, f"inputs[{index}]", "input id")
            input_type = str(raw.get("type", "STRING")).upper()
            if input_type not in INPUT_TYPES:
                self.problem(
                    line_of(raw, "type"),
                    f"input '{input_id}': unknown type '{raw.get('type')}'; use one of "
                    + ", ".join(sorted(INPUT_TYPES)),
                )
            if input_id is None:
                continue
            if any(existing.id == input_id for existing in result):
                self.problem(line_of(raw, "id"), f"Duplicate input with name [{input_id}]")
                continue
            item = FlowInput(
                id=input_id,
                type=input_type,
                required=bool(raw.get("required", True)),
                defaults=raw.get("defaults"),
                description=raw.get("description"),
                values=self.input_values(raw, input_id, input_type),
            )
            defaults = item.defaults
            if defaults is not None and not (isinstance(defaults, str) and has_template(defaults)):
                problem = input_problem(item, defaults)
                if problem is not None:
                    self.problem(line_of(raw, "defaults"), f"'defaults': {problem}")
            result.append(item)
        return result

    def input_values(self, raw: dict[str, Any], input_id: str, input_type: str) -> Any:
        """The choices of a SELECT or ENUM input: a non-empty list of plain values."""
        if input_type not in ("SELECT", "ENUM"):
            return None
        values = raw.get("values")
        if (
            not isinstance(values, list)
            or not values
            or any(isinstance(v, (dict, list)) for v in values)
        ):
            self.problem(
                line_of(raw, "values") or line_of(raw),
                f"input '{input_id}' ({input_type}): 'values' must be a non-empty list of values",
            )
            return None
        return tuple(str(value) for value in values)

    def identifier(
        self, raw: dict[str, Any], key: str, pattern: re.Pattern[str], label: str, what: str
    ) -> str | None:
        value = raw.get(key)
        if value is None:
            self.problem(line_of(raw), f"{label}: missing '{key}'")
            return None
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.problem(
                line_of(raw, key),
                f"{label}: invalid {what} {value!r}; it must match {pattern.pattern}",
            )
            return None
        return value


@functools.cache
def _has_children(cls: type[Task]) -> bool:  # if not, flow_sections.child_lists finds none
    return bool(cls.child_task_fields) or getattr(cls, "child_task_lists", None) is not None


#: a trigger's (pure) check by class and mapping of strings, ints, booleans, nulls; bounded
_TRIGGER_PROBLEMS: dict[tuple[Any, ...], list[tuple[str | None, str]]] = {}


def _trigger_problems(cls: Any, properties: dict[str, Any]) -> list[tuple[str | None, str]]:
    """``cls.check_properties(properties)``, remembered (see :data:`_TRIGGER_PROBLEMS`)."""
    values = tuple(properties.values())
    kinds = tuple(map(type, values))
    if not all(kind in (str, int, bool, type(None)) for kind in kinds):  # 0.0 == -0.0
        return list(cls.check_properties(properties))
    key = (cls, tuple(properties), values, kinds)
    problems = _TRIGGER_PROBLEMS.get(key)
    if problems is None:
        if len(_TRIGGER_PROBLEMS) >= 10_000:
            _TRIGGER_PROBLEMS.clear()
        problems = _TRIGGER_PROBLEMS[key] = list(cls.check_properties(properties))
    return problems


def parse_flow(source: str, path: str = "<string>") -> Flow:
    """Parse and check a flow; raise :class:`FlowFileError` listing every problem.

    Types follow the catalog's rules (:mod:`.catalog`): a misspelt ``io.kestra.`` type is a
    problem with the closest name; a Kestra type this library does not run, or a custom
    plugin's, is accepted with Kestra core's checks, left out of the returned flow's tasks and
    listed in :attr:`Flow.server_only` (``run`` refuses it: :meth:`Flow.require_local`).
    """
    document = load_yaml(source, path)
    if not isinstance(document, LineDict):
        raise FlowFileError(
            [FlowProblem(path, line_of(document), "a flow must be a YAML mapping (id, ...)")]
        )
    checker = _Checker(path)
    document = apply_plugin_defaults(document, checker.problem)
    flow_id, namespace, sections = _check_document(checker, document)
    if checker.problems:
        raise FlowFileError(sorted(checker.problems, key=lambda p: p.line or 0))
    assert flow_id is not None and namespace is not None
    return Flow(
        id=flow_id,
        namespace=namespace,
        source=source,
        path=path,
        server_only=checker.types.server_only,
        warnings=checker.types.warnings,
        refused_when_run=checker.types.refused_when_run,
        **sections,
    )


def _check_document(
    checker: _Checker, document: dict[str, Any]
) -> tuple[str | None, str | None, dict[str, Any]]:
    """Every check of a flow's mapping (its ``pluginDefaults`` applied): the problems go to
    ``checker``; the flow's id, namespace and :class:`Flow` keyword arguments."""
    flow_id, namespace = _check_identity(checker, document)
    sections = _check_sections(checker, document)
    flow_sections.recursive_subflows(sections["tasks"], namespace, flow_id, checker.problem)
    return flow_id, namespace, sections


def _check_identity(checker: _Checker, document: dict[str, Any]) -> tuple[str | None, str | None]:
    """Top-level keys, and the flow's ``id`` and ``namespace`` (None when invalid)."""
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(str(key), sorted(TOP_LEVEL_KEYS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            checker.problem(
                line_of(document, key),
                f"Unrecognized field '{key}' at the top level of the flow{hint}",
            )
    flow_id = checker.identifier(document, "id", FLOW_ID_PATTERN, "flow", "flow id")
    if flow_id is not None and len(flow_id) > FLOW_ID_MAX:
        checker.problem(line_of(document, "id"), f"flow id is longer than {FLOW_ID_MAX} characters")
    namespace = checker.identifier(
        document, "namespace", NAMESPACE_PATTERN, "flow", "namespace (lower-case)"
    )
    if namespace is not None and len(namespace) > NAMESPACE_MAX:
        checker.problem(
            line_of(document, "namespace"), f"namespace is longer than {NAMESPACE_MAX} characters"
        )
    return flow_id, namespace


def _check_sections(checker: _Checker, document: dict[str, Any]) -> dict[str, Any]:
    """Everything but the identity, as :class:`Flow` keyword arguments."""
    if not document.get("tasks"):
        checker.problem(
            line_of(document, "tasks") if "tasks" in document else line_of(document),
            "'tasks' must be a non-empty list of tasks",
        )

    sections: dict[str, Any] = {}
    for key, name in (("tasks", "tasks"), ("errors", "errors"), ("finally", "finally_")):
        sections[name] = checker.tasks(document.get(key), key, line_of(document, key))
    after = document.get("afterExecution")  # checked, not kept
    checker.tasks(after, "afterExecution", line_of(document, "afterExecution"))
    sections["triggers"] = checker.triggers(document.get("triggers"), line_of(document, "triggers"))
    sections["inputs"] = checker.inputs(document.get("inputs"), line_of(document, "inputs"))
    for key, check in (
        ("labels", flow_sections.labels),
        ("outputs", flow_sections.check_outputs),
        ("checks", flow_sections.check_checks),
    ):
        sections[key] = check(document.get(key), line_of(document, key), checker.problem)
    variables = document.get("variables") or {}
    if not isinstance(variables, dict):
        checker.problem(line_of(document, "variables"), "'variables' must be a mapping")
        variables = {}
    revision = document.get("revision")
    if revision is not None and (not isinstance(revision, int) or revision < 1):
        checker.problem(line_of(document, "revision"), "'revision' must be an integer >= 1")
    sections.update(
        variables=dict(variables),
        description=document.get("description"),
        revision=revision,
        disabled=bool(document.get("disabled", False)),
    )
    return sections


def load_flow_file(path: str | Path) -> Flow:
    """Read and parse a flow file (see :func:`parse_flow`)."""
    return parse_flow(read_flow_text(path), str(path))


def validate_source(source: str, path: str = "") -> list[str]:
    """Problems of a flow source as text (empty when valid); for instances and sync plans.

    An instance stores flows whatever they run: Kestra types this library does not run and
    custom plugins' are valid (see :func:`source_warnings` for the latter).

    The fast path: a source remembered valid (:mod:`.validated`, while a sync has it open) is
    not parsed; else it is parsed without lines (:func:`~.yamlio.load_yaml` with
    ``lines=False``) and checked; only a flow with problems (or ``pluginDefaults``, merged on
    lines) is parsed again with lines, for messages naming them.
    """
    remembered = validated.active()
    if remembered is not None and source in remembered:
        quick = top_level_identity(source)
        if quick is not None:  # always, for a remembered source (see validated)
            remember_known_identity(source, (quick[0], quick[1]))
            return []
    if _valid_without_lines(source, path):
        if remembered is not None:
            quick = top_level_identity(source)
            if quick is not None and flow_identity(source) == (quick[0], quick[1]):
                remembered.add(source)
        return []
    try:
        parse_flow(source, path)
    except FlowFileError as exc:
        return [str(problem) for problem in exc.problems]
    return []


def _valid_without_lines(source: str, path: str) -> bool:
    """True when the flow is valid, judged on its plain parse; False when it is not or cannot
    be judged that way (the caller then runs :func:`parse_flow`)."""
    try:
        document = load_yaml(source, path, lines=False)
    except FlowFileError:
        return False
    remember_identity(source, document)  # one parse shared with the flow's identity
    if not isinstance(document, dict) or "pluginDefaults" in document:
        return False
    if "taskDefaults" in document:
        return False
    checker = _Checker(path)
    _check_document(checker, document)
    return not checker.problems
