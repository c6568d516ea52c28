"""The flow model's records: :class:`Flow` and the :class:`TaskSpec` / :class:`TriggerSpec` it
holds, as :func:`~kestra_git_tasks.flow.parse_flow` returns them (``flow`` re-exports them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, FlowProblem

if TYPE_CHECKING:
    from .flow_sections import FlowOutput
    from .inputs import FlowInput
    from .tasks._base import Task
    from .triggers import Trigger

__all__ = ["Flow", "TaskSpec", "TriggerSpec"]


@dataclass(frozen=True)
class TaskSpec:
    """A task as declared in the flow: its class, raw properties and children."""

    id: str
    type_name: str
    cls: type[Task]
    properties: dict[str, Any]
    line: int | None
    children: dict[str, list[TaskSpec]] = field(default_factory=dict)


@dataclass(frozen=True)
class TriggerSpec:
    """A trigger as declared in the flow."""

    id: str
    type_name: str
    cls: type[Trigger]
    properties: dict[str, Any]
    line: int | None


@dataclass(frozen=True)
class Flow:
    """A parsed, checked flow."""

    id: str
    namespace: str
    source: str
    path: str
    tasks: list[TaskSpec]
    errors: list[TaskSpec] = field(default_factory=list)
    finally_: list[TaskSpec] = field(default_factory=list)
    triggers: list[TriggerSpec] = field(default_factory=list)
    inputs: list[FlowInput] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    revision: int | None = None
    disabled: bool = False
    outputs: list[FlowOutput] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    #: what ``run`` refuses here: Kestra types it does not run, custom plugins, task runners
    server_only: list[FlowProblem] = field(default_factory=list)
    #: what is accepted but not checked (types of custom plugins)
    warnings: list[FlowProblem] = field(default_factory=list)
    #: what a task refuses when it runs here (a Docker task runner)
    refused_when_run: list[FlowProblem] = field(default_factory=list)

    def require_local(self) -> None:
        """Raise :class:`ConfigError` naming each task that runs on a Kestra server only."""
        if self.server_only:
            raise ConfigError(
                "; ".join(str(problem) for problem in self.server_only)
                + ". Deploy the flow to Kestra (kestra-git flows deploy --server URL FILE) "
                "to run it there"
            )

    @property
    def uid(self) -> str:
        """``namespace/id``, how the CLI names a flow."""
        return f"{self.namespace}/{self.id}"
