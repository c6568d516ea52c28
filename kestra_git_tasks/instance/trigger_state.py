"""Trigger state in the embedded instance, for ``kestra-git server``.

Table ``trigger_states`` (schema version 3): one row per ``(namespace, flow_id, trigger_id)``
with ``last_date``, the scheduled date of the last execution a Schedule trigger started (UTC),
and, when ``stopAfter`` disabled it, ``stopped_state`` and the flow revision it applies to (a new
revision of the flow enables the trigger again).
A restarted server reads it back, so it neither fires a date twice nor forgets the dates it
missed (``recoverMissedSchedules``). :func:`flows_version` and :func:`live_flows` let the
server notice, cheaply, that flows were added, changed or deleted by another process.
"""

from __future__ import annotations

from datetime import datetime

from ._sqlite import Database, from_text, now_text, to_text
from .base import FlowRecord

__all__ = ["TriggerStates", "flows_version", "live_flows"]


class TriggerStates:
    """Read and write the last fire date of triggers, through an open :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def last_date(self, namespace: str, flow_id: str, trigger_id: str) -> datetime | None:
        rows = self._db._query(
            "SELECT last_date FROM trigger_states WHERE namespace = ? AND flow_id = ? "
            "AND trigger_id = ?",
            (namespace, flow_id, trigger_id),
        )
        return from_text(rows[0][0]) if rows and rows[0][0] else None

    def set_last_date(self, namespace: str, flow_id: str, trigger_id: str, when: datetime) -> None:
        with self._db.batch():
            self._db._query(
                "INSERT INTO trigger_states (namespace, flow_id, trigger_id, last_date, updated) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace, flow_id, trigger_id) "
                "DO UPDATE SET last_date = excluded.last_date, updated = excluded.updated",
                (namespace, flow_id, trigger_id, to_text(when), now_text()),
            )

    def stopped(self, namespace: str, flow_id: str, trigger_id: str, revision: int) -> bool:
        rows = self._db._query(
            "SELECT stopped_revision FROM trigger_states WHERE namespace = ? AND flow_id = ? "
            "AND trigger_id = ?",
            (namespace, flow_id, trigger_id),
        )
        return bool(rows) and rows[0][0] == revision

    def stop(
        self, namespace: str, flow_id: str, trigger_id: str, revision: int, state: str
    ) -> None:
        """Disable the trigger for this revision of the flow (``stopAfter``)."""
        with self._db.batch():
            self._db._query(
                "INSERT INTO trigger_states (namespace, flow_id, trigger_id, stopped_revision, "
                "stopped_state, updated) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET "
                "stopped_revision = excluded.stopped_revision, "
                "stopped_state = excluded.stopped_state, updated = excluded.updated",
                (namespace, flow_id, trigger_id, revision, state, now_text()),
            )


def flows_version(database: Database) -> int:
    """Changes whenever a flow row is inserted, updated or deleted, by anyone: the highest flow
    change stamp (schema 7's triggers bump it in the writing transaction). One read of the
    ``change_stamps`` rows of kind ``flow`` (one per namespace), not of the flows table."""
    row = database._query("SELECT COALESCE(MAX(seq), 0) FROM change_stamps WHERE kind = 'flow'")
    return int(row[0][0])


def live_flows(database: Database) -> list[FlowRecord]:
    """The latest revision of every flow that is not deleted, in every namespace."""
    rows = database._query(
        "SELECT namespace, id, MAX(revision) AS revision, source, deleted, created "
        "FROM flows GROUP BY namespace, id ORDER BY namespace, id"
    )
    return [
        FlowRecord(row[0], row[1], row[2], row[3], from_text(row[5]), False)
        for row in rows
        if not row[4]
    ]
