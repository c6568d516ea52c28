"""The SQLite file under an embedded instance: connection, schema migrations, transactions.

The database is ``home / "instance.db"`` in WAL mode, so readers never wait for a writer. Every
write transaction starts with ``BEGIN IMMEDIATE``: the writer lock is taken up front, and a second
process that wants to write waits for it (up to the busy timeout) instead of failing half-way or
losing an update. ``PRAGMA user_version`` records the schema version; ``_MIGRATIONS`` takes it
forward, one step per release that changed it.

A :class:`Database` owns one connection, usable only from the thread that created it. This is the
only module of the instance that opens SQLite; :mod:`.local` (flows and files) and
:mod:`.executions` (executions, logs, their owners) build on it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from ..errors import InstanceError

__all__ = ["SCHEMA_VERSION", "Database", "from_text", "now_text", "to_text"]


def _bump(kind: str, namespace: str) -> str:
    """Trigger statements setting the stamp of (kind, namespace) to the next sequence number.

    The row is created by ``INSERT ... WHERE NOT EXISTS`` (never a conflict, so an outer
    statement's ``OR IGNORE``/``OR REPLACE`` cannot skip the bump), then updated.
    """
    return f"""INSERT INTO change_stamps (kind, namespace, seq)
            SELECT '{kind}', {namespace}, 0 WHERE NOT EXISTS (SELECT 1 FROM change_stamps
            WHERE kind = '{kind}' AND namespace = {namespace});
        UPDATE change_stamps SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM change_stamps)
            WHERE kind = '{kind}' AND namespace = {namespace};"""


def _change_stamp_migration() -> tuple[str, ...]:
    """Schema 7: the change stamps (read by ``LocalInstance.change_stamp``).

    ``change_stamps`` holds one row per (kind, namespace) ever written (dashboards: namespace
    ``''``) with the global sequence number of its last write; ``instance_id`` names this
    database, so a stamp of a deleted and re-created file never equals an old one. Triggers on
    every INSERT, UPDATE and DELETE of ``flows``, ``files`` and ``dashboards`` bump the row in
    the writing transaction, whoever writes (this package, another process, the sqlite3 shell);
    an UPDATE moving a row to another namespace bumps both.
    """
    statements = [
        "CREATE TABLE instance_id (id TEXT NOT NULL)",
        "INSERT INTO instance_id (id) VALUES (lower(hex(randomblob(16))))",
        """CREATE TABLE change_stamps (kind TEXT NOT NULL, namespace TEXT NOT NULL,
            seq INTEGER NOT NULL, PRIMARY KEY (kind, namespace))""",
        "CREATE INDEX change_stamps_by_seq ON change_stamps (seq)",
    ]
    for table, kind in (("flows", "flow"), ("files", "file"), ("dashboards", "dashboard")):
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            namespace = "''" if kind == "dashboard" else f"{row}.namespace"
            statements.append(
                f"CREATE TRIGGER {table}_stamp_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {_bump(kind, namespace)} END"
            )
        if kind != "dashboard":
            statements.append(
                f"CREATE TRIGGER {table}_stamp_move AFTER UPDATE OF namespace ON {table} "
                f"WHEN OLD.namespace IS NOT NEW.namespace BEGIN {_bump(kind, 'OLD.namespace')} END"
            )
    return tuple(statements)


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
    (  # which process runs an execution: see owners.py and mark_dead_executions()
        """CREATE TABLE execution_owners (execution_id TEXT PRIMARY KEY
            REFERENCES executions (id) ON DELETE CASCADE, host TEXT NOT NULL,
            boot_id TEXT NOT NULL, pid INTEGER NOT NULL, start_ticks INTEGER)""",
    ),
    (  # dashboards: tenant-wide, keyed by id, every revision kept (see local.py)
        """CREATE TABLE dashboards (id TEXT NOT NULL,
            revision INTEGER NOT NULL CHECK (revision >= 1), source TEXT NOT NULL,
            deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)), created TEXT NOT NULL,
            PRIMARY KEY (id, revision))""",
    ),
    (  # Kestra's KV store of a namespace: see kv.py and the kv() template function
        """CREATE TABLE kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            updated TEXT NOT NULL, PRIMARY KEY (namespace, key))""",
    ),
    (  # what started an execution (kestra-git server); each trigger's state: trigger_state.py
        "ALTER TABLE executions ADD COLUMN trigger TEXT",
        """CREATE TABLE trigger_states (namespace TEXT NOT NULL, flow_id TEXT NOT NULL,
            trigger_id TEXT NOT NULL, last_date TEXT, stopped_revision INTEGER,
            stopped_state TEXT, updated TEXT NOT NULL,
            PRIMARY KEY (namespace, flow_id, trigger_id))""",
    ),
    (  # the flow's own outputs (Kestra's execution outputs), next to the tasks' outputs
        "ALTER TABLE executions ADD COLUMN flow_outputs TEXT NOT NULL DEFAULT '{}'",
    ),
    _change_stamp_migration(),
)

#: The schema version this code writes; a database with a higher one is refused.
SCHEMA_VERSION = len(_MIGRATIONS)


def now_text() -> str:
    return to_text(datetime.now(UTC))


def to_text(moment: datetime) -> str:
    """ISO-8601 UTC with a fixed width, so text order is time order; naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Database:
    """One SQLite connection to ``home / "instance.db"``, migrated to :data:`SCHEMA_VERSION`.

    ``busy_timeout`` is how many seconds a write waits for another process's write transaction
    before failing. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, home: Path, *, busy_timeout: float = 30.0) -> None:
        self.home = Path(home)
        self.path = self.home / "instance.db"
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
