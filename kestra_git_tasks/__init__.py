"""kestra-git-tasks: Kestra's Git patterns as Python tasks, with a local runner.

Import tasks and helpers from here; other modules are internal::

    from kestra_git_tasks import LocalInstance, run_flow

``_LAZY`` is the one list of public names: ``__all__`` is derived from it, and the
``TYPE_CHECKING`` block repeats it for type checkers (a test keeps the two equal).
``__version__`` is the installed distribution's version (pyproject.toml holds it), read on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562): `kestra-git --help` and a script importing one
# task do not pay for pygit2, httpx and every task model.
_LAZY: dict[str, str] = {
    "Clone": ".tasks.git.clone",
    "CreatePullRequest": ".tasks.github.pulls_create",
    "ConfigError": ".errors",
    "ExecutionRecord": ".instance.base",
    "FileRecord": ".instance.base",
    "Flow": ".flow",
    "FlowFileError": ".errors",
    "FlowInfo": ".context",
    "FlowProblem": ".errors",
    "FlowRecord": ".instance.base",
    "FlowValidationError": ".errors",
    "GitAuthError": ".errors",
    "GitDirectoryNotFoundError": ".errors",
    "GitError": ".errors",
    "GitNetworkError": ".errors",
    "GitRefNotFoundError": ".errors",
    "Instance": ".instance.base",
    "InstanceError": ".errors",
    "KestraApiError": ".errors",
    "KestraAuthError": ".errors",
    "KestraGitError": ".errors",
    "KestraInstance": ".instance.kestra",
    "LocalInstance": ".instance.local",
    "Log": ".tasks.core.log",
    "LogRecord": ".instance.base",
    "NamespaceSync": ".tasks.git.namespace_sync",
    "NotFoundError": ".errors",
    "Output": ".tasks._base",
    "Push": ".tasks.git.push_legacy",
    "PushDashboards": ".tasks.git.push_dashboards",
    "PushExecutionFiles": ".tasks.git.push_execution_files",
    "PushFlows": ".tasks.git.push_flows",
    "PushNamespaceFiles": ".tasks.git.push_namespace_files",
    "PushRejectedError": ".errors",
    "PythonCommands": ".tasks.scripts.commands",
    "RunContext": ".context",
    "SecretNotFoundError": ".errors",
    "SecretStore": ".secrets",
    "ShellCommands": ".tasks.scripts.commands",
    "ShellScript": ".tasks.scripts.script",
    "PythonScript": ".tasks.scripts.script",
    "Sync": ".tasks.git.sync_legacy",
    "SyncDashboards": ".tasks.git.sync_dashboards",
    "SyncFlow": ".tasks.git.sync_flow",
    "SyncFlows": ".tasks.git.sync_flows",
    "SyncNamespaceFiles": ".tasks.git.sync_namespace_files",
    "Task": ".tasks._base",
    "TaskFailedError": ".errors",
    "TemplateError": ".errors",
    "TenantSync": ".tasks.git.tenant_sync",
    "WorkingDirectory": ".tasks.core.working_directory",
    "If": ".tasks.core.flow.conditional",
    "Switch": ".tasks.core.flow.conditional",
    "ForEach": ".tasks.core.flow.groups",
    "Loop": ".tasks.core.flow.groups",
    "Parallel": ".tasks.core.flow.groups",
    "Sequential": ".tasks.core.flow.groups",
    "Subflow": ".tasks.core.flow.subflow",
    "Fail": ".tasks.core.flow.values",
    "OutputValues": ".tasks.core.flow.values",
    "Return": ".tasks.core.flow.values",
    "Sleep": ".tasks.core.flow.waits",
    "Pause": ".tasks.core.flow.waits",
    "load_flow_file": ".flow",
    "parse_flow": ".flow",
    "run_flow": ".runner",
    "validate_source": ".flow",
}

if TYPE_CHECKING:
    # The same names again, for type checkers (`X as X`: an explicit re-export).
    from .context import FlowInfo as FlowInfo
    from .context import RunContext as RunContext
    from .errors import ConfigError as ConfigError
    from .errors import FlowFileError as FlowFileError
    from .errors import FlowProblem as FlowProblem
    from .errors import FlowValidationError as FlowValidationError
    from .errors import GitAuthError as GitAuthError
    from .errors import GitDirectoryNotFoundError as GitDirectoryNotFoundError
    from .errors import GitError as GitError
    from .errors import GitNetworkError as GitNetworkError
    from .errors import GitRefNotFoundError as GitRefNotFoundError
    from .errors import InstanceError as InstanceError
    from .errors import KestraApiError as KestraApiError
    from .errors import KestraAuthError as KestraAuthError
    from .errors import KestraGitError as KestraGitError
    from .errors import NotFoundError as NotFoundError
    from .errors import PushRejectedError as PushRejectedError
    from .errors import SecretNotFoundError as SecretNotFoundError
    from .errors import TaskFailedError as TaskFailedError
    from .errors import TemplateError as TemplateError
    from .flow import Flow as Flow
    from .flow import load_flow_file as load_flow_file
    from .flow import parse_flow as parse_flow
    from .flow import validate_source as validate_source
    from .instance.base import ExecutionRecord as ExecutionRecord
    from .instance.base import FileRecord as FileRecord
    from .instance.base import FlowRecord as FlowRecord
    from .instance.base import Instance as Instance
    from .instance.base import LogRecord as LogRecord
    from .instance.kestra import KestraInstance as KestraInstance
    from .instance.local import LocalInstance as LocalInstance
    from .runner import run_flow as run_flow
    from .secrets import SecretStore as SecretStore
    from .tasks._base import Output as Output
    from .tasks._base import Task as Task
    from .tasks.core.flow.conditional import If as If
    from .tasks.core.flow.conditional import Switch as Switch
    from .tasks.core.flow.groups import ForEach as ForEach
    from .tasks.core.flow.groups import Loop as Loop
    from .tasks.core.flow.groups import Parallel as Parallel
    from .tasks.core.flow.groups import Sequential as Sequential
    from .tasks.core.flow.subflow import Subflow as Subflow
    from .tasks.core.flow.values import Fail as Fail
    from .tasks.core.flow.values import OutputValues as OutputValues
    from .tasks.core.flow.values import Return as Return
    from .tasks.core.flow.waits import Pause as Pause
    from .tasks.core.flow.waits import Sleep as Sleep
    from .tasks.core.log import Log as Log
    from .tasks.core.working_directory import WorkingDirectory as WorkingDirectory
    from .tasks.git.clone import Clone as Clone
    from .tasks.git.namespace_sync import NamespaceSync as NamespaceSync
    from .tasks.git.push_dashboards import PushDashboards as PushDashboards
    from .tasks.git.push_execution_files import PushExecutionFiles as PushExecutionFiles
    from .tasks.git.push_flows import PushFlows as PushFlows
    from .tasks.git.push_legacy import Push as Push
    from .tasks.git.push_namespace_files import PushNamespaceFiles as PushNamespaceFiles
    from .tasks.git.sync_dashboards import SyncDashboards as SyncDashboards
    from .tasks.git.sync_flow import SyncFlow as SyncFlow
    from .tasks.git.sync_flows import SyncFlows as SyncFlows
    from .tasks.git.sync_legacy import Sync as Sync
    from .tasks.git.sync_namespace_files import SyncNamespaceFiles as SyncNamespaceFiles
    from .tasks.git.tenant_sync import TenantSync as TenantSync
    from .tasks.github.pulls_create import CreatePullRequest as CreatePullRequest
    from .tasks.scripts.commands import PythonCommands as PythonCommands
    from .tasks.scripts.commands import ShellCommands as ShellCommands
    from .tasks.scripts.script import PythonScript as PythonScript
    from .tasks.scripts.script import ShellScript as ShellScript

    __version__: str

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        globals()[name] = value = version("kestra-git-tasks")
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
