"""The Kestra server instance: the instance protocol over Kestra's REST API.

The requests themselves (paths, auth, timeouts, retries, error mapping) are in
:mod:`.kestra_http`; this module gives them the protocol's meaning: exact namespace scoping,
sources matched to revisions, one validation request for many flows, and ``batch()`` that
restores what a failed apply had changed. What each method costs, in requests:

* ``flow_index``: 1 (``flows/search``), whatever the number of flows.
* ``list_flows``: 2 (``flows/search`` for revisions, one ``flows/export/by-query`` zip for the
  sources), whatever the number of flows; 1 when the scope holds none.
* ``get_flow``, ``flow_revisions``, ``list_namespaces``, ``read_file``,
  ``read_file_revision``: 1; ``file_revisions``: 1 + 1 per revision (to fill size and sha256).
* ``validate_flows``: 1 for any number of flows (a source holding a line that starts with
  ``---`` is sent on its own, as Kestra splits the body there).
* ``put_flow``: 1 (``PUT``), 2 for a new flow (``PUT`` answers 404, then ``POST``).
  ``delete_flow``: 1. In a batch each costs one more ``GET`` (the flow as it was).
* ``write_file``, ``delete_file``: 2; the file is read first, so identical content is not
  uploaded again, a missing file is not "deleted", and a batch can restore it.
* ``list_files``: 1 per directory + 1 per file. Kestra's listing has no checksum, so each file
  is read to fill ``sha256``: O(files). The contents it read are kept until the next
  ``list_files``, and the first ``read_file`` of each of those files takes its content from
  there (no request): listing then reading a namespace costs one read per file, not two.

``change_stamp`` is None (Kestra keeps no change counter it would expose): the no-change check
of a sync falls back to comparing ``flow_index`` (one request) or the file listing (O(files)).

Not faithful to the protocol, because Kestra's API does not offer it cheaply: ``list_files``
does not read file revisions (one more request per file), so its ``FileRecord.revision`` is
always 1 (``file_revisions`` reads them, on Kestra 1.2+);
``list_namespaces`` (and ``list_files(..., include_children=True)``) only see namespaces that
hold flows (``flows/distinct-namespaces``). ``FlowRecord.updated`` is the server's ``updated``
when it sends one, else the time of the answer. A ``KestraInstance`` is not thread-safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InstanceError, KestraApiError, KestraGitError, NotFoundError
from ..flowfile import flow_identity
from . import kestra_dashboards
from .base import (
    DashboardRecord,
    FileRecord,
    FlowRecord,
    Instance,
    dashboard_id,
    namespace_matches,
    normalize_file_path,
)
from .kestra_batch import Batch, Change, rollback
from .kestra_http import KestraApi, timestamp

if TYPE_CHECKING:
    import httpx

__all__ = ["KestraInstance"]

T = TypeVar("T")
_FLOWS_FOLDER = "/_flows"


class KestraInstance:
    """Flows and namespace files of a Kestra server, through its REST API.

    ``url`` is the server root (``http://localhost:8080``). ``tenant`` is ``main`` for Kestra
    OSS 0.23+; ``None`` omits the tenant segment (servers before 0.23). Authenticate with
    ``username`` and ``password`` (HTTP Basic, mandatory on OSS 0.24+) or with ``api_token``
    (``Authorization: Bearer``, Enterprise), not both. ``retries`` applies to idempotent calls
    only; ``transport`` replaces the network (``httpx.MockTransport`` in tests). Use it as a
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = "main",
        username: str | None = None,
        password: str | None = None,
        api_token: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        **transport_options: Any,
    ) -> None:
        self._api = KestraApi(
            url,
            tenant=tenant,
            username=username,
            password=password,
            api_token=api_token,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            transport=transport,
            **transport_options,  # trusted_ca_pem_path, no_proxy, environ (see KestraApi)
        )
        #: The server root, without any credentials.
        self.url = self._api.url
        self.tenant = tenant
        self._batch: Batch | None = None
        # (namespace, path) -> content read by the last list_files, until read_file takes it
        self._listed: dict[tuple[str, str], bytes] = {}

    def close(self) -> None:
        """Close the HTTP connections. Safe to call twice."""
        self._api.close()

    def __enter__(self) -> KestraInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KestraInstance(url={self.url!r}, tenant={self.tenant!r})"

    # -- flows ---------------------------------------------------------------------------------
    def list_flows(self, namespace: str, *, include_children: bool = False) -> list[FlowRecord]:
        """Non-deleted flows in scope, sorted by namespace then id: two requests in all."""
        found = self._search(namespace, include_children)
        if not found:
            return []
        sources = self._api.export_flows(namespace)
        records = []
        for item in found:
            source = sources.get((item["namespace"], item["id"]))
            if source is None:  # created between the two requests: ask for it alone
                record = self.get_flow(item["namespace"], item["id"])
                records += [record] if record else []
            else:
                records.append(self._api.flow(item, "/flows/search", source))
        return sorted(records, key=lambda r: (r.namespace, r.id))

    def flow_index(self, namespace: str, *, include_children: bool = False) -> dict[str, int]:
        """``"namespace/id"`` -> latest revision of every live flow in scope: one request."""
        return {
            f"{record.namespace}/{record.id}": record.revision
            for record in (
                self._api.flow(item, "/flows/search")
                for item in self._search(namespace, include_children)
            )
        }

    def change_stamp(
        self, kind: str, namespace: str = "", *, include_children: bool = False
    ) -> str | None:
        """None: Kestra's API has no change counter, so a sync compares ``flow_index`` (one
        request) or the file listing instead."""
        return None

    def list_namespaces(self) -> list[str]:
        """Namespaces holding at least one flow (Kestra's ``flows/distinct-namespaces``)."""
        return self._api.distinct_namespaces()

    def get_flow(self, namespace: str, flow_id: str) -> FlowRecord | None:
        """The latest revision with its source, or None when absent or deleted."""
        record = self._api.get_flow(namespace, flow_id)
        return None if record is None or record.deleted else record

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowRecord]:
        """Every revision, oldest first, deleted ones included."""
        return self._api.flow_revisions(namespace, flow_id)

    def validate_flows(self, sources: list[str]) -> list[list[str]]:
        """Kestra's verdict on each source, in one ``POST flows/validate`` for all of them."""
        problems: list[list[str]] = [[] for _ in sources]
        together = [i for i, source in enumerate(sources) if _joinable(source)]
        alone = [[i] for i, source in enumerate(sources) if not _joinable(source)]
        for group in ([together] if together else []) + alone:
            answers = self._api.validate([sources[i] for i in group])
            if len(group) == 1:  # a lone source the server split: every answer is about it
                problems[group[0]] = [problem for answer in answers for problem in answer]
            elif len(answers) == len(group):
                for index, answer in zip(group, answers, strict=True):
                    problems[index] = answer
            else:
                raise KestraApiError(
                    f"{self._api.where('/flows/validate')}: the Kestra server judged "
                    f"{len(answers)} flows where {len(group)} were sent"
                )
        return problems

    def put_flow(self, source: str) -> FlowRecord:
        """Update (``PUT``) or create (``POST``) the flow ``source`` declares.

        The server keeps the revision of an identical source. A 422 raises
        :class:`~kestra_git_tasks.errors.FlowValidationError` with the server's message.
        """
        identity = flow_identity(source)
        label = f"flow {identity[0]}/{identity[1]}" if identity else "a flow without id/namespace"
        exists: bool | None = None
        undo: Callable[[], object] = _nothing
        if identity is not None and self._batch is not None:
            previous = self.get_flow(*identity)
            if previous is not None and previous.source == source:
                return previous
            exists = previous is not None
            if previous is not None:
                undo = partial(self._api.save_flow, previous.source, identity)
            else:
                undo = partial(self._api.delete_flow, *identity)
        save = partial(self._api.save_flow, source, identity, exists)
        return self._change(f"save {label}", label, undo, save)

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Soft-delete (the server writes a deleted revision); False when there was none."""
        if self._batch is None:
            return self._api.delete_flow(namespace, flow_id)
        previous = self.get_flow(namespace, flow_id)
        if previous is None:
            return False
        label = f"flow {namespace}/{flow_id}"
        undo = partial(self._api.save_flow, previous.source, (namespace, flow_id))
        delete = partial(self._api.delete_flow, namespace, flow_id)
        return self._change(f"delete {label}", label, undo, delete)

    def _search(self, namespace: str, include_children: bool) -> list[dict[str, Any]]:
        """Live flows in the exact scope (the server's filter also matches children)."""
        return [
            item
            for item in self._api.search_flows(namespace)
            if namespace_matches(str(item["namespace"]), namespace, include_children)
            and not item.get("deleted")
        ]

    # -- namespace files -----------------------------------------------------------------------
    def list_files(self, namespace: str, *, include_children: bool = False) -> list[FileRecord]:
        """Every file of the namespace, walking its directories; each file is read (O(files))."""
        namespaces = [namespace]
        if include_children:
            namespaces += [
                child
                for child in self.list_namespaces()
                if child != namespace and namespace_matches(child, namespace, True)
            ]
        records = []
        self._listed = {}
        for name in namespaces:
            for path, modified in self._walk(name):
                content = self._api.read_file(name, path)
                if content is not None:  # None: deleted since the listing
                    self._listed[(name, path)] = content
                    digest = hashlib.sha256(content).hexdigest()
                    records.append(FileRecord(name, path, 1, len(content), digest, modified))
        return sorted(records, key=lambda r: (r.namespace, r.path))

    def read_file(self, namespace: str, path: str) -> bytes:
        """Content of the file; raises NotFoundError when absent."""
        path = normalize_file_path(path)
        content = self._listed.pop((namespace, path), None)
        if content is None:
            content = self._api.read_file(namespace, path)
        if content is None:
            raise NotFoundError(f"namespace file {path} not found in namespace {namespace!r}")
        return content

    def file_revisions(self, namespace: str, path: str) -> list[FileRecord]:
        """Every revision the server keeps (Kestra 1.2+): 1 request + 1 read per revision.

        Kestra answers 404 for a deleted file's revisions: [] then. ``updated`` is unknown (the
        time of the answer).
        """
        path = normalize_file_path(path)
        records = []
        for number in self._api.file_revisions(namespace, path):
            content = self._api.read_file(namespace, path, number) or b""
            digest = hashlib.sha256(content).hexdigest()
            now = datetime.now(UTC)
            records.append(FileRecord(namespace, path, number, len(content), digest, now))
        return records

    def read_file_revision(self, namespace: str, path: str, revision: int) -> bytes:
        """Content of one revision (``files?revision=``, Kestra 1.2+)."""
        path = normalize_file_path(path)
        content = self._api.read_file(namespace, path, revision)
        if content is None:
            raise NotFoundError(
                f"namespace file {path} of namespace {namespace!r} has no revision {revision}"
            )
        return content

    def write_file(self, namespace: str, path: str, content: bytes) -> FileRecord:
        """Upload ``content`` unless the file already holds exactly that."""
        path = _writable(namespace, path)
        self._listed.pop((namespace, path), None)
        previous = self._api.read_file(namespace, path)
        digest = hashlib.sha256(content).hexdigest()
        record = FileRecord(namespace, path, 1, len(content), digest, datetime.now(UTC))
        if previous == content:
            return record
        label = f"file {path} of namespace {namespace}"
        if previous is not None:
            undo: Callable[[], object] = partial(self._api.upload_file, namespace, path, previous)
        else:
            undo = partial(self._api.delete_file, namespace, path)
        upload = partial(self._api.upload_file, namespace, path, content)
        self._change(f"write {label}", label, undo, upload)
        return record

    def delete_file(self, namespace: str, path: str) -> bool:
        """Delete the file (Kestra removes parents left empty); False when it does not exist."""
        path = _writable(namespace, path)
        self._listed.pop((namespace, path), None)
        previous = self._api.read_file(namespace, path)
        if previous is None:
            return False
        label = f"file {path} of namespace {namespace}"
        undo = partial(self._api.upload_file, namespace, path, previous)
        delete = partial(self._api.delete_file, namespace, path)
        self._change(f"delete {label}", label, undo, delete)
        return True

    def _walk(self, namespace: str) -> list[tuple[str, datetime]]:
        """``(path, lastModifiedTime)`` of every file, one listing per directory."""
        files: list[tuple[str, datetime]] = []
        pending = ["/"]
        while pending:
            directory = pending.pop()
            for entry in self._api.list_directory(namespace, directory) or []:
                name = entry.get("fileName")
                if not isinstance(name, str) or not name or "/" in name:
                    continue
                path = directory.rstrip("/") + "/" + name
                if path == _FLOWS_FOLDER:
                    continue  # Kestra's view of the namespace's flows, not files
                if entry.get("type") == "Directory":
                    pending.append(path)
                elif entry.get("type") == "File":
                    files.append((path, timestamp(entry.get("lastModifiedTime"))))
        return files

    # -- dashboards (kestra_dashboards.py); writes are undone by a failed batch -------------
    def list_dashboards(self) -> list[DashboardRecord]:
        return kestra_dashboards.list_dashboards(self._api)

    def get_dashboard(self, dashboard_id: str) -> DashboardRecord | None:
        return kestra_dashboards.get_dashboard(self._api, dashboard_id)

    def put_dashboard(self, source: str) -> DashboardRecord:
        key = dashboard_id(source)
        previous = self.get_dashboard(key) if self._batch is not None else None
        undo: Callable[[], object] = (
            partial(kestra_dashboards.put_dashboard, self._api, previous.source)
            if previous is not None
            else partial(kestra_dashboards.delete_dashboard, self._api, key)
        )
        put = partial(kestra_dashboards.put_dashboard, self._api, source)
        return self._change(f"save dashboard {key}", f"dashboard {key}", undo, put)

    def delete_dashboard(self, dashboard_id: str) -> bool:
        previous = self.get_dashboard(dashboard_id) if self._batch is not None else None
        undo: Callable[[], object] = (
            partial(kestra_dashboards.put_dashboard, self._api, previous.source)
            if previous is not None
            else _nothing
        )
        delete = partial(kestra_dashboards.delete_dashboard, self._api, dashboard_id)
        return self._change(f"delete dashboard {dashboard_id}", dashboard_id, undo, delete)

    # -- all or nothing ------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """All or nothing: when the block raises, undo what it already changed on the server.

        Before each write the previous state is remembered (a flow's source, a file's content,
        or that it did not exist). On an exception the writes are undone newest first: a flow
        gets its previous source back (as a new revision), created flows and files are
        deleted, deleted ones are written again. Then an
        :class:`~kestra_git_tasks.errors.InstanceError` says which write failed and what was
        restored (or what could not be), chaining the original error. An error raised before
        anything changed propagates as it is; an unexpected exception (a bug) keeps its type
        and gets the same text as a note. A nested batch joins the outer one.
        """
        if self._batch is not None:
            yield
            return
        batch = self._batch = Batch()
        try:
            yield
        except BaseException as exc:
            self._batch = None
            message = rollback(batch, exc)
            if message is None:
                raise
            if isinstance(exc, KestraGitError):
                raise InstanceError(message) from exc
            exc.add_note(message)
            raise
        finally:
            self._batch = None

    def _change(
        self, action: str, label: str, undo: Callable[[], object], do: Callable[[], T]
    ) -> T:
        """Run one write; inside a batch, remember how to undo it."""
        batch = self._batch
        if batch is None:
            return do()
        change = Change(len(batch.changes) + 1, action, label, undo)
        batch.changes.append(change)
        try:
            result = do()
        except BaseException as exc:
            batch.failed = change
            change.interrupted = isinstance(exc, KestraApiError) and exc.status_code is None
            raise
        change.applied = True
        return result


def _nothing() -> None:
    return None


def _writable(namespace: str, path: str) -> str:
    path = normalize_file_path(path)
    if not namespace:
        raise InstanceError(f"namespace file {path}: the namespace must not be empty")
    if path == _FLOWS_FOLDER or path.startswith(_FLOWS_FOLDER + "/"):
        raise InstanceError(
            f"namespace file {path}: Kestra reserves {_FLOWS_FOLDER} for flows (an upload "
            "there imports a flow); keep namespace files out of it"
        )
    return path


def _joinable(source: str) -> bool:
    """Whether ``source`` survives Kestra's split of a validate body on ``\\n+---``."""
    text = source.strip()
    return bool(text) and not text.startswith("---") and "\n---" not in source


def _conforms(instance: KestraInstance) -> Instance:
    """Static check (mypy) that KestraInstance implements the Instance protocol."""
    return instance
