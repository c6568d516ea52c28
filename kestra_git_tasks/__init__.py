"""kestra-git-tasks: Kestra's Git patterns as Python tasks, with a local runner.

Import tasks and helpers from here; other modules are internal::

    from kestra_git_tasks import LocalInstance, run_flow
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562): `kestra-git --help` and a script importing one
# task do not pay for pygit2, httpx and every task model.
_LAZY: dict[str, str] = {
    "Clone": ".tasks.git.clone",
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
    "NotFoundError": ".errors",
    "Output": ".tasks._base",
    "PushFlows": ".tasks.git.push_flows",
    "PushNamespaceFiles": ".tasks.git.push_namespace_files",
    "PushRejectedError": ".errors",
    "PythonCommands": ".tasks.scripts.commands",
    "RunContext": ".context",
    "SecretNotFoundError": ".errors",
    "SecretStore": ".secrets",
    "ShellCommands": ".tasks.scripts.commands",
    "SyncFlow": ".tasks.git.sync_flow",
    "SyncFlows": ".tasks.git.sync_flows",
    "SyncNamespaceFiles": ".tasks.git.sync_namespace_files",
    "Task": ".tasks._base",
    "TaskFailedError": ".errors",
    "TemplateError": ".errors",
    "WorkingDirectory": ".tasks.core.working_directory",
    "load_flow_file": ".flow",
    "parse_flow": ".flow",
    "run_flow": ".runner",
    "validate_source": ".flow",
}

if TYPE_CHECKING:
    from .context import (
        FlowInfo,
        RunContext,
    )
    from .errors import (
        ConfigError,
        FlowFileError,
        FlowProblem,
        FlowValidationError,
        GitAuthError,
        GitDirectoryNotFoundError,
        GitError,
        GitNetworkError,
        GitRefNotFoundError,
        InstanceError,
        KestraApiError,
        KestraAuthError,
        KestraGitError,
        NotFoundError,
        PushRejectedError,
        SecretNotFoundError,
        TaskFailedError,
        TemplateError,
    )
    from .flow import (
        Flow,
        load_flow_file,
        parse_flow,
        validate_source,
    )
    from .instance.base import (
        ExecutionRecord,
        FileRecord,
        FlowRecord,
        Instance,
        LogRecord,
    )
    from .instance.kestra import (
        KestraInstance,
    )
    from .instance.local import (
        LocalInstance,
    )
    from .runner import (
        run_flow,
    )
    from .secrets import (
        SecretStore,
    )
    from .tasks._base import (
        Output,
        Task,
    )
    from .tasks.core.log import (
        Log,
    )
    from .tasks.core.working_directory import (
        WorkingDirectory,
    )
    from .tasks.git.clone import (
        Clone,
    )
    from .tasks.git.push_flows import (
        PushFlows,
    )
    from .tasks.git.push_namespace_files import (
        PushNamespaceFiles,
    )
    from .tasks.git.sync_flow import (
        SyncFlow,
    )
    from .tasks.git.sync_flows import (
        SyncFlows,
    )
    from .tasks.git.sync_namespace_files import (
        SyncNamespaceFiles,
    )
    from .tasks.scripts.commands import (
        PythonCommands,
        ShellCommands,
    )

__version__ = "0.1.0"

__all__ = [
    "Clone",
    "ConfigError",
    "ExecutionRecord",
    "FileRecord",
    "Flow",
    "FlowFileError",
    "FlowInfo",
    "FlowProblem",
    "FlowRecord",
    "FlowValidationError",
    "GitAuthError",
    "GitDirectoryNotFoundError",
    "GitError",
    "GitNetworkError",
    "GitRefNotFoundError",
    "Instance",
    "InstanceError",
    "KestraApiError",
    "KestraAuthError",
    "KestraGitError",
    "KestraInstance",
    "LocalInstance",
    "Log",
    "LogRecord",
    "NotFoundError",
    "Output",
    "PushFlows",
    "PushNamespaceFiles",
    "PushRejectedError",
    "PythonCommands",
    "RunContext",
    "SecretNotFoundError",
    "SecretStore",
    "ShellCommands",
    "SyncFlow",
    "SyncFlows",
    "SyncNamespaceFiles",
    "Task",
    "TaskFailedError",
    "TemplateError",
    "WorkingDirectory",
    "load_flow_file",
    "parse_flow",
    "run_flow",
    "validate_source",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
