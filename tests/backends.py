"""Helpers for tests that run against either backend (embedded instance or fake Kestra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kestra_git_tasks import run_flow
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import ExecutionRecord, Instance
from kestra_git_tasks.instance.local import LocalInstance

NAMESPACES = ("my.namespace", "company.team", "dev", "prod", "prod.team", "system", "a")


def run_flow_on(instance: Instance, target: Any, *, home: Path, **kwargs: Any) -> ExecutionRecord:
    """``run_flow`` with ``instance`` holding the flows and files; executions are recorded in
    the embedded instance of ``home`` (the instance itself when it is the embedded one)."""
    if isinstance(instance, LocalInstance):
        return run_flow(target, instance=instance, home=home, **kwargs)
    with LocalInstance(home, validator=validate_source) as local:
        return run_flow(target, instance=local, flows=instance, home=home, **kwargs)


def files_state(instance: Instance) -> list[tuple[str, str, int, str]]:
    """Every namespace file the tests use: (namespace, path, revision, sha256)."""
    return [
        (record.namespace, record.path, record.revision, record.sha256)
        for namespace in NAMESPACES
        for record in instance.list_files(namespace)
    ]


def stored_execution(instance: Instance, home: Path, execution_id: str) -> ExecutionRecord:
    """The execution as recorded (always in the embedded instance of ``home``)."""
    if isinstance(instance, LocalInstance):
        return instance.get_execution(execution_id)
    with LocalInstance(home) as local:
        return local.get_execution(execution_id)
