"""``kestra-git flows``: list, show, deploy and delete flows.

They work on the embedded instance, or on a Kestra server with ``--server``. Only ``deploy``
creates the embedded instance's home folder; ``list``, ``show`` and ``delete`` need one.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import NotFoundError
from ._common import (
    Server,
    flow_files,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
    table,
)

__all__ = ["flows"]


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
    with open_store(home, server, read_only=True) as instance:
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
    with open_store(home, server, read_only=True) as instance:
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
    from ..flow import load_flow_file

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
    with open_store(home, server, read_only=True) as instance:
        if not instance.delete_flow(namespace, flow_id):
            raise NotFoundError(f"flow {uid} not found; nothing deleted")
    click.echo(f"Deleted {uid}")
