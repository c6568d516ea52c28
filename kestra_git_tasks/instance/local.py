"""The embedded instance: flows, namespace files, dashboards and executions in one SQLite file.

This module keeps flows and namespace files, every revision, with Kestra's revision rules;
executions and logs are :mod:`.executions`'; the connection, schema and transactions (WAL,
``BEGIN IMMEDIATE``, all-or-nothing :meth:`~._sqlite.Database.batch`) are :mod:`._sqlite`'s.

:meth:`LocalInstance.change_stamp` answers "was anything in this scope written since?" without
reading it: triggers (schema 7, :mod:`._sqlite`) bump a per-(kind, namespace) sequence number
in the same transaction as every INSERT, UPDATE or DELETE of flows, files and dashboards, so a
write by another process or by hand is seen too. Cost: two small writes per row written; a
read is one indexed query over the namespaces in scope.

A :class:`LocalInstance` owns one connection, usable only from the thread that created it; give
each thread (and each process) its own ``LocalInstance`` on the same home.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ..errors import FlowValidationError, InstanceError, NotFoundError
from ..flowfile import read_identity as _parse_identity
from ._sqlite import SCHEMA_VERSION, from_text, now_text, to_text
from .base import (
    DashboardRecord,
    FileRecord,
    FlowRecord,
    FlowValidator,
    Instance,
    dashboard_id,
    normalize_file_path,
)
from .executions import ExecutionStore

__all__ = ["SCHEMA_VERSION", "LocalInstance"]


# Latest revision of each (namespace, key), found through the primary key index.
_LATEST = (
    "t.revision = (SELECT MAX(l.revision) FROM {table} AS l"
    " WHERE l.namespace = t.namespace AND l.{key} = t.{key})"
)


def _scope(namespace: str, include_children: bool) -> tuple[str, list[str]]:
    """SQL condition for ``namespace_matches``: a byte range instead of LIKE (no wildcards).

    Every child ``ns.x`` sorts in ``[ns + ".", ns + "/")`` since ``/`` follows ``.``.
    """
    if not include_children:
        return "t.namespace = ?", [namespace]
    return (
        "(t.namespace = ? OR (t.namespace >= ? AND t.namespace < ?))",
        [namespace, namespace + ".", namespace + "/"],
    )


class LocalInstance(ExecutionStore):
    """The embedded instance: a SQLite database in ``home``, implementing :class:`Instance`.

    Flows and namespace files keep every revision with Kestra's semantics; executions and their
    logs are recorded too (:class:`~.executions.ExecutionStore`). Writes outside :meth:`batch`
    are each their own transaction. Use it as a context manager, or call :meth:`close`. The
    connection may only be used from the thread that created the object.

    ``home`` is a folder (``str`` or ``Path``), created when missing. ``validator`` checks
    each flow source before it is saved; ``busy_timeout`` is how many
    seconds a write waits for another process's write transaction before failing.
    """

    #: Checks of sources kept (a sync's plan checks every flow its apply then stores).
    checked_max = 50_000

    def __init__(
        self,
        home: str | Path,
        *,
        validator: FlowValidator | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        super().__init__(Path(home), busy_timeout=busy_timeout)
        self._validator = validator
        # source -> problems (validator's, then identity's) and identity: a sync validates its
        # whole plan, then saves it; each source is parsed once.
        self._checked: dict[str, tuple[list[str], tuple[str, str] | None]] = {}

    # -- flows ---------------------------------------------------------------------------------
    @staticmethod
    def _flow(row: sqlite3.Row) -> FlowRecord:
        return FlowRecord(
            row["namespace"],
            row["id"],
            row["revision"],
            row["source"],
            from_text(row["created"]),
            bool(row["deleted"]),
        )

    def _latest_flow(self, namespace: str, flow_id: str) -> FlowRecord | None:
        rows = self._query(
            "SELECT * FROM flows WHERE namespace = ? AND id = ? ORDER BY revision DESC LIMIT 1",
            (namespace, flow_id),
        )
        return self._flow(rows[0]) if rows else None

    def list_flows(self, namespace: str, *, include_children: bool = False) -> list[FlowRecord]:
        """Non-deleted flows of ``namespace`` (and its children), sorted by namespace then id."""
        where, params = _scope(namespace, include_children)
        latest = _LATEST.format(table="flows", key="id")
        rows = self._query(
            f"SELECT * FROM flows AS t WHERE {where} AND t.deleted = 0 AND {latest} "
            "ORDER BY t.namespace, t.id",
            params,
        )
        return [self._flow(row) for row in rows]

    def flow_index(self, namespace: str, *, include_children: bool = False) -> dict[str, int]:
        """``"namespace/id"`` -> latest revision of every live flow in scope; no sources read."""
        where, params = _scope(namespace, include_children)
        # one pass over the primary key: SQLite returns the `deleted` of the MAX row
        rows = self._query(
            f"SELECT t.namespace, t.id, MAX(t.revision), t.deleted FROM flows AS t "
            f"WHERE {where} GROUP BY t.namespace, t.id",
            params,
        )
        return {f"{row[0]}/{row[1]}": row[2] for row in rows if not row[3]}

    def list_namespaces(self) -> list[str]:
        """Every namespace holding at least one non-deleted flow or file, sorted."""
        flows = _LATEST.format(table="flows", key="id")
        files = _LATEST.format(table="files", key="path")
        rows = self._query(
            f"SELECT namespace FROM flows AS t WHERE t.deleted = 0 AND {flows} "
            f"UNION SELECT namespace FROM files AS t WHERE t.deleted = 0 AND {files} "
            "ORDER BY namespace"
        )
        return [row[0] for row in rows]

    def get_flow(self, namespace: str, flow_id: str) -> FlowRecord | None:
        """The latest revision of the flow, or None when it does not exist or is deleted."""
        latest = self._latest_flow(namespace, flow_id)
        return None if latest is None or latest.deleted else latest

    def flow_revisions(self, namespace: str, flow_id: str) -> list[FlowRecord]:
        """Every revision of the flow, oldest first, deleted ones included."""
        rows = self._query(
            "SELECT * FROM flows WHERE namespace = ? AND id = ? ORDER BY revision",
            (namespace, flow_id),
        )
        return [self._flow(row) for row in rows]

    def validate_flows(self, sources: list[str]) -> list[list[str]]:
        """For each source, the validator's problems plus any unreadable ``id``/``namespace``.

        Never raises for an invalid flow; an empty list means the source is valid.
        """
        return [list(self._check(source)[0]) for source in sources]

    def _check(self, source: str) -> tuple[list[str], tuple[str, str] | None]:
        cached = self._checked.get(source)
        if cached is not None:
            return cached
        problems = list(self._validator(source)) if self._validator else []
        identity: tuple[str, str] | None = None
        try:
            identity = _parse_identity(source)
        except FlowValidationError as exc:
            problems += [c for c in exc.constraints if c not in problems]
        if len(self._checked) > self.checked_max:
            self._checked.clear()
        self._checked[source] = (problems, identity)
        return problems, identity

    def put_flow(self, source: str) -> FlowRecord:
        """Save ``source`` as the next revision of the flow it declares, and return it.

        A source identical to the latest live revision keeps that revision. Raises
        :class:`~kestra_git_tasks.errors.FlowValidationError` when the validator finds problems
        or the source has no string ``id`` and ``namespace``; nothing is written then.
        """
        problems, identity = self._check(source)
        if problems:
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            prefix = "flow is invalid: " if self._validator else ""
            raise FlowValidationError(f"{prefix}{problems[0]}{more}", constraints=problems)
        assert identity is not None  # no problems means the identity was read
        namespace, flow_id = identity
        if self._depth:  # one INSERT inside the caller's transaction: no savepoint needed
            return self._put_flow(namespace, flow_id, source)
        with self.batch():
            return self._put_flow(namespace, flow_id, source)

    def _put_flow(self, namespace: str, flow_id: str, source: str) -> FlowRecord:
        """:meth:`put_flow` once checked, inside a transaction: reads the latest revision's
        number and whether it holds ``source`` (not its text), and makes at most one write."""
        rows = self._query(
            "SELECT revision, deleted, source = ? FROM flows WHERE namespace = ? AND id = ? "
            "ORDER BY revision DESC LIMIT 1",
            (source, namespace, flow_id),
        )
        if rows and not rows[0][1] and rows[0][2]:  # the latest live revision is this source
            latest = self._latest_flow(namespace, flow_id)
            assert latest is not None
            return latest
        revision = rows[0][0] + 1 if rows else 1
        record = FlowRecord(namespace, flow_id, revision, source, datetime.now(UTC))
        self._insert_flow(record)
        return record

    def _insert_flow(self, r: FlowRecord) -> None:
        self._query(
            "INSERT INTO flows (namespace, id, revision, source, deleted, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (r.namespace, r.id, r.revision, r.source, int(r.deleted), to_text(r.updated)),
        )

    def delete_flow(self, namespace: str, flow_id: str) -> bool:
        """Write a deleted revision (history is kept); False when there was nothing to delete."""
        with self.batch():
            latest = self._latest_flow(namespace, flow_id)
            if latest is None or latest.deleted:
                return False
            revision = latest.revision + 1
            now = datetime.now(UTC)
            self._insert_flow(FlowRecord(namespace, flow_id, revision, latest.source, now, True))
        return True

    # -- change stamps -------------------------------------------------------------------------
    def change_stamp(
        self, kind: str, namespace: str = "", *, include_children: bool = False
    ) -> str:
        """``<database id>:<sequence>``: the last write of a ``kind`` in scope (schema 7's
        triggers bump it in the writing transaction, whoever writes). One indexed read over
        the namespaces in scope; the flows and files themselves are not read."""
        where, params = _scope(namespace, include_children)
        rows = self._query(
            "SELECT (SELECT id FROM instance_id), (SELECT COALESCE(MAX(t.seq), 0) FROM "
            f"change_stamps AS t WHERE t.kind = ? AND {where})",
            [kind, *params],
        )
        return f"{rows[0][0]}:{rows[0][1]}"

    # -- executions by prefix -------------------------------------------------------------------
    def execution_ids(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids of recorded executions starting with ``prefix`` (exact text, no wildcards)."""
        rows = self._query(
            "SELECT id FROM executions WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?",
            (len(prefix), prefix, limit),
        )
        return [row[0] for row in rows]

    # -- namespace files -----------------------------------------------------------------------
    _FILE_COLUMNS = "t.namespace, t.path, t.revision, t.size, t.sha256, t.deleted, t.created"

    @staticmethod
    def _file(row: sqlite3.Row) -> FileRecord:
        return FileRecord(
            row["namespace"],
            row["path"],
            row["revision"],
            row["size"],
            row["sha256"],
            from_text(row["created"]),
            bool(row["deleted"]),
        )

    def _latest_file(self, namespace: str, path: str) -> sqlite3.Row | None:
        rows = self._query(
            f"SELECT {self._FILE_COLUMNS} FROM files AS t WHERE namespace = ? AND path = ? "
            "ORDER BY revision DESC LIMIT 1",
            (namespace, path),
        )
        return rows[0] if rows else None

    def list_files(self, namespace: str, *, include_children: bool = False) -> list[FileRecord]:
        """Every non-deleted file of ``namespace`` (and its children), by namespace then path.

        Only metadata is read; use :meth:`read_file` for the content.
        """
        where, params = _scope(namespace, include_children)
        latest = _LATEST.format(table="files", key="path")
        rows = self._query(
            f"SELECT {self._FILE_COLUMNS} FROM files AS t "
            f"WHERE {where} AND t.deleted = 0 AND {latest} ORDER BY t.namespace, t.path",
            params,
        )
        return [self._file(row) for row in rows]

    def read_file(self, namespace: str, path: str) -> bytes:
        """Content of the file's latest revision; raises NotFoundError when absent or deleted."""
        path = normalize_file_path(path)
        rows = self._query(
            "SELECT content, deleted FROM files WHERE namespace = ? AND path = ? "
            "ORDER BY revision DESC LIMIT 1",
            (namespace, path),
        )
        if not rows or rows[0]["deleted"]:
            raise NotFoundError(f"namespace file {path} not found in namespace {namespace!r}")
        return bytes(rows[0]["content"])

    def file_revisions(self, namespace: str, path: str) -> list[FileRecord]:
        """Every revision of the file, oldest first, deleted ones included."""
        rows = self._query(
            f"SELECT {self._FILE_COLUMNS} FROM files AS t WHERE namespace = ? AND path = ? "
            "ORDER BY revision",
            (namespace, normalize_file_path(path)),
        )
        return [self._file(row) for row in rows]

    def read_file_revision(self, namespace: str, path: str, revision: int) -> bytes:
        """Content of one revision (a deleted revision keeps the content it deleted)."""
        path = normalize_file_path(path)
        rows = self._query(
            "SELECT content FROM files WHERE namespace = ? AND path = ? AND revision = ?",
            (namespace, path, revision),
        )
        if not rows:
            raise NotFoundError(
                f"namespace file {path} of namespace {namespace!r} has no revision {revision}"
            )
        return bytes(rows[0]["content"])

    def write_file(self, namespace: str, path: str, content: bytes) -> FileRecord:
        """Create or overwrite ``path``; content identical to the latest keeps its revision."""
        path = normalize_file_path(path)
        if not namespace:
            raise InstanceError(f"namespace file {path}: the namespace must not be empty")
        digest = hashlib.sha256(content).hexdigest()
        with self.batch():
            latest = self._latest_file(namespace, path)
            if latest is not None and not latest["deleted"] and latest["sha256"] == digest:
                return self._file(latest)
            revision = latest["revision"] + 1 if latest is not None else 1
            created = now_text()
            self._query(
                "INSERT INTO files (namespace, path, revision, size, sha256, deleted, created, "
                "content) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (namespace, path, revision, len(content), digest, created, content),
            )
        return FileRecord(namespace, path, revision, len(content), digest, from_text(created))

    def delete_file(self, namespace: str, path: str) -> bool:
        """Write a deleted revision (history is kept); False when there was nothing to delete."""
        path = normalize_file_path(path)
        with self.batch():
            latest = self._latest_file(namespace, path)
            if latest is None or latest["deleted"]:
                return False
            self._query(
                "INSERT INTO files (namespace, path, revision, size, sha256, deleted, created, "
                "content) SELECT namespace, path, revision + 1, size, sha256, 1, ?, content "
                "FROM files WHERE namespace = ? AND path = ? AND revision = ?",
                (now_text(), namespace, path, latest["revision"]),
            )
        return True

    # -- dashboards ----------------------------------------------------------------------------
    def _latest_dashboard(self, dashboard_id: str) -> sqlite3.Row | None:
        rows = self._query(
            "SELECT * FROM dashboards WHERE id = ? ORDER BY revision DESC LIMIT 1",
            (dashboard_id,),
        )
        return rows[0] if rows else None

    @staticmethod
    def _dashboard(row: sqlite3.Row) -> DashboardRecord:
        return DashboardRecord(row["id"], row["revision"], row["source"], from_text(row["created"]))

    def list_dashboards(self) -> list[DashboardRecord]:
        """Every live dashboard, sorted by id."""
        rows = self._query(
            "SELECT * FROM dashboards AS t WHERE t.deleted = 0 AND t.revision = "
            "(SELECT MAX(l.revision) FROM dashboards AS l WHERE l.id = t.id) ORDER BY t.id"
        )
        return [self._dashboard(row) for row in rows]

    def get_dashboard(self, dashboard_id: str) -> DashboardRecord | None:
        """The latest revision, or None when absent or deleted."""
        row = self._latest_dashboard(dashboard_id)
        return None if row is None or row["deleted"] else self._dashboard(row)

    def put_dashboard(self, source: str) -> DashboardRecord:
        """Save the dashboard ``source`` declares; an identical source keeps the revision."""
        dashboard = dashboard_id(source)
        with self.batch():
            latest = self._latest_dashboard(dashboard)
            if latest is not None and not latest["deleted"] and latest["source"] == source:
                return self._dashboard(latest)
            revision = latest["revision"] + 1 if latest is not None else 1
            created = now_text()
            self._query(
                "INSERT INTO dashboards (id, revision, source, deleted, created) "
                "VALUES (?, ?, ?, 0, ?)",
                (dashboard, revision, source, created),
            )
        return DashboardRecord(dashboard, revision, source, from_text(created))

    def delete_dashboard(self, dashboard_id: str) -> bool:
        """Write a deleted revision; False when there was nothing to delete."""
        with self.batch():
            latest = self._latest_dashboard(dashboard_id)
            if latest is None or latest["deleted"]:
                return False
            self._query(
                "INSERT INTO dashboards (id, revision, source, deleted, created) "
                "VALUES (?, ?, ?, 1, ?)",
                (dashboard_id, latest["revision"] + 1, latest["source"], now_text()),
            )
        return True


def _conforms(instance: LocalInstance) -> Instance:
    """Static check (mypy) that LocalInstance implements the Instance protocol."""
    return instance
