"""Run a flow: parse -> check -> render each task -> validate -> run -> record the execution.

::

    from kestra_git_tasks import run_flow, LocalInstance

    with LocalInstance(home) as instance:
        execution = run_flow("flows/hello.yml", instance=instance, secrets={"X": "..."})
        assert execution.state == "SUCCESS"

Tasks run in order; ``outputs.<taskId>.<name>`` of earlier tasks is visible to later ones. A
task that fails fails the execution (unless it has ``allowFailure: true``); the flow's
``errors`` tasks then run, and its ``finally`` tasks always run. The execution (state, times,
inputs, outputs, logs, error) is recorded in the embedded instance, with every secret value
masked.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .context import FlowInfo, RunContext, default_home, tenant_from
from .errors import KestraGitError, NotFoundError
from .flow import Flow, TaskSpec, load_flow_file, parse_flow, validate_source
from .inputs import coerce_inputs
from .instance.base import ExecutionRecord, Instance, LogRecord
from .instance.local import LocalInstance
from .instance.owners import ProcessOwner
from .progress import ProgressCallback
from .secrets import SecretMasker, SecretStore, env_variables
from .signals import Terminated, sigterm_as_interrupt, sigterm_unhandled
from .taskruns import (
    MAX_SUBFLOW_DEPTH,
    evaluate_checks,
    parents_with,
    record_flow_outputs,
    store_output,
    subflow_runner,
)
from .taskruns import new_taskrun as _new_taskrun

__all__ = ["MAX_SUBFLOW_DEPTH", "coerce_inputs", "load_flow_target", "run_flow"]

_FLOW_REF = re.compile(r"^(?P<namespace>[a-z0-9][a-z0-9._-]*)/(?P<id>[a-zA-Z0-9][a-zA-Z0-9._-]*)$")
_FALSY = {"", "false", "0", "-0", "none", "null"}
_log = logging.getLogger(__name__)


def load_flow_target(target: str | Path | Flow, instance: Instance | None = None) -> Flow:
    """A flow from a file path, or from the instance as ``namespace/id``."""
    if isinstance(target, Flow):
        return target
    path = Path(target)
    if path.exists():
        return load_flow_file(path)
    match = _FLOW_REF.match(str(target))
    if match and instance is not None:
        record = instance.get_flow(match["namespace"], match["id"])
        if record is None:
            raise NotFoundError(
                f"flow {target} not found in the instance; deploy it with "
                "`kestra-git flows deploy FILE` or give the path of a flow file"
            )
        flow = parse_flow(record.source, f"{record.namespace}/{record.id}")
        return _with_revision(flow, record.revision)
    raise NotFoundError(f"no flow file '{target}' (and it is not a namespace/id of a saved flow)")


def _with_revision(flow: Flow, revision: int) -> Flow:
    from dataclasses import replace

    return replace(flow, revision=revision)


@dataclass(frozen=True)
class _Extras:
    """What a caller may add to a run: progress, patches, the trigger, a chosen execution id."""

    progress: ProgressCallback | None = None
    patches: bool = False
    trigger: Mapping[str, Any] | None = None
    execution_id: str | None = None


@dataclass
class _Outcome:
    state: str = "SUCCESS"
    error: str | None = None
    failed_task_id: str | None = None


def run_flow(
    target: str | Path | Flow,
    *,
    instance: LocalInstance | None = None,
    flows: Instance | None = None,
    secrets: Mapping[str, str] | SecretStore | None = None,
    inputs: Mapping[str, Any] | None = None,
    home: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    log_sinks: list[Callable[[LogRecord], None]] | None = None,
    progress: ProgressCallback | None = None,
    patches: bool = False,
    trigger: Mapping[str, Any] | None = None,
    execution_id: str | None = None,
) -> ExecutionRecord:
    """Run a flow once and return its recorded execution.

    Parameters:
        target: a flow file, ``namespace/id`` of a saved flow, or a parsed :class:`Flow`.
        instance: the embedded instance recording the execution (opened in ``home`` if None).
        flows: where tasks read and write flows and files; defaults to ``instance``.
        secrets: explicit secrets (looked up before ``SECRET_*`` variables).
        inputs: flow inputs; strings are converted by the input's type.
        home: the runner's home folder (``KESTRA_GIT_HOME`` or ``~/.kestra-git`` if None).
        environ: environment for ``SECRET_*`` / ``ENV_*`` lookups (``os.environ`` if None).
        log_sinks: callables receiving each (masked) log record as it is written.
        progress: receives the progress of long work (see :mod:`kestra_git_tasks.progress`).
        patches: Git sync and push tasks also write a unified diff of each change
            (``RunContext.patches``).
        trigger: what started the run (``{"id", "type", "variables"}``, as in Kestra): its
            ``variables`` are ``trigger.*`` in templates; it is recorded with the execution.
        execution_id: the id to record the execution under (a new one if None).
    """
    with ExitStack() as stack:
        if sigterm_unhandled():  # SIGTERM ends the run like Ctrl-C (see signals.py)
            stack.enter_context(sigterm_as_interrupt())
        home_path = Path(home) if home is not None else default_home(environ)
        if instance is None:
            instance = stack.enter_context(LocalInstance(home_path, validator=validate_source))
        return _run(
            target,
            instance,
            instance if flows is None else flows,
            home_path,
            secrets,
            inputs,
            environ,
            log_sinks,
            _Extras(progress, patches, trigger, execution_id),
        )


def _run(
    target: str | Path | Flow,
    instance: LocalInstance,
    flows: Instance,
    home_path: Path,
    secrets: Mapping[str, str] | SecretStore | None,
    inputs: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None,
    log_sinks: list[Callable[[LogRecord], None]] | None,
    extras: _Extras,
    depth: int = 0,
) -> ExecutionRecord:
    """:func:`run_flow` once the instance is open: load, record, run, finish."""
    flow = load_flow_target(target, flows)
    flow.require_local()  # Kestra types it does not run, custom plugins: refused before a record
    ctx = _new_context(flow, flows, home_path, secrets, environ)
    ctx.progress, ctx.patches = extras.progress, extras.patches
    if extras.execution_id is not None:
        ctx.execution_id = extras.execution_id
    if extras.trigger is not None:
        ctx.trigger = dict(extras.trigger.get("variables") or {})
    ctx.depth = depth
    ctx.subflow_runner = subflow_runner(
        ctx,
        flows,
        lambda child, values: _run(
            child,
            instance,
            flows,
            home_path,
            ctx.secrets,
            values,
            environ,
            log_sinks,
            _Extras(extras.progress, extras.patches),
            depth + 1,
        ),
    )
    record = ExecutionRecord(
        id=ctx.execution_id,
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=flow.revision,
        state="RUNNING",
        start_date=ctx.start_date,
        trigger=dict(extras.trigger) if extras.trigger is not None else None,
    )
    _start_execution(instance, record)
    flush = _log_to(instance, record, ctx, log_sinks)
    outcome = _execute(flow, ctx, record, dict(inputs or {}), flush, instance)
    _finish(instance, record, ctx, outcome)
    return record


def _execute(
    flow: Flow,
    ctx: RunContext,
    record: ExecutionRecord,
    inputs: dict[str, Any],
    flush: Callable[[], None],
    instance: LocalInstance,
) -> _Outcome:
    """Check the inputs, run the tasks (then ``errors`` on failure, ``finally`` always)."""
    outcome = _Outcome()
    try:
        record.inputs = coerce_inputs(flow, inputs)  # every input is checked before any task
        _register_secret_inputs(flow, record.inputs, ctx.masker)
        ctx.inputs = dict(record.inputs)
        evaluate_checks(flow, ctx)
        _run_tasks(flow.tasks, ctx, outcome, flush)
        if outcome.state == "FAILED" and flow.errors:
            _run_tasks(flow.errors, ctx, _Outcome(), flush)
    except KestraGitError as exc:
        outcome.state, outcome.error = "FAILED", ctx.mask(str(exc))
    except BaseException as exc:
        # A bug or an interrupt: record it, then let it propagate with its traceback.
        outcome.state = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        outcome.error = ctx.mask(_interrupt_error(exc))
        flush()
        _finish(instance, record, ctx, outcome)
        raise
    finally_outcome = _Outcome()
    _run_tasks(flow.finally_, ctx, finally_outcome, flush)
    if finally_outcome.state == "FAILED" and outcome.state != "FAILED":
        outcome = finally_outcome
    record_flow_outputs(flow, ctx, record, outcome)
    flush()
    return outcome


def _new_context(
    flow: Flow,
    flows: Instance,
    home: Path,
    secrets: Mapping[str, str] | SecretStore | None,
    environ: Mapping[str, str] | None,
) -> RunContext:
    """The context of one execution: secrets, variables and the environment it runs with."""
    environ = os.environ if environ is None else environ
    store = (
        secrets
        if isinstance(secrets, SecretStore)
        else SecretStore(secrets, environ=environ, masker=SecretMasker())
    )
    return RunContext(
        flow=FlowInfo(flow.id, flow.namespace, flow.revision),
        instance=flows,
        home=home,
        secrets=store,
        variables=dict(flow.variables),
        labels=dict(flow.labels),
        envs=env_variables(environ),
        environ=dict(environ),
        tenant=tenant_from(environ),
    )


def _log_to(
    instance: LocalInstance,
    record: ExecutionRecord,
    ctx: RunContext,
    log_sinks: list[Callable[[LogRecord], None]] | None,
) -> Callable[[], None]:
    """Send the execution's log lines to ``record`` and ``log_sinks`` as they are written;
    returns ``flush``, which stores the pending ones in the instance.

    Log lines are stored between tasks, never while a task runs: a task may hold a write
    transaction on the same database (a sync's all-or-nothing apply), and its logs must survive
    that transaction's rollback.
    """
    pending: list[LogRecord] = []

    def keep(log: LogRecord) -> None:
        record.logs.append(log)
        pending.append(log)

    def flush() -> None:
        while pending:
            instance.append_log(record.id, pending.pop(0))

    ctx.sinks.extend([keep, *(log_sinks or [])])
    return flush


def _start_execution(instance: LocalInstance, record: ExecutionRecord) -> None:
    """Mark KILLED the executions left RUNNING by dead processes, then record ``record`` and
    this process as its owner, together."""
    for execution_id in instance.mark_dead_executions():
        _log.warning("execution %s was left RUNNING by a dead process: marked KILLED", execution_id)
    with instance.batch():
        instance.create_execution(record)
        instance.set_execution_owner(record.id, ProcessOwner.current())


def _interrupt_error(exc: BaseException) -> str:
    if isinstance(exc, Terminated):
        return "killed: the runner received SIGTERM; running commands were killed"
    if isinstance(exc, KeyboardInterrupt):
        return "killed: the runner was interrupted (Ctrl-C); running commands were killed"
    return f"internal error: {type(exc).__name__}: {exc}"


def _finish(
    instance: LocalInstance, record: ExecutionRecord, ctx: RunContext, outcome: _Outcome
) -> None:
    record.state = outcome.state
    record.error = outcome.error
    record.failed_task_id = outcome.failed_task_id
    record.outputs = ctx.masker.mask_tree(ctx.outputs)
    record.inputs = ctx.masker.mask_tree(record.inputs)
    record.trigger = ctx.masker.mask_tree(record.trigger)
    record.end_date = datetime.now(UTC)
    try:
        instance.update_execution(record)
    finally:
        ctx.close()  # the execution's temporary folders, whatever the outcome


class _ChildFailed(Exception):
    """A child task of a flowable task failed; carries the child's outcome unchanged."""

    def __init__(self, outcome: _Outcome) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


def _run_tasks(
    specs: list[TaskSpec],
    ctx: RunContext,
    outcome: _Outcome,
    flush: Callable[[], None],
    value: str | None = None,
) -> None:
    """Run ``specs`` in order; a failure stops the list and is written into ``outcome``.

    ``flush`` stores the log lines written so far; it is called after each task. A flowable
    task (one with child tasks, like WorkingDirectory or If) runs its children through
    ``ctx.run_children(field)``, which comes back here; ``value`` is then the children's
    ``taskrun.value`` (a ForEach iteration), and their outputs are keyed by it.
    """
    base_path, parent_run = ctx.value_path, ctx.taskrun
    for spec in specs:
        saved_runner = ctx.child_runner
        ctx.task_id, ctx.task_type = spec.id, spec.type_name
        ctx.value_path = base_path if value is None else (*base_path, value)
        try:
            if spec.properties.get("disabled") is True:
                continue
            ctx.taskrun = _new_taskrun(ctx, value, parent_run)
            rendered = ctx.render(spec.properties, skip=frozenset(spec.cls.child_task_fields))
            task = spec.cls.from_properties(rendered)
            if task.run_if is not None and task.run_if.strip().lower() in _FALSY:
                ctx.info(f"runIf/when is {task.run_if!r}: task skipped")
                continue
            child_states: list[str] = []
            ctx.child_runner = _child_runner(spec, ctx, flush, child_states)
            output = task.run(ctx)
            store_output(ctx, spec.id, output.to_dict() if output is not None else {})
            if "WARNING" in child_states and outcome.state == "SUCCESS":
                outcome.state = "WARNING"  # a child failed with allowFailure
        except _ChildFailed as failed:
            if spec.properties.get("allowFailure") is True:
                ctx.log("WARN", f"task '{spec.id}' failed through a child; allowFailure: going on")
                if outcome.state == "SUCCESS":
                    outcome.state = "WARNING"
                continue
            outcome.state = failed.outcome.state
            outcome.error = failed.outcome.error
            outcome.failed_task_id = failed.outcome.failed_task_id
            return
        except KestraGitError as exc:
            exc.task_id, exc.task_type = spec.id, spec.type_name
            message = ctx.mask(f"task '{spec.id}' ({spec.type_name}) failed: {exc}")
            ctx.log("ERROR", message)
            if spec.properties.get("allowFailure") is True:
                if outcome.state == "SUCCESS":
                    outcome.state = "WARNING"
                continue
            outcome.state, outcome.error, outcome.failed_task_id = "FAILED", message, spec.id
            return
        finally:
            ctx.child_runner = saved_runner
            ctx.task_id = ctx.task_type = None
            ctx.value_path, ctx.taskrun = base_path, parent_run
            flush()


def _child_runner(
    spec: TaskSpec, ctx: RunContext, flush: Callable[[], None], states: list[str]
) -> Callable[..., str]:
    def run_children(
        field: str, *, value: str | None = None, outputs: dict[str, Any] | None = None
    ) -> str:
        parent_id, parent_type, parents = ctx.task_id, ctx.task_type, ctx.parents
        ctx.parents = parents_with(ctx, outputs)
        child_outcome = _Outcome()
        try:
            _run_tasks(spec.children.get(field, []), ctx, child_outcome, flush, value)
        finally:
            ctx.task_id, ctx.task_type, ctx.parents = parent_id, parent_type, parents
        states.append(child_outcome.state)
        if child_outcome.state == "FAILED":
            raise _ChildFailed(child_outcome)
        return child_outcome.state

    return run_children


def _register_secret_inputs(flow: Flow, values: Mapping[str, Any], masker: SecretMasker) -> None:
    """Mask the values of ``SECRET`` inputs like ``secret()`` values, from now on."""
    for item in flow.inputs:
        if item.type == "SECRET" and values.get(item.id) is not None:
            masker.add(str(values[item.id]))
