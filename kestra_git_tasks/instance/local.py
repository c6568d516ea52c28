"""The embedded instance: flows, namespace files and executions in one SQLite file.

The database is ``home / "instance.db"`` in WAL mode, so readers never wait for a writer. Every
write transaction starts with ``BEGIN IMMEDIATE``: the writer lock is taken up front, and a second
process that wants to write waits for it (up to the busy timeout) instead of failing half-way or
losing an update. ``PRAGMA user_version`` records the schema version for later migrations.

A :class:`LocalInstance` owns one connection, usable only from the thread that created it; give
each thread (and each process) its own ``LocalInstance`` on the same home.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import FlowValidationError, InstanceError, NotFoundError
from ..flowfile import read_identity as _parse_identity
from .base import (
    ExecutionRecord,
    FileRecord,
    FlowRecord,
    FlowValidator,
    Instance,
    LogRecord,
    normalize_file_path,
)

__all__ = ["SCHEMA_VERSION", "LocalInstance"]


# _MIGRATIONS[n] takes the schema from version n to n + 1; append, never edit.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE flows (namespace TEXT NOT NULL, id TEXT NOT NULL,
            revision INTEGER NOT NULL CHECK (revision >= 1), source TEXT NOT NULL,
            deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)), created TEXT NOT NULL,
            PRIMARY KEY (namespace, id, revision))""",
        """CREATE TABLE files (namespace TEXT NOT NULL, path TEXT NOT NULL,
            revision INTEGER NOT NULL CHECK (revision >= 1), size INTEGER NOT NULL,
            sha256 TEXT NOT NULL, deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
            created TEXT NOT NULL, content BLOB NOT NULL,
            PRIMARY KEY (namespace, path, revision))""",
        """CREATE TABLE executions (id TEXT PRIMARY KEY, namespace TEXT NOT NULL,
            flow_id TEXT NOT NULL, flow_revision INTEGER, state TEXT NOT NULL,
            start_date TEXT NOT NULL, end_date TEXT, inputs TEXT NOT NULL, outputs TEXT NOT NULL,
            error TEXT, failed_task_id TEXT)""",
        "CREATE INDEX executions_by_start ON executions (start_date)",
        "CREATE INDEX executions_by_flow ON executions (namespace, flow_id, start_date)",
        """CREATE TABLE execution_logs (seq INTEGER PRIMARY KEY,
            execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
            timestamp TEXT NOT NULL, level TEXT NOT NULL, task_id TEXT, message TEXT NOT NULL)""",
        "CREATE INDEX execution_logs_by_execution ON execution_logs (execution_id, seq)",
    ),
)

#: The schema version this code writes; a database with a higher one is refused.
SCHEMA_VERSION = len(_MIGRATIONS)

# Latest revision of each (namespace, key), found through the primary key index.
_LATEST = (
    "t.revision = (SELECT MAX(l.revision) FROM {table} AS l"
    " WHERE l.namespace = t.namespace AND l.{key} = t.{key})"
)


def _now() -> str:
    return _to_text(datetime.now(UTC))


def _to_text(moment: datetime) -> str:
    """ISO-8601 UTC with a fixed width, so text order is time order; naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _from_text(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


class LocalInstance:
    """The embedded instance: a SQLite database in ``home``, implementing :class:`Instance`.

    Flows and namespace files keep every revision with Kestra's semantics; executions and their
    logs are recorded too. Writes outside :meth:`batch` are each their own transaction. Use it
    as a context manager, or call :meth:`close`. The connection may only be used from the
    thread that created the object.

    ``validator`` checks each flow source before it is saved; ``busy_timeout`` is how many
    seconds a write waits for another process's write transaction before failing.
    """

    def __init__(
        self,
        home: Path,
        *,
        validator: FlowValidator | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self.home = Path(home)
        self.path = self.home / "instance.db"
        self._validator = validator
        # source -> problems (validator's, then identity's) and identity: a sync validates its
        # whole plan, then saves it; each source is parsed once.
        self._checked: dict[str, tuple[list[str], tuple[str, str] | None]] = {}
        self._depth = 0
        try:
            self.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InstanceError(f"cannot create the instance home {self.home}: {exc}") from exc
        try:
            # timeout= is SQLite's busy timeout; isolation_level=None: we issue BEGIN ourselves
            self._conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise InstanceError(f"cannot open the embedded instance {self.path}: {exc}") from exc
        try:
            self._conn.row_factory = sqlite3.Row
            self._query("PRAGMA foreign_keys = ON")
            self._enable_wal(busy_timeout)
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- plumbing ------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one statement; SQLite's failures become InstanceError (misuse stays a bug)."""
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.ProgrammingError:
            raise
        except sqlite3.Error as exc:
            raise InstanceError(f"embedded instance {self.path}: {exc}") from exc

    def _enable_wal(self, busy_timeout: float) -> None:
        """Switch to WAL (persistent, so a no-op after the first open).

        When two processes open a new database at once, the switch can fail with "database is
        locked" at once instead of waiting (SQLite avoids a lock-upgrade deadlock), so retry.
        """
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                busy = (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
                if not busy or time.monotonic() > deadline:
                    raise InstanceError(f"embedded instance {self.path}: {exc}") from exc
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise InstanceError(f"{self.path}: SQLite refused WAL mode (got {mode!r})")

    def _migrate(self) -> None:
        if self._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION:
            return
        with self.batch():  # re-read under the writer lock: another process may have migrated
            version = int(self._query("PRAGMA user_version")[0][0])
            if version > SCHEMA_VERSION:
                raise InstanceError(
                    f"{self.path} has schema version {version} but this kestra-git-tasks knows "
                    f"only up to {SCHEMA_VERSION}; upgrade kestra-git-tasks"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    self._query(statement)
            self._query(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Make every write inside the block one transaction: all of them are kept, or none.

        The outermost batch runs ``BEGIN IMMEDIATE`` (waiting up to the busy timeout for another
        writer) and commits at the end; an exception rolls everything back and is re-raised. A
        nested batch joins the outer transaction through a savepoint: if it fails, only its own
        writes are undone, and what it wrote is committed only with the outer batch.
        """
        if self._depth:
            savepoint = f"batch_{self._depth}"
            self._query(f"SAVEPOINT {savepoint}")
            self._depth += 1
            try:
                yield
            except BaseException:
                if self._conn.in_transaction:  # SQLite may have rolled everything back already
                    self._query(f"ROLLBACK TO {savepoint}")
                raise
            finally:
                self._depth -= 1
                if self._conn.in_transaction:
                    self._query(f"RELEASE {savepoint}")
            return
        self._query("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
            self._query("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """A read transaction, so several SELECTs see one state (no writer lock is taken)."""
        if self._conn.in_transaction:
            yield
            return
        self._query("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                self._query("COMMIT")

    def close(self) -> None:
        """Close the connection; an unfinished batch is rolled back. Safe to call twice."""
        self._conn.close()

    def __enter__(self) -> LocalInstance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- flows ---------------------------------------------------------------------------------
    @staticmethod
    def _flow(row: sqlite3.Row) -> FlowRecord:
        return FlowRecord(
            row["namespace"],
            row["id"],
            row["revision"],
            row["source"],
            _from_text(row["created"]),
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
        if len(self._checked) > 50_000:
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
        with self.batch():
            latest = self._latest_flow(namespace, flow_id)
            if latest is not None and not latest.deleted and latest.source == source:
                return latest
            revision = latest.revision + 1 if latest else 1
            record = FlowRecord(namespace, flow_id, revision, source, datetime.now(UTC))
            self._insert_flow(record)
        return record

    def _insert_flow(self, r: FlowRecord) -> None:
        self._query(
            "INSERT INTO flows (namespace, id, revision, source, deleted, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (r.namespace, r.id, r.revision, r.source, int(r.deleted), _to_text(r.updated)),
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
            _from_text(row["created"]),
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
            created = _now()
            self._query(
                "INSERT INTO files (namespace, path, revision, size, sha256, deleted, created, "
                "content) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                (namespace, path, revision, len(content), digest, created, content),
            )
        return FileRecord(namespace, path, revision, len(content), digest, _from_text(created))

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
                (_now(), namespace, path, latest["revision"]),
            )
        return True

    # -- executions (embedded instance only) ---------------------------------------------------
    @staticmethod
    def _execution_columns(record: ExecutionRecord) -> dict[str, Any]:
        """The executions row of ``record``: its fields (columns share their names) but logs."""
        columns = {name: value for name, value in vars(record).items() if name != "logs"}
        columns["start_date"] = _to_text(record.start_date)
        columns["end_date"] = _to_text(record.end_date) if record.end_date else None
        columns["inputs"] = json.dumps(record.inputs, default=str)
        columns["outputs"] = json.dumps(record.outputs, default=str)
        return columns

    def create_execution(self, record: ExecutionRecord) -> None:
        """Record a new execution and the logs it already has; its id must be new."""
        columns = self._execution_columns(record)
        with self.batch():
            if self._query("SELECT 1 FROM executions WHERE id = ?", (record.id,)):
                raise InstanceError(f"execution {record.id} already exists")
            self._query(
                f"INSERT INTO executions ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                list(columns.values()),
            )
            for log in record.logs:
                self._insert_log(record.id, log)

    def update_execution(self, record: ExecutionRecord) -> None:
        """Store the state, end date, inputs, outputs, error and failed task id of ``record``.

        Inputs are included because the runner coerces (and masks) them after creating the
        execution. Logs are not touched: add them with :meth:`append_log`.
        """
        columns = self._execution_columns(record)
        changed = ("state", "end_date", "inputs", "outputs", "error", "failed_task_id")
        with self.batch():
            self._require_execution(record.id)
            self._query(
                f"UPDATE executions SET {', '.join(f'{c} = ?' for c in changed)} WHERE id = ?",
                [*(columns[c] for c in changed), record.id],
            )

    def append_log(self, execution_id: str, log: LogRecord) -> None:
        """Add one log line to an execution; raises NotFoundError for an unknown execution."""
        with self.batch():
            self._require_execution(execution_id)
            self._insert_log(execution_id, log)

    def _require_execution(self, execution_id: str) -> None:
        if not self._query("SELECT 1 FROM executions WHERE id = ?", (execution_id,)):
            raise NotFoundError(f"execution {execution_id} not found")

    def _insert_log(self, execution_id: str, log: LogRecord) -> None:
        self._query(
            "INSERT INTO execution_logs (execution_id, timestamp, level, task_id, message) "
            "VALUES (?, ?, ?, ?, ?)",
            (execution_id, _to_text(log.timestamp), log.level, log.task_id, log.message),
        )

    @staticmethod
    def _execution(row: sqlite3.Row, logs: list[LogRecord]) -> ExecutionRecord:
        fields = dict(row)
        fields["start_date"] = _from_text(row["start_date"])
        fields["end_date"] = _from_text(row["end_date"]) if row["end_date"] else None
        fields["inputs"] = json.loads(row["inputs"])
        fields["outputs"] = json.loads(row["outputs"])
        return ExecutionRecord(**fields, logs=logs)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution with its logs in the order they were written; NotFoundError if absent."""
        with self._snapshot():
            rows = self._query("SELECT * FROM executions WHERE id = ?", (execution_id,))
            if not rows:
                raise NotFoundError(f"execution {execution_id} not found")
            log_rows = self._query(
                "SELECT * FROM execution_logs WHERE execution_id = ? ORDER BY seq",
                (execution_id,),
            )
        logs = [
            LogRecord(_from_text(r["timestamp"]), r["level"], r["message"], r["task_id"])
            for r in log_rows
        ]
        return self._execution(rows[0], logs)

    def list_executions(
        self, namespace: str | None = None, flow_id: str | None = None, limit: int = 50
    ) -> list[ExecutionRecord]:
        """Executions newest first (by start date), optionally of one namespace and/or flow id.

        Logs are not loaded here (``logs`` is empty); use :meth:`get_execution` for them.
        """
        rows = self._query(
            "SELECT * FROM executions WHERE (?1 IS NULL OR namespace = ?1) "
            "AND (?2 IS NULL OR flow_id = ?2) ORDER BY start_date DESC, rowid DESC LIMIT ?3",
            (namespace, flow_id, max(limit, 0)),
        )
        return [self._execution(row, []) for row in rows]


def _conforms(instance: LocalInstance) -> Instance:
    """Static check (mypy) that LocalInstance implements the Instance protocol."""
    return instance
