"""The instance protocol: where flows and namespace files live.

Two implementations share it: the embedded SQLite instance (:mod:`.local`) and, later, a Kestra
server over its REST API. Tasks and the runner only ever talk to this protocol.

Semantics follow Kestra:

* Flows are keyed by ``(namespace, id)`` and keep every revision. Saving a source identical to the
  latest revision keeps that revision; any other save creates ``latest + 1``. Deleting a flow
  writes a new, deleted revision: history is kept, and a later save continues the numbering.
* Namespace files are keyed by ``(namespace, path)`` with ``path`` absolute inside the namespace
  (``/dir/a.txt``). They keep revisions the same way (Kestra 1.2+).
* ``batch()`` groups writes: either all of them happen or none does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..errors import InstanceError

__all__ = [
    "DashboardRecord",
    "ExecutionRecord",
    "FileRecord",
    "FlowRecord",
    "FlowValidator",
    "Instance",
    "LogRecord",
    "dashboard_id",
    "namespace_matches",
    "normalize_file_path",
]

#: Validates one flow source; returns the list of problems (empty when the flow is valid).
FlowValidator = Callable[[str], list[str]]


def namespace_matches(namespace: str, scope: str, include_children: bool) -> bool:
    """True when ``namespace`` is ``scope``, or a child of it when ``include_children``.

    The match is exact on dot boundaries: ``dev`` covers ``dev`` and ``dev.team``, never
    ``devops``.
    """
    if namespace == scope:
        return True
    return include_children and namespace.startswith(scope + ".")


def normalize_file_path(path: str) -> str:
    """``path`` as the instance keys namespace files: ``/dir/a.txt``.

    A missing leading ``/`` is added. Backslashes, empty segments (``a//b``, a trailing ``/``),
    ``.`` and ``..`` segments raise :class:`~kestra_git_tasks.errors.InstanceError`.
    """
    problem = None
    segments = (path[1:] if path.startswith("/") else path).split("/")
    if not path or path == "/":
        problem = "it is empty"
    elif "\\" in path or "\x00" in path:
        problem = "it contains a backslash or NUL; use '/' to separate directories"
    elif any(segment in ("", ".", "..") for segment in segments):
        problem = "it has an empty, '.' or '..' segment (or a trailing '/')"
    if problem:
        raise InstanceError(
            f"invalid namespace file path {path!r}: {problem}; write it as '/dir/file.ext'"
        )
    return "/" + "/".join(segments)


@dataclass(frozen=True)
class FlowRecord:
    """The latest revision of a flow as the instance holds it."""

    namespace: str
    id: str
    revision: int
    source: str
    updated: datetime
    deleted: bool = False
    #: saved as a draft in Kestra (never on the embedded instance): pushes leave it out
    draft: bool = False


@dataclass(frozen=True)
class FileRecord:
    """A namespace file's metadata (its content is read with ``read_file``)."""

    namespace: str
    path: str
    revision: int
    size: int
    sha256: str
    updated: datetime
    deleted: bool = False


@dataclass(frozen=True)
class DashboardRecord:
    """The latest revision of a dashboard (tenant-wide, keyed by its YAML ``id``)."""

    id: str
    revision: int
    source: str
    updated: datetime


_DASHBOARD_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")


def dashboard_id(source: str) -> str:
    """The ``id`` a dashboard's YAML declares; raises
    :class:`~kestra_git_tasks.errors.InstanceError` naming the problem."""
    from ..errors import FlowFileError
    from ..yamlio import load_yaml

    try:
        document = load_yaml(source, "")
    except FlowFileError as exc:
        raise InstanceError(f"dashboard source is not valid YAML: {exc}") from exc
    value = document.get("id") if isinstance(document, dict) else None
    if not isinstance(value, str) or not _DASHBOARD_ID.fullmatch(value):
        raise InstanceError(
            f"a dashboard needs a top-level 'id' (letters, digits, '.', '_', '-'), got {value!r}"
        )
    return value


@dataclass(frozen=True)
class LogRecord:
    """One log line of an execution."""

    timestamp: datetime
    level: str
    message: str
    task_id: str | None = None


@dataclass
class ExecutionRecord:
    """An execution of a flow: state, times, outputs keyed by task id, logs."""

    id: str
    namespace: str
    flow_id: str
    flow_revision: int | None
    state: str
    start_date: datetime
    end_date: datetime | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    failed_task_id: str | None = None
    logs: list[LogRecord] = field(default_factory=list)
    #: What started it (``{"id", "type", "variables"}``); None for ``kestra-git run``.
    trigger: dict[str, Any] | None = None
    #: The flow's own ``outputs`` (Kestra's execution outputs), rendered when it ended.
    flow_outputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, as ``kestra-git run --json`` prints it."""
        return {
            "id": self.id,
            "namespace": self.namespace,
            "flowId": self.flow_id,
            "flowRevision": self.flow_revision,
            "state": self.state,
            "startDate": self.start_date.isoformat(),
            "endDate": self.end_date.isoformat() if self.end_date else None,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "error": self.error,
            "failedTaskId": self.failed_task_id,
            "trigger": self.trigger,
            "flowOutputs": self.flow_outputs,
            "logs": [
                {
                    "timestamp": log.timestamp.isoformat(),
                    "level": log.level,
                    "taskId": log.task_id,
                    "message": log.message,
                }
                for log in self.logs
            ],
        }


@runtime_checkable
class Instance(Protocol):
    """Flows and namespace files of a Kestra-like instance."""

    # -- flows ---------------------------------------------------------------------------------
    def list_flows(self, namespace: str, *, include_children: bool = False) -> list[FlowRecord]:
        """Non-deleted flows of ``namespace`` (and its children), sorted by namespace then id."""
        ...

    def flow_index(self, namespace: str, *, include_children: bool = False) -> dict[str, int]:
        """``"namespace/id"`` -> latest revision of every live flow in scope, without sources.

        Cheap: a sync uses it to learn that nothing changed since its last run.
        """
        ...

    def change_stamp(
        self, kind: str, namespace: str = "", *, include_children: bool = False
    ) -> str | None:
        """A token that changes whenever a ``kind`` (``"flow"``, ``"file"``, ``"dashboard"``)
        of ``namespace`` (and its children) is written, by anyone; None when the instance
        keeps none (then compare :meth:`flow_index` or the listing instead).

        Equal tokens mean nothing in scope was written in between. Read inside :meth:`batch`,
        it includes the batch's own writes. O(namespaces in scope), never O(flows).
        """
        ...

    def list_namespaces(self) -> list[str]:
        """Every namespace holding at least one non-deleted flow or file, sorted."""
        ...

    def get_flow(self, namespace: str, flow_id: str) -> FlowRecord | None:
        """The latest non-deleted revision, or None."""
        ...

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowRecord]:
        """Every revision, oldest first, deleted ones included."""
        ...

    def validate_flows(self, sources: list[str]) -> list[list[str]]:
        """For each source, the list of problems the instance finds (empty when valid)."""
        ...

    def put_flow(self, source: str) -> FlowRecord:
        """Create or update the flow ``source`` declares; identical source keeps the revision.

        Raises :class:`~kestra_git_tasks.errors.FlowValidationError` when the source is invalid.
        """
        ...

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Soft-delete; False when there was nothing to delete."""
        ...

    # -- namespace files -----------------------------------------------------------------------
    def list_files(self, namespace: str, *, include_children: bool = False) -> list[FileRecord]:
        """Every non-deleted file of ``namespace`` (recursively), sorted by namespace then path."""
        ...

    def read_file(self, namespace: str, path: str) -> bytes:
        """Content of the latest revision; raises NotFoundError when absent."""
        ...

    def file_revisions(self, namespace: str, path: str) -> list[FileRecord]:
        """Every revision of the file, oldest first ([] when it never existed)."""
        ...

    def read_file_revision(self, namespace: str, path: str, revision: int) -> bytes:
        """Content of one revision; raises NotFoundError when there is no such revision."""
        ...

    def write_file(self, namespace: str, path: str, content: bytes) -> FileRecord:
        """Create or overwrite; identical content keeps the revision."""
        ...

    def delete_file(self, namespace: str, path: str) -> bool:
        """Soft-delete; False when there was nothing to delete."""
        ...

    # -- dashboards (tenant-wide) -------------------------------------------------------------
    def list_dashboards(self) -> list[DashboardRecord]:
        """Every dashboard, sorted by id."""
        ...

    def get_dashboard(self, dashboard_id: str) -> DashboardRecord | None:
        """The dashboard, or None."""
        ...

    def put_dashboard(self, source: str) -> DashboardRecord:
        """Create or replace the dashboard ``source`` declares (its ``id``); an identical
        source keeps the revision."""
        ...

    def delete_dashboard(self, dashboard_id: str) -> bool:
        """Delete; False when there was nothing to delete."""
        ...

    # -- all or nothing ------------------------------------------------------------------------
    def batch(self) -> AbstractContextManager[None]:
        """Group writes: on an exception inside the block, none of them is kept."""
        ...
