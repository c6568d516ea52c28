"""``kestra-git executions``: list and show the executions ``kestra-git run`` recorded.

Executions always live in the embedded instance; these commands only read, and never create a
home folder. A flow is named ``NAMESPACE/ID``; an execution by its id or any unique start of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import (
    complete_flow_uid,
    handle_errors,
    home_option,
    json_option,
    local_instance,
    print_json,
    resolve_execution_id,
    split_flow_uid,
    table,
)

__all__ = ["executions"]


@click.group()
def executions() -> None:
    """List and show recorded executions."""


@executions.command("list")
@click.option("--namespace", "-n", default=None, help="Only this namespace.")
@click.option(
    "--flow",
    "flow_uid",
    default=None,
    metavar="NAMESPACE/ID",
    shell_complete=complete_flow_uid,
    help="Only this flow.",
)
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@home_option
@json_option
@handle_errors
def executions_list(
    namespace: str | None, flow_uid: str | None, limit: int, home: Path | None, as_json: bool
) -> None:
    """List executions, newest first.

    Example: kestra-git executions list --flow system/sync
    """
    flow_id = None
    if flow_uid is not None:
        try:
            flow_namespace, flow_id = split_flow_uid(flow_uid)
        except click.BadParameter as exc:
            exc.param_hint = "--flow"
            raise
        if namespace is not None and namespace != flow_namespace:
            raise click.BadParameter(
                f"--flow {flow_uid} is not in namespace {namespace!r}; give one of them",
                param_hint="--namespace",
            )
        namespace = flow_namespace
    with local_instance(home, read_only=True) as instance:
        records = instance.list_executions(namespace=namespace, flow_id=flow_id, limit=limit)
    if as_json:
        print_json([{k: v for k, v in r.to_dict().items() if k != "logs"} for r in records])
        return
    if not records:
        click.echo("No executions.")
        return
    table(
        [
            [r.id, f"{r.namespace}/{r.flow_id}", r.state, f"{r.start_date:%Y-%m-%d %H:%M:%S}"]
            for r in records
        ],
        ["ID", "FLOW", "STATE", "STARTED"],
    )


@executions.command("show")
@click.argument("execution_id")
@home_option
@json_option
@handle_errors
def executions_show(execution_id: str, home: Path | None, as_json: bool) -> None:
    """Show one execution with its outputs and logs; EXECUTION_ID may be any unique start.

    Example: kestra-git executions show 4xJ2
    """
    with local_instance(home, read_only=True) as instance:
        record = instance.get_execution(resolve_execution_id(instance, execution_id))
    if as_json:
        print_json(record.to_dict())
        return
    click.echo(f"Execution {record.id}: {record.namespace}/{record.flow_id} {record.state}")
    click.echo(
        f"Started {record.start_date.isoformat()}"
        + (f", ended {record.end_date.isoformat()}" if record.end_date else "")
    )
    if record.error:
        click.echo(f"Error: {record.error}")
    if record.outputs:
        click.echo("Outputs:")
        click.echo(json.dumps(record.outputs, indent=2, default=str))
    for log in record.logs:
        task = f"[{log.task_id}] " if log.task_id else ""
        click.echo(f"{log.timestamp:%H:%M:%S} {log.level:<5} {task}{log.message}")
