"""kestra-git-tasks: Kestra's Git patterns as Python tasks, with a local runner.

Import tasks and helpers from here; other modules are internal::

    from kestra_git_tasks import LocalInstance, run_flow
"""

from .context import FlowInfo, RunContext
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
from .flow import Flow, load_flow_file, parse_flow, validate_source
from .instance.base import ExecutionRecord, FileRecord, FlowRecord, Instance, LogRecord
from .instance.local import LocalInstance
from .runner import run_flow
from .secrets import SecretStore
from .tasks.base import Output, Task
from .tasks.clone import Clone
from .tasks.commands import PythonCommands, ShellCommands
from .tasks.log import Log
from .tasks.push_flows import PushFlows
from .tasks.push_namespace_files import PushNamespaceFiles
from .tasks.sync_flow import SyncFlow
from .tasks.sync_flows import SyncFlows
from .tasks.sync_namespace_files import SyncNamespaceFiles
from .tasks.working_directory import WorkingDirectory

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
