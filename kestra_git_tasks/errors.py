"""The one exception tree of kestra-git-tasks.

Every failure a user can cause (bad YAML, a missing secret, a wrong password, a branch that does
not exist, a flow the instance refuses) raises a subclass of :class:`KestraGitError`. Anything
else escaping the library is a bug and keeps its traceback.

::

    KestraGitError                    root; the runner fills in .task_id / .task_type
    ├── ConfigError                   a task's or a flow's configuration is invalid
    │   ├── TemplateError             a template does not parse, uses an undefined variable,
    │   │                             or tries to leave the sandbox
    │   └── SecretNotFoundError       secret('NAME') has no value
    ├── FlowFileError                 flow YAML unreadable or invalid; carries .problems with
    │                                 file and line for each
    ├── GitError                      anything that went wrong talking to Git
    │   ├── GitAuthError              credentials missing or rejected
    │   ├── GitRefNotFoundError       branch, tag or commit absent
    │   ├── GitDirectoryNotFoundError gitDirectory missing in the branch
    │   ├── GitNetworkError           host unreachable, timeout, TLS failure
    │   └── PushRejectedError         the remote refused the push (moved, or a hook said no)
    ├── InstanceError                 the instance (embedded or Kestra server) refused or failed
    │   ├── NotFoundError             a flow, file or execution that does not exist
    │   ├── FlowValidationError       the instance says a flow is invalid
    │   └── KestraApiError            a Kestra server answered with an error (.status_code)
    │       └── KestraAuthError       401 / 403
    └── TaskFailedError               a task ran and failed (a command's non-zero exit, a timeout)

Messages name the YAML key, or the file and line, and say how to fix the problem.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "FlowFileError",
    "FlowProblem",
    "FlowValidationError",
    "GitAuthError",
    "GitDirectoryNotFoundError",
    "GitError",
    "GitNetworkError",
    "GitRefNotFoundError",
    "InstanceError",
    "KestraApiError",
    "KestraAuthError",
    "KestraGitError",
    "NotFoundError",
    "PushRejectedError",
    "SecretNotFoundError",
    "TaskFailedError",
    "TemplateError",
]


class KestraGitError(Exception):
    """Root of every expected error raised by kestra-git-tasks.

    ``task_id`` and ``task_type`` are set by the runner when the error comes from a task, so
    the message printed by the CLI can say which task failed.
    """

    task_id: str | None = None
    task_type: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(KestraGitError):
    """A task or flow property is missing, misspelt or of the wrong type."""


class TemplateError(ConfigError):
    """A template could not be rendered: syntax error, undefined variable or sandbox escape."""


class SecretNotFoundError(ConfigError):
    """``secret('NAME')`` found no value in any of the secret sources."""

    def __init__(self, message: str, *, name: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class FlowProblem:
    """One problem found in a flow file, with where it is."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        if not self.path:  # a source without a file (an instance validating text)
            return f"line {self.line}: {self.message}" if self.line is not None else self.message
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


class FlowFileError(KestraGitError):
    """A flow file could not be read, parsed or validated.

    ``problems`` lists every problem found, each with its file and line; the message is the
    first one followed by a count of the rest.
    """

    def __init__(self, problems: list[FlowProblem]) -> None:
        if not problems:
            raise ValueError("FlowFileError needs at least one problem")
        self.problems = list(problems)
        message = str(problems[0])
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem(s))"
        super().__init__(message)


class GitError(KestraGitError):
    """Something went wrong talking to a Git repository."""


class GitAuthError(GitError):
    """The remote refused the credentials, or asked for credentials none were given."""


class GitRefNotFoundError(GitError):
    """The branch, tag or commit asked for does not exist in the repository."""


class GitDirectoryNotFoundError(GitError):
    """The ``gitDirectory`` of a task does not exist in the branch (or is a file)."""


class GitNetworkError(GitError):
    """The remote could not be reached: DNS, refused connection, timeout or TLS failure."""


class PushRejectedError(GitError):
    """The remote refused a push; ``server_message`` holds what the server said, if anything."""

    def __init__(self, message: str, *, server_message: str | None = None) -> None:
        super().__init__(message)
        self.server_message = server_message


class InstanceError(KestraGitError):
    """The instance holding flows and namespace files refused an operation or failed."""


class NotFoundError(InstanceError):
    """A flow, namespace file or execution does not exist in the instance."""


class FlowValidationError(InstanceError):
    """The instance judged one or more flows invalid; ``constraints`` holds its messages."""

    def __init__(self, message: str, *, constraints: list[str] | None = None) -> None:
        super().__init__(message)
        self.constraints = list(constraints or [])


class KestraApiError(InstanceError):
    """A Kestra server answered with an error status; the server's message is kept."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class KestraAuthError(KestraApiError):
    """The Kestra server answered 401 or 403: credentials missing, wrong or not allowed."""


class TaskFailedError(KestraGitError):
    """A task ran and failed: a command exited non-zero, timed out, or reported an error."""
