"""Executions and flows as Kestra's REST API shows them (the subset the server fills)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..instance.base import ExecutionRecord
from ..secrets import MASK
from .catalog import FlowEntry
from .pool import Job

__all__ = ["execution_json", "flow_json", "job_json"]


def _state(current: str, start: datetime, end: datetime | None) -> dict[str, Any]:
    state: dict[str, Any] = {"current": current, "startDate": start.isoformat()}
    if end is not None:
        state["endDate"] = end.isoformat()
        state["duration"] = f"PT{(end - start).total_seconds():.3f}S"
    return state


def execution_json(record: ExecutionRecord, tenant: str) -> dict[str, Any]:
    """A recorded execution: ``id``, ``namespace``, ``flowId``, ``state.current``..."""
    return {
        "tenantId": tenant,
        "id": record.id,
        "namespace": record.namespace,
        "flowId": record.flow_id,
        "flowRevision": record.flow_revision,
        "state": _state(record.state, record.start_date, record.end_date),
        "inputs": record.inputs,
        "outputs": record.outputs,
        "trigger": record.trigger,
        "labels": [],
        "error": record.error,
        "failedTaskId": record.failed_task_id,
        "url": f"/executions/{record.id}",
    }


def job_json(job: Job, tenant: str) -> dict[str, Any]:
    """An execution the server accepted: its record once it ended, else CREATED/RUNNING."""
    if job.record is not None:
        return execution_json(job.record, tenant)
    return {
        "tenantId": tenant,
        "id": job.id,
        "namespace": job.flow.namespace,
        "flowId": job.flow.id,
        "flowRevision": job.flow.revision,
        "state": _state(job.state, job.created, None),
        "inputs": _masked_inputs(job),
        "outputs": {},
        "trigger": job.trigger,
        "labels": [],
        "url": f"/executions/{job.id}",
    }


def _masked_inputs(job: Job) -> dict[str, Any]:
    """A job's inputs before the runner masked them: SECRET inputs hidden."""
    secret = {item.id for item in job.flow.inputs if item.type == "SECRET"}
    return {key: MASK if key in secret else value for key, value in job.inputs.items()}


def flow_json(entry: FlowEntry, tenant: str) -> dict[str, Any]:
    """A flow of the catalog, with its triggers (no source: it may name secrets)."""
    flow = entry.flow
    triggers = [{"id": spec.id, "type": spec.type_name} for spec in (flow.triggers if flow else [])]
    return {
        "tenantId": tenant,
        "namespace": entry.namespace,
        "id": entry.id,
        "revision": entry.revision,
        "disabled": bool(flow.disabled) if flow else False,
        "description": flow.description if flow else None,
        "triggers": triggers,
        "invalid": entry.problem is not None,
    }
