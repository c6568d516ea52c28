"""``kestra-git flows``, ``files`` and ``executions``: look into the instance.

``flows`` and ``files`` work on the embedded instance, or on a Kestra server with ``--server``;
executions are always the embedded instance's (they are recorded by ``kestra-git run``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .cli_common import (
    Server,
    flow_files,
    handle_errors,
    home_option,
    json_option,
    local_instance,
    open_store,
    print_json,
    server_options,
    table,
)
from .errors import NotFoundError

__all__ = ["executions", "files", "flows"]


# -- flows ---------------------------------------------------------------------------------------
@click.group()
def flows() -> None:
    """List, show, deploy and delete flows of the instance."""


@flows.command("list")
@click.option("--namespace", "-n", default=None, help="Only this namespace.")
@click.option("--children/--no-children", default=True, help="Include child namespaces.")
@home_option
@server_options
@json_option
@handle_errors
def flows_list(
    namespace: str | None, children: bool, home: Path | None, server: Server, as_json: bool
) -> None:
    """List flows (latest revisions).

    Example: kestra-git flows list --namespace prod
    """
    with open_store(home, server) as instance:
        namespaces = [namespace] if namespace else _top_namespaces(instance.list_namespaces())
        records = [
            record
            for ns in namespaces
            for record in instance.list_flows(ns, include_children=children or not namespace)
        ]
    if as_json:
        print_json(
            [
                {
                    "namespace": r.namespace,
                    "id": r.id,
                    "revision": r.revision,
                    "updated": r.updated.isoformat(),
                }
                for r in records
            ]
        )
        return
    if not records:
        click.echo("No flows.")
        return
    table(
        [[r.namespace, r.id, str(r.revision), f"{r.updated:%Y-%m-%d %H:%M:%S}"] for r in records],
        ["NAMESPACE", "ID", "REVISION", "UPDATED"],
    )


def _top_namespaces(namespaces: list[str]) -> list[str]:
    return [ns for ns in namespaces if not any(ns.startswith(other + ".") for other in namespaces)]


def _split_uid(uid: str) -> tuple[str, str]:
    namespace, sep, flow_id = uid.rpartition("/")
    if not sep or not namespace or not flow_id:
        raise click.BadParameter(f"expected NAMESPACE/ID, got {uid!r}")
    return namespace, flow_id


@flows.command("show")
@click.argument("uid", metavar="NAMESPACE/ID")
@home_option
@server_options
@handle_errors
def flows_show(uid: str, home: Path | None, server: Server) -> None:
    """Print the source of a flow's latest revision.

    Example: kestra-git flows show prod/my_flow
    """
    namespace, flow_id = _split_uid(uid)
    with open_store(home, server) as instance:
        record = instance.get_flow(namespace, flow_id)
    if record is None:
        raise NotFoundError(f"flow {uid} not found; list flows with `kestra-git flows list`")
    click.echo(record.source, nl=not record.source.endswith("\n"))


@flows.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@home_option
@server_options
@handle_errors
def flows_deploy(files: tuple[Path, ...], home: Path | None, server: Server) -> None:
    """Save flow files into the instance, all or nothing (an identical source keeps its revision).

    Example: kestra-git flows deploy flows/hello.yml
    """
    from .flow import load_flow_file

    parsed = [load_flow_file(file) for file in flow_files(files)]
    with open_store(home, server) as instance, instance.batch():
        saved = [instance.put_flow(flow.source) for flow in parsed]
    for record in saved:
        click.echo(f"{record.namespace}/{record.id}: revision {record.revision}")


@flows.command("delete")
@click.argument("uid", metavar="NAMESPACE/ID")
@home_option
@server_options
@handle_errors
def flows_delete(uid: str, home: Path | None, server: Server) -> None:
    """Delete a flow (its revisions are kept).

    Example: kestra-git flows delete prod/my_flow
    """
    namespace, flow_id = _split_uid(uid)
    with open_store(home, server) as instance:
        if not instance.delete_flow(namespace, flow_id):
            raise NotFoundError(f"flow {uid} not found; nothing deleted")
    click.echo(f"Deleted {uid}")


# -- namespace files -----------------------------------------------------------------------------
@click.group()
def files() -> None:
    """List and show namespace files of the instance."""


@files.command("list")
@click.argument("namespace")
@click.option("--children/--no-children", default=False, help="Include child namespaces.")
@home_option
@server_options
@json_option
@handle_errors
def files_list(
    namespace: str, children: bool, home: Path | None, server: Server, as_json: bool
) -> None:
    """List the namespace files of NAMESPACE.

    Example: kestra-git files list prod
    """
    with open_store(home, server) as instance:
        records = instance.list_files(namespace, include_children=children)
    if as_json:
        print_json(
            [
                {
                    "namespace": r.namespace,
                    "path": r.path,
                    "revision": r.revision,
                    "size": r.size,
                    "sha256": r.sha256,
                }
                for r in records
            ]
        )
        return
    if not records:
        click.echo(f"No files in {namespace}.")
        return
    table(
        [[r.namespace, r.path, str(r.revision), str(r.size)] for r in records],
        ["NAMESPACE", "PATH", "REVISION", "SIZE"],
    )


@files.command("show")
@click.argument("namespace")
@click.argument("path")
@home_option
@server_options
@handle_errors
def files_show(namespace: str, path: str, home: Path | None, server: Server) -> None:
    """Write the content of a namespace file to stdout.

    Example: kestra-git files show prod /scripts/etl.py
    """
    with open_store(home, server) as instance:
        content = instance.read_file(namespace, path)
    sys.stdout.buffer.write(content)
    sys.stdout.flush()


# -- executions ----------------------------------------------------------------------------------
@click.group()
def executions() -> None:
    """List and show recorded executions."""


@executions.command("list")
@click.option("--namespace", "-n", default=None, help="Only this namespace.")
@click.option("--flow", "flow_id", default=None, help="Only this flow id.")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@home_option
@json_option
@handle_errors
def executions_list(
    namespace: str | None, flow_id: str | None, limit: int, home: Path | None, as_json: bool
) -> None:
    """List executions, newest first.

    Example: kestra-git executions list --namespace system
    """
    with local_instance(home) as instance:
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
    """Show one execution with its outputs and logs.

    Example: kestra-git executions show 4xJ2...
    """
    with local_instance(home) as instance:
        record = instance.get_execution(execution_id)
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
