"""Task runs as Kestra shapes them: ``taskrun``/``parents`` variables, outputs keyed by loop
value, flow-level ``outputs`` and ``checks``, and the bounds of one execution.

Rules (Kestra's ``RunVariables``, ``Execution.parents`` and ``Execution.outputs``):

* ``taskrun`` holds ``id``, ``startDate``, ``attemptsCount``, ``parentId`` (the enclosing
  flowable task run) and, for a direct child of a ForEach, ``value``: the iteration's value.
* ``parents`` lists the enclosing flowable task runs, closest first, keeping only those with a
  value or outputs (each ``{"taskrun": {"value"}, "outputs"}``); ``parent`` is the first.
* A task inside a loop stores its outputs under its loop values: ``outputs.t[value]``, and
  ``outputs.t[outer][inner]`` in nested loops.
* One execution starts at most :data:`MAX_TASK_RUNS` task runs (nested loops stay bounded).
* Flow ``outputs`` (``- id, type, value``) are rendered when the tasks have ended and checked
  by type like inputs; one that fails to render fails the execution.
* A Subflow runs at most :data:`MAX_SUBFLOW_DEPTH` levels below the execution a user started.
* Flow ``checks`` (``condition``, or 2.0's ``when``) are evaluated once the inputs are known.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, KestraGitError, NotFoundError, TaskFailedError
from .ids import FLOW_ID_PATTERN, NAMESPACE_PATTERN
from .inputs import FlowInput, convert_input
from .tasks.core.flow._flowable import is_truthy

if TYPE_CHECKING:
    from .context import RunContext
    from .flow import Flow
    from .instance.base import ExecutionRecord, Instance

__all__ = [
    "MAX_SUBFLOW_DEPTH",
    "MAX_TASK_RUNS",
    "evaluate_checks",
    "is_truthy",
    "new_taskrun",
    "parents_with",
    "record_flow_outputs",
    "render_flow_outputs",
    "store_output",
    "subflow_runner",
]

#: Most task runs one execution may start (a ForEach in a ForEach multiplies quickly).
MAX_TASK_RUNS = 10_000
#: How many Subflow levels an execution may start below itself.
MAX_SUBFLOW_DEPTH = 10


def new_taskrun(ctx: RunContext, value: str | None, parent: dict[str, Any]) -> dict[str, Any]:
    """The ``taskrun`` variables of a task about to run; counts it against the budget."""
    ctx.task_runs += 1
    if ctx.task_runs > MAX_TASK_RUNS:
        raise ConfigError(
            f"this execution started more than {MAX_TASK_RUNS:,} task runs (loops inside "
            "loops?); split the work with a Subflow per item, or loop over fewer values"
        )
    taskrun: dict[str, Any] = {
        "id": uuid.uuid4().hex[:22],
        "startDate": datetime.now(UTC).isoformat(),
        "attemptsCount": 1,
    }
    if parent.get("id"):
        taskrun["parentId"] = parent["id"]
    if value is not None:
        taskrun["value"] = value
    return taskrun


def parents_with(ctx: RunContext, outputs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``parents`` for the children of the running task: it first, when it has a value or
    outputs, then its own parents."""
    entry: dict[str, Any] = {}
    if ctx.taskrun.get("value") is not None:
        entry["taskrun"] = {"value": ctx.taskrun["value"]}
    if outputs:
        entry["outputs"] = outputs
    return [entry, *ctx.parents] if entry else list(ctx.parents)


def store_output(ctx: RunContext, task_id: str, data: dict[str, Any]) -> None:
    """``outputs.<task_id>``, keyed by the loop values of the running task when it has some."""
    if not ctx.value_path:
        ctx.outputs[task_id] = data
        return
    node = ctx.outputs.get(task_id)
    if not isinstance(node, dict):
        node = ctx.outputs[task_id] = {}
    for value in ctx.value_path[:-1]:
        child = node.get(value)
        node = node.setdefault(value, {}) if not isinstance(child, dict) else child
    node[ctx.value_path[-1]] = data


def render_flow_outputs(flow: Flow, ctx: RunContext) -> dict[str, Any]:
    """The flow's ``outputs``, rendered and checked by type; raises ConfigError."""
    values: dict[str, Any] = {}
    for output in flow.outputs:
        item = FlowInput(output.id, output.type, True, None, None)
        try:
            rendered = ctx.render(output.value, where=f"outputs.{output.id}")
            values[output.id] = convert_input(item, rendered)
        except KestraGitError as exc:
            raise ConfigError(
                f"Failed to render output values: output '{output.id}': {exc}"
            ) from exc
    return values


def evaluate_checks(flow: Flow, ctx: RunContext) -> None:
    """Run the flow's ``checks`` against the inputs: a false one with ``BLOCK_EXECUTION`` or
    ``FAIL_EXECUTION`` raises :class:`TaskFailedError`; ``CREATE_EXECUTION`` logs a warning."""
    for index, check in enumerate(flow.checks):
        condition = check.get("when", check.get("condition"))
        rendered = ctx.render(condition, where=f"checks[{index}].when")
        if is_truthy(rendered):
            continue
        message = str(ctx.render(check.get("message", ""), where=f"checks[{index}].message"))
        behavior = str(check.get("behavior", "BLOCK_EXECUTION")).upper()
        if behavior == "CREATE_EXECUTION":
            ctx.warn(f"check failed: {message}")
            continue
        raise TaskFailedError(f"check failed ({behavior}): {message}")


def record_flow_outputs(flow: Flow, ctx: RunContext, record: ExecutionRecord, outcome: Any) -> None:
    """The flow's ``outputs`` once its tasks ended (not after a failure), masked, on
    ``record``; a value that fails to render fails the execution (``outcome``), as in Kestra."""
    if not flow.outputs or outcome.state == "FAILED":
        return
    try:
        values = render_flow_outputs(flow, ctx)
    except KestraGitError as exc:
        message = ctx.mask(str(exc))
        ctx.log("ERROR", message)
        outcome.state, outcome.error = "FAILED", message
        return
    record.flow_outputs = _masked(values, ctx)


def _masked(value: Any, ctx: RunContext) -> Any:
    if isinstance(value, dict):
        return {key: _masked(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, ctx) for item in value]
    return ctx.mask(value) if isinstance(value, str) else value


def subflow_runner(
    ctx: RunContext,
    flows: Instance,
    run_child: Callable[[Flow, Mapping[str, Any]], ExecutionRecord],
) -> Callable[..., dict[str, Any]]:
    """``ctx.run_subflow``: the latest revision of a flow of ``flows``, run by ``run_child``
    as its own execution, refused past :data:`MAX_SUBFLOW_DEPTH` levels."""
    from .flow import parse_flow

    def run_subflow(
        namespace: str, flow_id: str, *, inputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        if ctx.depth >= MAX_SUBFLOW_DEPTH:
            raise ConfigError(
                f"subflow {namespace}/{flow_id} refused: subflows are nested "
                f"{MAX_SUBFLOW_DEPTH} deep (a flow calling itself?); a subflow may run at "
                f"most {MAX_SUBFLOW_DEPTH} levels below the execution a user started"
            )
        if not NAMESPACE_PATTERN.fullmatch(namespace) or not FLOW_ID_PATTERN.fullmatch(flow_id):
            raise ConfigError(
                f"subflow {namespace!r}/{flow_id!r}: not a valid namespace and flow id (they "
                f"must match {NAMESPACE_PATTERN.pattern} and {FLOW_ID_PATTERN.pattern})"
            )
        saved = flows.get_flow(namespace, flow_id)
        if saved is None:
            raise NotFoundError(
                f"subflow {namespace}/{flow_id} not found in the instance; deploy it first "
                "(`kestra-git flows deploy FILE`, or a SyncFlows task before this one)"
            )
        flow = parse_flow(saved.source, f"{namespace}/{flow_id}")
        child = run_child(replace(flow, revision=saved.revision), inputs or {})
        return {
            "executionId": child.id,
            "state": child.state,
            "outputs": child.flow_outputs,
            "error": child.error,
        }

    return run_subflow
