"""Task type names (and Kestra's older aliases) mapped to task classes."""

from __future__ import annotations

import difflib

from ..errors import ConfigError
from .base import Task
from .clone import Clone
from .commands import PythonCommands, ShellCommands
from .log import Log
from .push_flows import PushFlows
from .push_namespace_files import PushNamespaceFiles
from .sync_flow import SyncFlow
from .sync_flows import SyncFlows
from .sync_namespace_files import SyncNamespaceFiles
from .working_directory import WorkingDirectory

__all__ = ["TASK_CLASSES", "TASK_TYPES", "known_task_types", "resolve_task_type"]

#: Every task class this library implements, in the order the docs list them.
TASK_CLASSES: tuple[type[Task], ...] = (
    SyncFlows,
    SyncNamespaceFiles,
    SyncFlow,
    PushFlows,
    PushNamespaceFiles,
    Clone,
    WorkingDirectory,
    ShellCommands,
    PythonCommands,
    Log,
)

#: Type name or alias -> class.
TASK_TYPES: dict[str, type[Task]] = {}
for _cls in TASK_CLASSES:
    TASK_TYPES[_cls.type] = _cls
    for _alias in _cls.aliases:
        TASK_TYPES[_alias] = _cls


def known_task_types() -> list[str]:
    """Canonical type names, sorted."""
    return sorted(cls.type for cls in TASK_CLASSES)


def resolve_task_type(name: str) -> type[Task]:
    """The class for ``name``; raises :class:`ConfigError` listing the known types."""
    try:
        return TASK_TYPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(TASK_TYPES), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"unknown task type '{name}'; {hint}known types: {', '.join(known_task_types())}"
        ) from None
