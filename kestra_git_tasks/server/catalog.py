"""The flows the server serves, reloaded from the embedded instance when they change.

:meth:`FlowCatalog.refresh` is cheap when nothing changed (one ``MAX(rowid)`` query); when a flow
was added, changed, disabled or deleted (by a sync flow the server ran, ``flows deploy`` or any
other process), the catalog is rebuilt, reusing the parsed flows whose revision did not change,
and swapped in one assignment, so readers (request handlers, the scheduler) never lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import KestraGitError
from ..flow import Flow, parse_flow
from ..instance._sqlite import Database
from ..instance.trigger_state import flows_version, live_flows
from ..triggers import Schedule, Webhook
from ..yamlio import load_yaml

__all__ = ["FlowCatalog", "FlowEntry"]


@dataclass(frozen=True)
class FlowEntry:
    """A live flow: parsed (or why it could not be), with its enabled triggers."""

    namespace: str
    id: str
    revision: int
    flow: Flow | None
    problem: str | None = None
    webhooks: tuple[tuple[str, Webhook], ...] = ()
    schedules: tuple[tuple[str, Schedule], ...] = ()
    #: ``concurrency``: (limit, behavior QUEUE | CANCEL | FAIL), or None for no limit.
    concurrency: tuple[int, str] | None = None

    @property
    def uid(self) -> str:
        return f"{self.namespace}/{self.id}"


def _entry(namespace: str, flow_id: str, revision: int, source: str) -> FlowEntry:
    try:
        flow = parse_flow(source, f"{namespace}/{flow_id}")
    except KestraGitError as exc:
        return FlowEntry(namespace, flow_id, revision, None, problem=str(exc))
    from dataclasses import replace

    flow = replace(flow, revision=revision)
    webhooks: list[tuple[str, Webhook]] = []
    schedules: list[tuple[str, Schedule]] = []
    for spec in flow.triggers:
        if spec.cls is Webhook:
            model = Webhook.model_validate(spec.properties)
            if not model.disabled:
                webhooks.append((spec.id, model))
        elif spec.cls is Schedule:
            schedule = Schedule.model_validate(spec.properties)
            if not schedule.disabled:
                schedules.append((spec.id, schedule))
    try:
        concurrency = _concurrency(load_yaml(source))
    except (KestraGitError, ValueError) as exc:
        return FlowEntry(namespace, flow_id, revision, None, problem=f"concurrency: {exc}")
    return FlowEntry(
        namespace,
        flow_id,
        revision,
        flow,
        webhooks=tuple(webhooks),
        schedules=tuple(schedules),
        concurrency=concurrency,
    )


def _concurrency(document: Any) -> tuple[int, str] | None:
    """``concurrency: {limit: N, behavior: QUEUE}`` (Kestra's default behavior is QUEUE)."""
    section = document.get("concurrency") if isinstance(document, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ValueError("'concurrency' must be a mapping with 'limit' and 'behavior'")
    limit = section.get("limit")
    behavior = str(section.get("behavior", "QUEUE")).upper()
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"'limit' must be a positive integer (got {limit!r})")
    if behavior not in ("QUEUE", "CANCEL", "FAIL"):
        raise ValueError(f"'behavior' must be QUEUE, CANCEL or FAIL (got {behavior!r})")
    return limit, behavior


@dataclass
class FlowCatalog:
    """``namespace/id`` -> :class:`FlowEntry` of every live flow of the instance."""

    _entries: dict[tuple[str, str], FlowEntry] = field(default_factory=dict)
    _version: int | None = None

    def refresh(self, database: Database) -> bool:
        """Reload from ``database`` if any flow changed; True when something was reloaded."""
        version = flows_version(database)
        if version == self._version:
            return False
        old = self._entries
        entries: dict[tuple[str, str], FlowEntry] = {}
        for record in live_flows(database):
            key = (record.namespace, record.id)
            previous = old.get(key)
            if previous is not None and previous.revision == record.revision:
                entries[key] = previous
            else:
                entries[key] = _entry(record.namespace, record.id, record.revision, record.source)
        self._entries = entries
        self._version = version
        return True

    def get(self, namespace: str, flow_id: str) -> FlowEntry | None:
        return self._entries.get((namespace, flow_id))

    def entries(self) -> list[FlowEntry]:
        return sorted(self._entries.values(), key=lambda entry: (entry.namespace, entry.id))
