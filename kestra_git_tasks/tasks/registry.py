"""Task type names (and Kestra's older aliases) mapped to task classes.

A task's module is imported the first time its type is resolved, so checking or running a flow
that only logs does not import pygit2 or build every task model.
"""

from __future__ import annotations

import difflib
import functools
import importlib
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ._base import Task

    TASK_CLASSES: tuple[type[Task], ...]  # provided lazily by __getattr__ below

__all__ = ["TASK_CLASSES", "known_task_types", "resolve_task_type", "task_class"]

# type name, "module:Class", older names. The order is the docs' order.
_TASKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("io.kestra.plugin.git.SyncFlows", "git.sync_flows:SyncFlows", ()),
    ("io.kestra.plugin.git.SyncNamespaceFiles", "git.sync_namespace_files:SyncNamespaceFiles", ()),
    ("io.kestra.plugin.git.SyncFlow", "git.sync_flow:SyncFlow", ()),
    ("io.kestra.plugin.git.PushFlows", "git.push_flows:PushFlows", ()),
    ("io.kestra.plugin.git.PushNamespaceFiles", "git.push_namespace_files:PushNamespaceFiles", ()),
    ("io.kestra.plugin.git.Clone", "git.clone:Clone", ()),
    ("io.kestra.plugin.git.NamespaceSync", "git.namespace_sync:NamespaceSync", ()),
    ("io.kestra.plugin.git.TenantSync", "git.tenant_sync:TenantSync", ()),
    ("io.kestra.plugin.git.PushExecutionFiles", "git.push_execution_files:PushExecutionFiles", ()),
    ("io.kestra.plugin.git.SyncDashboards", "git.sync_dashboards:SyncDashboards", ()),
    ("io.kestra.plugin.git.PushDashboards", "git.push_dashboards:PushDashboards", ()),
    ("io.kestra.plugin.git.Sync", "git.sync_legacy:Sync", ()),
    ("io.kestra.plugin.git.Push", "git.push_legacy:Push", ()),
    ("io.kestra.plugin.github.pulls.Create", "github.pulls_create:CreatePullRequest", ()),
    (
        "io.kestra.plugin.core.flow.WorkingDirectory",
        "core.working_directory:WorkingDirectory",
        ("io.kestra.core.tasks.flows.WorkingDirectory",),
    ),
    ("io.kestra.plugin.scripts.shell.Commands", "scripts.commands:ShellCommands", ()),
    ("io.kestra.plugin.scripts.python.Commands", "scripts.commands:PythonCommands", ()),
    ("io.kestra.plugin.core.log.Log", "core.log:Log", ("io.kestra.core.tasks.log.Log",)),
    # Kestra's core flow tasks (tasks/core/flow/)
    (
        "io.kestra.plugin.core.flow.If",
        "core.flow.conditional:If",
        ("io.kestra.core.tasks.flows.If",),
    ),
    (
        "io.kestra.plugin.core.flow.Switch",
        "core.flow.conditional:Switch",
        ("io.kestra.core.tasks.flows.Switch",),
    ),
    ("io.kestra.plugin.core.flow.ForEach", "core.flow.groups:ForEach", ()),
    (
        "io.kestra.plugin.core.flow.Parallel",
        "core.flow.groups:Parallel",
        ("io.kestra.core.tasks.flows.Parallel",),
    ),
    (
        "io.kestra.plugin.core.flow.Sequential",
        "core.flow.groups:Sequential",
        ("io.kestra.core.tasks.flows.Sequential",),
    ),
    (
        "io.kestra.plugin.core.flow.Subflow",
        "core.flow.subflow:Subflow",
        ("io.kestra.core.tasks.flows.Subflow", "io.kestra.core.tasks.flows.Flow"),
    ),
    (
        "io.kestra.plugin.core.execution.Fail",
        "core.flow.values:Fail",
        ("io.kestra.core.tasks.executions.Fail",),
    ),
    ("io.kestra.plugin.core.output.OutputValues", "core.flow.values:OutputValues", ()),
    (
        "io.kestra.plugin.core.debug.Return",
        "core.flow.values:Return",
        ("io.kestra.core.tasks.debugs.Return",),
    ),
    ("io.kestra.plugin.core.flow.Sleep", "core.flow.waits:Sleep", ()),
    (
        "io.kestra.plugin.core.flow.Pause",
        "core.flow.waits:Pause",
        ("io.kestra.core.tasks.flows.Pause",),
    ),
)

_LOCATIONS: dict[str, str] = {}
for _type, _location, _aliases in _TASKS:
    _LOCATIONS[_type] = _location
    for _alias in _aliases:
        _LOCATIONS[_alias] = _location


@functools.cache  # import_module's lookup cost more than a check of a task, once per task
def _load(location: str) -> type[Task]:
    module, _, name = location.partition(":")
    cls: type[Task] = getattr(importlib.import_module(f".{module}", __package__), name)
    return cls


def known_task_types() -> list[str]:
    """Canonical type names, sorted."""
    return sorted(type_name for type_name, _, _ in _TASKS)


def task_class(name: str) -> type[Task] | None:
    """The class for a type name or alias, or None."""
    location = _LOCATIONS.get(name)
    return _load(location) if location else None


def resolve_task_type(name: str) -> type[Task]:
    """The class for ``name``; raises :class:`ConfigError` listing the known types."""
    cls = task_class(name)
    if cls is None:
        close = difflib.get_close_matches(name, list(_LOCATIONS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown task type '{name}'; {hint}known types: {', '.join(known_task_types())}"
        )
    return cls


def __getattr__(name: str) -> Any:
    if name == "TASK_CLASSES":  # every task class, in the docs' order (imports them all)
        return tuple(_load(location) for _, location, _ in _TASKS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
