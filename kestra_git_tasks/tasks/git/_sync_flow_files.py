"""The flow files of a SyncFlows plan: a file read from Git with the namespace it lands in
(:class:`_GitFile`), the flow prepared for that namespace (:class:`_Candidate`), and the small
helpers the plan builds rows from (a deletion's entry, a duplicate's error, the next revision).
Pure: nothing here reads Git; only :func:`next_revision` reads the instance.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import FlowFileError, FlowProblem
from ...flowfile import namespace_line_set, prepare_flow
from ...instance.base import FlowRecord, Instance
from ._sync import Entry, FlowRow, SyncState, Write, WriteAction

__all__ = ["next_revision"]


@dataclass(frozen=True)
class _Candidate:
    """A flow file read from Git, its namespace set to where it lands.

    ``identity`` is the parsed ``(namespace, id)`` of ``source`` (for a flow whose namespace
    cannot be set, the one it would have); ``problem`` makes it invalid before any validation
    (not UTF-8, or a namespace that cannot be set to the target).
    """

    git_path: str
    source: str
    identity: tuple[str, str] | None
    problem: str | None = None


#: flow files validated, then prepared, together (see ``SyncFlows._prepared``)
_CHUNK = 5_000


@dataclass(frozen=True)
class _GitFile:
    """A flow file read from Git (``problem``: not UTF-8) and the namespace it lands in."""

    git_path: str
    source: str
    namespace: str
    problem: str | None = None

    def shortcut(self) -> str | None:
        """The source with its namespace line set, not parsed yet (:func:`namespace_line_set`)."""
        return None if self.problem else namespace_line_set(self.source, self.namespace)

    def candidate(self, shortcut: str | None) -> _Candidate:
        """The flow with its namespace set to where it lands (:func:`prepare_flow`)."""
        if self.problem is not None:
            return _Candidate(self.git_path, "", None, self.problem)
        prepared = prepare_flow(self.source, self.namespace, shortcut=shortcut)
        identity = prepared.identity
        if prepared.problem and identity:  # the flow it would be, kept if it is skipped
            identity = (self.namespace, identity[1])
        return _Candidate(self.git_path, prepared.source, identity, prepared.problem)


def _delete_entry(record: FlowRecord) -> Entry:
    row = FlowRow(None, SyncState.DELETED, record.id, record.namespace, record.revision)
    return row, Write(WriteAction.DELETE_FLOW, namespace=record.namespace, key=record.id)


def _duplicate(git_path: str, other: str, uid: str) -> FlowFileError:
    message = (
        f"{git_path} and {other} both declare flow {uid}; keep one of them (a flow is "
        "identified by its namespace and id, not its file name)"
    )
    return FlowFileError([FlowProblem("", None, message)])


def next_revision(instance: Instance, namespace: str, flow_id: str) -> int:
    """The revision a save of a new or changed flow gets: deleted revisions count too."""
    revisions = instance.flow_revisions(namespace, flow_id)
    return revisions[-1].revision + 1 if revisions else 1
