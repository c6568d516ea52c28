"""Schedule triggers with Kestra's semantics (``shared/reference/kestra-core.md`` §5.1).

``cron`` has 5 fields, or 6 with ``withSeconds: true`` where seconds come **first**; nicknames
(``@hourly``...) work; dates are computed in ``timezone`` (the server's zone by default). The
last scheduled date each trigger fired is kept in the instance (:mod:`..instance.trigger_state`),
so a restart neither fires a date twice nor forgets the dates it missed, which
``recoverMissedSchedules`` handles: ``ALL`` (default) fires each missed date in turn, ``LAST``
only the latest, ``NONE`` none. Executions of one trigger never overlap: while one runs, nothing
fires, and the dates that pass meanwhile are skipped (the latest one fires once it has ended).
``stopAfter`` disables the trigger (until the flow changes) after an execution ends in one of
its states. ``trigger.date``, ``trigger.next`` and ``trigger.previous`` are ISO-8601 dates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..instance._sqlite import Database
from ..instance.trigger_state import TriggerStates
from ..triggers import Schedule
from .catalog import FlowCatalog, FlowEntry
from .pool import ExecutionPool, Job, PoolClosedError

__all__ = ["Scheduler", "cron_iter"]

_log = logging.getLogger(__name__)
#: Most missed dates recovered for one trigger (``ALL``); older ones are skipped with a warning.
MAX_RECOVERED = 1000
TriggerKey = tuple[str, str, str]


def _zone(schedule: Schedule) -> tzinfo:
    if not schedule.timezone:
        zone = datetime.now().astimezone().tzinfo
        return zone if zone is not None else UTC
    try:
        return ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone '{schedule.timezone}'") from exc


def cron_iter(schedule: Schedule, start: datetime) -> Any:
    """A croniter over ``schedule``'s dates after ``start``, in its timezone."""
    return croniter(
        schedule.cron.strip(),
        start.astimezone(_zone(schedule)),
        second_at_beginning=schedule.with_seconds,
    )


def next_date(schedule: Schedule, after: datetime) -> datetime:
    result: datetime = cron_iter(schedule, after).get_next(datetime)
    return result


def _due(schedule: Schedule, last: datetime, now: datetime) -> list[datetime]:
    """Scheduled dates in ``(last, now]``, oldest first (at most MAX_RECOVERED, newest kept)."""
    dates: list[datetime] = []
    iterator = cron_iter(schedule, last)
    while True:
        moment: datetime = iterator.get_next(datetime)
        if moment > now:
            return dates
        dates.append(moment)
        if len(dates) > MAX_RECOVERED:
            del dates[0]


class Scheduler:
    """Fires the Schedule triggers of the catalog; :meth:`tick` is called about every second."""

    def __init__(
        self, catalog: FlowCatalog, pool: ExecutionPool, on_done: Callable[[], None] | None = None
    ) -> None:
        self._on_done = on_done
        self._catalog = catalog
        self._pool = pool
        self._running: dict[TriggerKey, Job] = {}
        self._backlog: dict[TriggerKey, list[datetime]] = {}
        #: (flow revision, next date) of idle triggers: nothing to read before that date
        self._next: dict[TriggerKey, tuple[int, datetime]] = {}

    def tick(self, database: Database, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        states = TriggerStates(database)
        for entry in self._catalog.entries():
            if entry.flow is None or entry.flow.disabled:
                continue
            for trigger_id, schedule in entry.schedules:
                try:
                    self._consider(states, entry, trigger_id, schedule, now)
                except (ValueError, KeyError) as exc:
                    _log.warning("schedule %s of %s: %s", trigger_id, entry.uid, exc)

    def next_fire(self, entry: FlowEntry, schedule: Schedule, now: datetime) -> datetime | None:
        """When the schedule fires next (for the status page)."""
        try:
            return next_date(schedule, now)
        except (ValueError, KeyError):
            return None

    def _consider(
        self,
        states: TriggerStates,
        entry: FlowEntry,
        trigger_id: str,
        schedule: Schedule,
        now: datetime,
    ) -> None:
        key = (entry.namespace, entry.id, trigger_id)
        cached = self._next.get(key)
        if cached and cached[0] == entry.revision and now < cached[1]:
            return
        job = self._running.get(key)
        if job is not None:
            if not job.done.is_set():
                return  # no overlap
            del self._running[key]
            if schedule.stop_after and job.state in schedule.stop_after:
                states.stop(*key, entry.revision, job.state)
                _log.info("schedule %s of %s stopped after %s", trigger_id, entry.uid, job.state)
        if states.stopped(*key, entry.revision):
            return
        last = states.last_date(*key)
        if last is None:  # a new trigger starts from now
            states.set_last_date(*key, now)
            return
        if key not in self._backlog:  # first look since the server started: recovery
            self._backlog[key] = self._recover(schedule, _due(schedule, last, now))
            if self._skips(schedule):
                states.set_last_date(*key, now)  # NONE: the missed dates are dropped
                return
        backlog = self._backlog[key]
        if backlog:
            date = backlog.pop(0)
        else:
            due = _due(schedule, last, now)
            if not due:
                self._next[key] = (entry.revision, next_date(schedule, last))
                return
            date = due[-1]  # dates passed while the previous execution ran are skipped
        self._fire(states, entry, key, schedule, date)

    @staticmethod
    def _skips(schedule: Schedule) -> bool:
        return (schedule.recover_missed_schedules or "ALL").upper() == "NONE"

    @staticmethod
    def _recover(schedule: Schedule, missed: list[datetime]) -> list[datetime]:
        mode = (schedule.recover_missed_schedules or "ALL").upper()
        if mode == "NONE":
            return []
        if mode == "LAST":
            return missed[-1:]
        return missed

    def _fire(
        self,
        states: TriggerStates,
        entry: FlowEntry,
        key: TriggerKey,
        schedule: Schedule,
        date: datetime,
    ) -> None:
        assert entry.flow is not None
        previous = cron_iter(schedule, date).get_prev(datetime)
        variables = {
            "date": date.isoformat(),
            "next": next_date(schedule, date).isoformat(),
            "previous": previous.isoformat(),
        }
        trigger = {"id": key[2], "type": Schedule.type, "variables": variables}
        try:
            job = self._pool.submit(
                entry.flow,
                inputs=dict(schedule.inputs or {}),
                trigger=trigger,
                concurrency=entry.concurrency,
            )
        except PoolClosedError as exc:
            _log.warning("schedule %s of %s not fired at %s: %s", key[2], entry.uid, date, exc)
            return
        states.set_last_date(*key, date)
        self._running[key] = job
        if self._on_done is not None:
            on_done = self._on_done
            job.on_done(lambda _job: on_done())
