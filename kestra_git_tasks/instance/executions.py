"""Executions, their logs and the processes running them, in the embedded instance's database.

Only the embedded instance records executions (``kestra-git run`` writes them; a Kestra server
keeps its own). Tables: ``executions`` (one row per run: state, dates, inputs, outputs, error),
``execution_logs`` (one row per line, in the order written) and ``execution_owners`` (the
process running each execution, see :mod:`.owners`), so an execution left RUNNING by a dead
process can be marked KILLED. Every write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import InstanceError, NotFoundError
from ._sqlite import Database, from_text, now_text, to_text
from .base import ExecutionRecord, LogRecord
from .owners import ProcessOwner

__all__ = ["ExecutionStore"]


class ExecutionStore(Database):
    """Record executions and their logs; find executions left RUNNING by dead processes."""

    @staticmethod
    def _execution_columns(record: ExecutionRecord) -> dict[str, Any]:
        """The executions row of ``record``: its fields (columns share their names) but logs."""
        columns = {name: value for name, value in vars(record).items() if name != "logs"}
        columns["start_date"] = to_text(record.start_date)
        columns["end_date"] = to_text(record.end_date) if record.end_date else None
        columns["inputs"] = json.dumps(record.inputs, default=str)
        columns["outputs"] = json.dumps(record.outputs, default=str)
        columns["trigger"] = (
            None if record.trigger is None else json.dumps(record.trigger, default=str)
        )
        columns["flow_outputs"] = json.dumps(record.flow_outputs, default=str)
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
        changed: tuple[str, ...] = ("state", "end_date", "inputs", "outputs", "error")
        changed += ("failed_task_id", "trigger", "flow_outputs")
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
            (execution_id, to_text(log.timestamp), log.level, log.task_id, log.message),
        )

    @staticmethod
    def _execution(row: sqlite3.Row, logs: list[LogRecord]) -> ExecutionRecord:
        fields = dict(row)
        fields["start_date"] = from_text(row["start_date"])
        fields["end_date"] = from_text(row["end_date"]) if row["end_date"] else None
        fields["inputs"] = json.loads(row["inputs"])
        fields["outputs"] = json.loads(row["outputs"])
        fields["trigger"] = json.loads(row["trigger"]) if row["trigger"] else None
        fields["flow_outputs"] = json.loads(row["flow_outputs"])
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
            LogRecord(from_text(r["timestamp"]), r["level"], r["message"], r["task_id"])
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

    # -- owners of running executions (see owners.py) ------------------------------------------
    def set_execution_owner(self, execution_id: str, owner: ProcessOwner) -> None:
        """Record that ``owner`` runs the execution (replacing any previous owner)."""
        with self.batch():
            self._require_execution(execution_id)
            self._query(
                "INSERT OR REPLACE INTO execution_owners "
                "(execution_id, host, boot_id, pid, start_ticks) VALUES (?, ?, ?, ?, ?)",
                (execution_id, owner.host, owner.boot_id, owner.pid, owner.start_ticks),
            )

    def mark_dead_executions(self) -> list[str]:
        """Mark KILLED every RUNNING execution whose owner process certainly died; their ids.

        An execution with no recorded owner, or owned by a process of another host, is left
        alone: it may still be running.
        """
        marked: list[str] = []
        with self.batch():
            rows = self._query(
                "SELECT o.* FROM execution_owners AS o JOIN executions AS e "
                "ON e.id = o.execution_id WHERE e.state = 'RUNNING'"
            )
            for row in rows:
                owner = ProcessOwner(row["host"], row["boot_id"], row["pid"], row["start_ticks"])
                if not owner.is_dead():
                    continue
                self._query(
                    "UPDATE executions SET state = 'KILLED', end_date = ?, error = ? "
                    "WHERE id = ? AND state = 'RUNNING'",
                    (
                        now_text(),
                        f"killed: the process running this execution ({owner.describe()}) "
                        "ended without finishing it (SIGKILL, a crash or a restart of the "
                        "machine)",
                        row["execution_id"],
                    ),
                )
                marked.append(row["execution_id"])
        return marked
