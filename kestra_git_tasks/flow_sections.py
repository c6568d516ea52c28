"""Flow sections checked with Kestra's rules: ``outputs``, ``checks``, task ``when``/``runIf``,
and subflows calling their own flow.

* ``outputs`` (Kestra 0.15+): a list of ``{id, type, value}`` (``description``,
  ``displayName`` optional); ids follow the input id rule and are unique
  (``Duplicate output with name [x]``); ``type`` is one of the input types.
* ``checks`` (Kestra 1.x): ``{condition, message, style, behavior}``; Kestra 2.0 renames
  ``condition`` to ``when`` and keeps ``condition`` as an alias: either is accepted, not both.
* A task's ``when`` (Kestra 2.0) is its ``runIf`` (1.x): either is accepted, not both.
* A Subflow naming its own flow (without templates) is refused: ``Recursive call to flow``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .ids import INPUT_ID_PATTERN
from .inputs import INPUT_TYPES
from .yamlio import line_of

__all__ = [
    "FlowOutput",
    "check_checks",
    "check_outputs",
    "child_lists",
    "labels",
    "normalize_when",
    "recursive_subflows",
]

Problem = Callable[[int | None, str], None]

_OUTPUT_KEYS = frozenset({"id", "type", "value", "description", "displayName", "required"})
_CHECK_KEYS = frozenset({"condition", "when", "message", "style", "behavior"})
_STYLES = ("ERROR", "SUCCESS", "WARNING", "INFO")
_BEHAVIORS = ("BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION")
_SUBFLOW_TYPES = frozenset(
    {
        "io.kestra.plugin.core.flow.Subflow",
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    }
)


@dataclass(frozen=True)
class FlowOutput:
    """One of the flow's ``outputs``: rendered when the execution's tasks have ended."""

    id: str
    type: str
    value: Any
    line: int | None = None


def check_outputs(raw: Any, line: int | None, problem: Problem) -> list[FlowOutput]:
    """The flow's ``outputs``, every problem reported with its line."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problem(line, "'outputs' must be a list of {id, type, value}")
        return []
    result: list[FlowOutput] = []
    for index, item in enumerate(raw):
        item_line = line_of(raw, index)
        if not isinstance(item, dict):
            problem(item_line, f"outputs[{index}] must be a mapping with id, type and value")
            continue
        for key in item:
            if key not in _OUTPUT_KEYS:
                problem(line_of(item, key), f"outputs[{index}]: unknown property '{key}'")
        output_id, output_type = item.get("id"), str(item.get("type", "")).upper()
        if not isinstance(output_id, str) or not INPUT_ID_PATTERN.fullmatch(output_id):
            problem(
                line_of(item, "id") if "id" in item else item_line,
                f"outputs[{index}]: invalid output id {output_id!r}; it must match "
                f"{INPUT_ID_PATTERN.pattern}",
            )
            continue
        if output_type not in INPUT_TYPES:
            problem(
                line_of(item, "type") if "type" in item else item_line,
                f"output '{output_id}': 'type' must be one of {', '.join(sorted(INPUT_TYPES))}",
            )
        if item.get("value") is None:
            problem(item_line, f"output '{output_id}': missing 'value'")
        if any(existing.id == output_id for existing in result):
            problem(line_of(item, "id"), f"Duplicate output with name [{output_id}]")
            continue
        result.append(FlowOutput(output_id, output_type, item.get("value"), item_line))
    return result


def check_checks(raw: Any, line: int | None, problem: Problem) -> list[dict[str, Any]]:
    """The flow's ``checks``, with ``when`` (2.0) or ``condition`` (1.x)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        problem(line, "'checks' must be a list of {when, message, style, behavior}")
        return []
    result: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        where, item_line = f"checks[{index}]", line_of(raw, index)
        if not isinstance(item, dict):
            problem(item_line, f"{where} must be a mapping with 'when' and 'message'")
            continue
        for key in item:
            if key not in _CHECK_KEYS:
                problem(line_of(item, key), f"{where}: unknown property '{key}'")
        if "when" in item and "condition" in item:
            problem(
                line_of(item, "condition"),
                f"{where}: give 'when' (Kestra 2.0) or 'condition' (its 1.x name), not both",
            )
        elif item.get("when", item.get("condition")) is None:
            problem(item_line, f"{where}: missing 'when' (or its 1.x name 'condition')")
        if item.get("message") is None:
            problem(item_line, f"{where}: missing 'message'")
        for key, allowed in (("style", _STYLES), ("behavior", _BEHAVIORS)):
            if key in item and str(item[key]).upper() not in allowed:
                problem(line_of(item, key), f"{where}: '{key}' must be one of {', '.join(allowed)}")
        result.append(dict(item))
    return result


def normalize_when(
    raw: dict[str, Any], properties: dict[str, Any], label: str, problem: Problem
) -> None:
    """A task's ``when`` becomes ``runIf`` in ``properties`` (they are the same property); a
    YAML boolean becomes its text, as Kestra's JSON mapper reads it into a string."""
    if "when" in raw:
        if "runIf" in raw or "run_if" in raw:
            problem(
                line_of(raw, "when"),
                f"{label}: give 'when' (Kestra 2.0) or 'runIf' (its 1.x name), not both",
            )
        properties.pop("when", None)
        properties["runIf"] = raw["when"]
    if isinstance(properties.get("runIf"), bool):
        properties["runIf"] = "true" if properties["runIf"] else "false"


def recursive_subflows(
    tasks: list[Any], namespace: str | None, flow_id: str | None, problem: Problem
) -> None:
    """Kestra's ``Recursive call to flow [ns.id]``: a Subflow naming its own flow literally."""
    for spec in tasks:
        props = spec.properties
        if (
            spec.type_name in _SUBFLOW_TYPES
            and props.get("namespace") == namespace
            and props.get("flowId") == flow_id
        ):
            problem(
                spec.line,
                f"task '{spec.id}': Recursive call to flow [{namespace}.{flow_id}]; a flow "
                "cannot call itself as a subflow",
            )
        for children in spec.children.values():
            recursive_subflows(children, namespace, flow_id, problem)


def child_lists(cls: Any, raw: dict[str, Any]) -> dict[str, tuple[Any, int | None]]:
    """A flowable task's child task lists with their lines, by key (a Switch's cases are
    ``cases.<value>``, through its ``child_task_lists``)."""
    lists_of = getattr(cls, "child_task_lists", None)
    lists: dict[str, Any] = (
        lists_of(raw)
        if lists_of is not None
        else {key: raw[key] for key in cls.child_task_fields if key in raw}
    )
    result: dict[str, tuple[Any, int | None]] = {}
    for key, items in lists.items():
        top, _, sub = key.partition(".")
        result[key] = (items, line_of(raw.get(top), sub) if sub else line_of(raw, key))
    return result


def labels(raw: Any, line: int | None, problem: Problem) -> dict[str, Any]:
    """A flow's ``labels`` (a map, or a list of ``{key, value}``); ``system.*`` is Kestra's own."""
    if raw is None:
        return {}
    pairs: list[tuple[Any, Any, int | None]] = []
    if isinstance(raw, dict):
        pairs = [(key, value, line_of(raw, key)) for key, value in raw.items()]
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or "key" not in item:
                problem(line_of(raw, index), "each label must be {key: ..., value: ...}")
                continue
            pairs.append((item["key"], item.get("value"), line_of(raw, index)))
    else:
        problem(line, "'labels' must be a map or a list of {key, value}")
    labels: dict[str, Any] = {}
    for key, value, key_line in pairs:
        if str(key).startswith("system.") and key != "system.readOnly":
            problem(
                key_line,
                f"System labels can only be set by Kestra itself, offending label: {key}={value}",
            )
        labels[str(key)] = value
    return labels
