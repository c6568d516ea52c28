"""RunContext: everything a running task may use, and nothing global.

A task receives a :class:`RunContext` in ``run(ctx)``. Through it the task logs (secrets masked),
finds the instance holding flows and files, the execution's output folder, its working
directory, and the template variables of the execution.

From Python, build one with :meth:`RunContext.create`::

    with RunContext.create(instance=LocalInstance(home), secrets={"GITHUB_TOKEN": "..."}) as ctx:
        SyncFlows(id="sync", url=..., target_namespace="prod").run(ctx)

Leaving the ``with`` block (or calling :meth:`RunContext.close`) removes the temporary folders
tasks made with :meth:`RunContext.temporary_directory`, such as a Clone's outside a
``WorkingDirectory``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ConfigError, SecretNotFoundError
from .home import default_home
from .instance.base import Instance, LogRecord
from .pebble.runtime import run_functions
from .progress import ProgressCallback, ProgressEvent
from .secrets import SecretMasker, SecretStore, env_variables
from .templating import Renderer

__all__ = ["TENANT_ENV", "FlowInfo", "RunContext", "default_home", "tenant_from"]

LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40}

_logger = logging.getLogger("kestra_git_tasks.execution")
# A library does not print by itself: applications configure logging (the CLI prints through
# its own sink).
logging.getLogger("kestra_git_tasks").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class FlowInfo:
    """Identity of the flow being run (``flow.*`` in templates)."""

    id: str
    namespace: str
    revision: int | None = None


LogSink = Callable[[LogRecord], None]

#: The environment variable naming the Kestra tenant of ``kestraUrl`` tasks (``main`` if unset,
#: no tenant in URLs if empty).
TENANT_ENV = "KESTRA_TENANT"


def tenant_from(environ: Mapping[str, str]) -> str | None:
    """The Kestra tenant an environment names: ``main`` unless ``KESTRA_TENANT`` says otherwise,
    None (no tenant segment in URLs) when it is set empty."""
    return environ.get(TENANT_ENV, "main") or None


@dataclass
class RunContext:
    """What a task sees while it runs."""

    flow: FlowInfo
    instance: Instance | None
    home: Path
    secrets: SecretStore
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    start_date: datetime = field(default_factory=lambda: datetime.now(UTC))
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)
    #: The environment the execution was created with: commands get it (less ``SECRET_*``);
    #: tasks never read ``os.environ`` themselves.
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    #: Kestra tenant of ``kestraUrl`` tasks (see :func:`tenant_from`).
    tenant: str | None = "main"
    working_dir: Path | None = None
    task_id: str | None = None
    task_type: str | None = None
    sinks: list[LogSink] = field(default_factory=list)
    renderer: Renderer = field(default_factory=Renderer)
    #: Set by the runner while a flowable task runs: ``run_children("tasks")`` runs that
    #: property's child tasks in order and returns their state (SUCCESS or WARNING).
    child_runner: Callable[..., str] | None = None
    #: Set by the runner: runs another flow as its own execution (see :meth:`run_subflow`).
    subflow_runner: Callable[..., dict[str, Any]] | None = None
    #: ``taskrun.*`` of the running task (``id``, ``startDate``, ``value`` inside a ForEach...).
    taskrun: dict[str, Any] = field(default_factory=dict)
    #: The enclosing flowable task runs, closest first (``parents`` / ``parent`` in templates).
    parents: list[dict[str, Any]] = field(default_factory=list)
    #: ``item`` of the enclosing Loop iterations, closest first (``item`` in templates).
    loop_items: list[dict[str, Any]] = field(default_factory=list)
    #: Loop values of the running task and its parents: its outputs are keyed by them.
    value_path: tuple[str, ...] = ()
    #: How deep in Subflow calls this execution is (0: started by a user or a trigger).
    depth: int = 0
    #: Task runs started so far in this execution (bounded by the runner).
    task_runs: int = 0
    #: Receives the progress of long work (fetch, plan, apply, push); see
    #: :mod:`kestra_git_tasks.progress`. None: nobody is watching.
    progress: ProgressCallback | None = None
    #: When true, Git sync and push tasks also write a unified diff of each changed flow or
    #: file beside their diff file (``<taskId>-<rows>.patch`` in :attr:`output_dir`).
    patches: bool = False
    _cleanups: list[Path] = field(default_factory=list, init=False, repr=False)

    def run_children(
        self,
        field_name: str = "tasks",
        *,
        value: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> str:
        """Run the running task's child tasks of ``field_name`` (flowable tasks only).

        ``value`` is the children's ``taskrun.value`` (a ForEach iteration: their outputs are
        then keyed by it); ``outputs`` are the running task's outputs the children see as
        ``parent.outputs``. Returns SUCCESS or WARNING; a failed child raises.
        """
        if self.child_runner is None:
            raise ConfigError(
                f"task '{self.task_id}' has child tasks, which only run inside a flow run"
            )
        return self.child_runner(field_name, value=value, outputs=outputs)

    def run_subflow(self, namespace: str, flow_id: str, **options: Any) -> dict[str, Any]:
        """Run the flow ``namespace/flow_id`` of the instance as its own execution; returns
        ``{"executionId", "state", "outputs"}`` (options: ``inputs``, ``revision``, ``labels``)."""
        if self.subflow_runner is None:
            raise ConfigError(
                f"task '{self.task_id}' runs a subflow, which only runs inside a flow run"
            )
        return self.subflow_runner(namespace, flow_id, **options)

    @classmethod
    def create(
        cls,
        *,
        instance: Instance | None = None,
        secrets: Mapping[str, str] | SecretStore | None = None,
        flow_id: str = "python",
        namespace: str = "company.team",
        home: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> RunContext:
        """A context for calling tasks from Python, outside any flow file."""
        store = (
            secrets if isinstance(secrets, SecretStore) else SecretStore(secrets, environ=environ)
        )
        environ = dict(os.environ if environ is None else environ)
        return cls(
            flow=FlowInfo(flow_id, namespace),
            instance=instance,
            home=Path(home) if home is not None else default_home(environ),
            secrets=store,
            envs=env_variables(environ),
            environ=environ,
            tenant=tenant_from(environ),
        )

    # -- secrets and masking -------------------------------------------------------------------
    @property
    def masker(self) -> SecretMasker:
        """The masker holding every secret value rendered in this execution."""
        return self.secrets.masker

    def mask(self, text: str) -> str:
        """``text`` with every secret value seen so far replaced by ``******``."""
        return self.masker.mask(text)

    # -- logging -------------------------------------------------------------------------------
    def log(self, level: str, message: str) -> None:
        """Log a line of this execution (masked), attributed to the running task."""
        level = level.upper()
        record = LogRecord(
            timestamp=datetime.now(UTC),
            level=level,
            message=self.mask(str(message)),
            task_id=self.task_id,
        )
        _logger.log(LEVELS.get(level, 20), "[%s] %s", record.task_id or "-", record.message)
        for sink in self.sinks:
            sink(record)

    def info(self, message: str) -> None:
        """Log at INFO."""
        self.log("INFO", message)

    def warn(self, message: str) -> None:
        """Log at WARN."""
        self.log("WARN", message)

    # -- progress ------------------------------------------------------------------------------
    def progress_callback(self) -> ProgressCallback | None:
        """:attr:`progress` with each event tagged with the running task's id (None when
        nobody is watching); hand it to the Git layer."""
        watcher, task_id = self.progress, self.task_id
        if watcher is None:
            return None
        return lambda event: watcher(replace(event, task_id=task_id))

    def report(self, phase: str, done: int, total: int) -> None:
        """Tell :attr:`progress` (if any) how far ``phase`` of the running task is."""
        if self.progress is not None:
            self.progress(ProgressEvent(phase, done, total, task_id=self.task_id))

    # -- templates -----------------------------------------------------------------------------
    def template_variables(self) -> dict[str, Any]:
        """The variables templates see (SPEC section 4)."""
        return {
            "flow": {
                "id": self.flow.id,
                "namespace": self.flow.namespace,
                "revision": self.flow.revision,
                "tenantId": "main",
            },
            "execution": {"id": self.execution_id, "startDate": self.start_date.isoformat()},
            "task": {"id": self.task_id, "type": self.task_type},
            **self._taskrun_variables(),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "vars": self.variables,
            "labels": self.labels,
            "trigger": self.trigger,
            "envs": self.envs,
            "secret": self._secret_function,
            **run_functions(self),
            "workingDir": str(self.working_dir) if self.working_dir else None,
        }

    def _taskrun_variables(self) -> dict[str, Any]:
        """``taskrun``, ``parents`` and ``parent`` (the closest parent), as Kestra names them."""
        variables: dict[str, Any] = {"taskrun": self.taskrun, "parents": self.parents}
        if self.parents:
            variables["parent"] = self.parents[0]
        if self.loop_items:
            variables["item"] = self.loop_items[0]
        return variables

    def render(self, value: Any, *, where: str = "", skip: frozenset[str] = frozenset()) -> Any:
        """Render every template inside ``value`` against this context."""
        return self.renderer.render_tree(value, self.template_variables(), where=where, skip=skip)

    def _secret_function(
        self, key: str, namespace: str | None = None, subkey: str | None = None
    ) -> str:
        value = self.secrets.get(str(key))
        if subkey is None:
            return value
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"Failed to read secret sub-key '{subkey}' in secret '{key}'. Ensure the "
                "secret contains valid JSON value."
            ) from exc
        if not isinstance(data, dict) or subkey not in data:
            raise SecretNotFoundError(
                f"Cannot find secret sub-key '{subkey}' in secret '{key}'.", name=str(key)
            )
        result = str(data[subkey])
        self.masker.add(result)
        return result

    # -- folders -------------------------------------------------------------------------------
    @property
    def output_dir(self) -> Path:
        """Folder for this execution's files (diff files...); created on first use."""
        folder = self.home / "executions" / self.execution_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def temp_dir(self, prefix: str = "task-") -> Path:
        """A fresh temporary folder for the running task (the task removes it)."""
        return Path(tempfile.mkdtemp(prefix=prefix))

    def temporary_directory(self, prefix: str = "task-") -> Path:
        """A fresh temporary folder removed by :meth:`close`, when the execution ends whatever
        its outcome (the runner closes its context); later tasks may still read it."""
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._cleanups.append(folder)
        return folder

    def close(self) -> None:
        """Remove the folders made by :meth:`temporary_directory`. Safe to call twice."""
        while self._cleanups:
            shutil.rmtree(self._cleanups.pop(), ignore_errors=True)

    def __enter__(self) -> RunContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def require_instance(self) -> Instance:
        """The instance, or a clear error when the context has none."""
        if self.instance is None:
            raise ConfigError(
                f"task '{self.task_id}' needs an instance (embedded or Kestra server); "
                "pass instance= to RunContext.create()"
            )
        return self.instance
