"""``kestra-git flows``: list, show, deploy, delete flows, and reach their revisions.

They work on the embedded instance, or on a Kestra server with ``--server``. Only ``deploy``
creates the embedded instance's home folder; the others need one. A flow is
always named ``NAMESPACE/ID``; every command that prints data takes ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import NotFoundError
from ._common import (
    Server,
    confirm_or_abort,
    flow_files,
    flow_uid_argument,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
    split_flow_uid,
    table,
)

if TYPE_CHECKING:
    from ..instance.base import FlowRecord, Instance

__all__ = ["flows"]


@click.group()
def flows() -> None:
    """List, show, deploy, delete and restore flows of the instance."""


def _record(
    record: FlowRecord, *, source: bool = False, state: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "namespace": record.namespace,
        "id": record.id,
        "revision": record.revision,
        "updated": record.updated.isoformat(),
    }
    if record.deleted:
        data["deleted"] = True
    if state:
        data["state"] = state
    if source:
        data["source"] = record.source
    return data


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
        print_json([_record(r) for r in records])
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


def _revision(instance: Instance, uid: str, revision: int | None) -> FlowRecord:
    """The latest live revision of ``uid``, or its revision ``revision`` (deleted ones too)."""
    namespace, flow_id = split_flow_uid(uid)
    if revision is None:
        record = instance.get_flow(namespace, flow_id)
        if record is None:
            raise NotFoundError(f"flow {uid} not found; list flows with `kestra-git flows list`")
        return record
    revisions = instance.flow_revisions(namespace, flow_id)
    chosen = [r for r in revisions if r.revision == revision]
    if not chosen:
        known = ", ".join(str(r.revision) for r in revisions) or "none"
        raise NotFoundError(
            f"flow {uid} has no revision {revision} (revisions: {known}); "
            f"list them with `kestra-git flows revisions {uid}`"
        )
    return chosen[0]


_REVISION = click.option(
    "--revision", "-r", type=click.IntRange(min=1), default=None, help="This revision."
)


@flows.command("show")
@flow_uid_argument
@_REVISION
@home_option
@server_options
@json_option
@handle_errors
def flows_show(
    uid: str, revision: int | None, home: Path | None, server: Server, as_json: bool
) -> None:
    """Print the source of a flow's latest revision (or of --revision N).

    Example: kestra-git flows show prod/my_flow --revision 2
    """
    with open_store(home, server, read_only=True) as instance:
        record = _revision(instance, uid, revision)
    if as_json:
        print_json(_record(record, source=True))
        return
    click.echo(record.source, nl=not record.source.endswith("\n"))


@flows.command("revisions")
@flow_uid_argument
@home_option
@server_options
@json_option
@handle_errors
def flows_revisions(uid: str, home: Path | None, server: Server, as_json: bool) -> None:
    """List every revision of a flow, oldest first (deleted ones marked).

    Example: kestra-git flows revisions prod/my_flow
    """
    namespace, flow_id = split_flow_uid(uid)
    with open_store(home, server, read_only=True) as instance:
        records = instance.flow_revisions(namespace, flow_id)
    if not records:
        raise NotFoundError(f"flow {uid} has no revisions; list flows with `kestra-git flows list`")
    if as_json:
        print_json([_record(r) for r in records])
        return
    table(
        [
            [str(r.revision), f"{r.updated:%Y-%m-%d %H:%M:%S}", "deleted" if r.deleted else ""]
            for r in records
        ],
        ["REVISION", "UPDATED", "DELETED"],
    )


@flows.command("restore")
@flow_uid_argument
@click.option(
    "--revision", "-r", type=click.IntRange(min=1), required=True, help="The revision to restore."
)
@home_option
@server_options
@json_option
@handle_errors
def flows_restore(
    uid: str, revision: int, home: Path | None, server: Server, as_json: bool
) -> None:
    """Save an old revision's source again, as a new revision (history is kept).

    Restoring the source the flow already has changes nothing. A deleted flow comes back.

    Example: kestra-git flows restore prod/my_flow --revision 3
    """
    with open_store(home, server, read_only=True) as instance:
        old = _revision(instance, uid, revision)
        current = instance.get_flow(old.namespace, old.id)
        record = instance.put_flow(old.source)
    state = "unchanged" if current and current.revision == record.revision else "restored"
    if as_json:
        print_json(_record(record, state=state) | {"restoredFrom": revision})
        return
    if state == "unchanged":
        click.echo(f"{uid}: unchanged (revision {record.revision} already has that source)")
    else:
        click.echo(f"{uid}: revision {record.revision} (the source of revision {revision})")


@flows.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@home_option
@server_options
@json_option
@handle_errors
def flows_deploy(files: tuple[Path, ...], home: Path | None, server: Server, as_json: bool) -> None:
    """Save flow files into the instance, all or nothing (an identical source keeps its revision).

    Each flow is reported as created, updated (a new revision) or unchanged.

    Example: kestra-git flows deploy flows/hello.yml
    """
    from ..flow import load_flow_file

    parsed = [load_flow_file(file) for file in flow_files(files)]
    with open_store(home, server) as instance, instance.batch():
        before = {flow.uid: instance.get_flow(flow.namespace, flow.id) for flow in parsed}
        saved = [(flow, instance.put_flow(flow.source)) for flow in parsed]
    results = []
    for flow, record in saved:
        previous = before[flow.uid]
        if previous is None:
            state = "created"
        else:
            state = "unchanged" if previous.revision == record.revision else "updated"
        results.append((flow, record, state))
    if as_json:
        print_json([_record(r, state=state) | {"file": f.path} for f, r, state in results])
        return
    for _flow, record, state in results:
        click.echo(f"{record.namespace}/{record.id}: {state}, revision {record.revision}")


@flows.command("delete")
@flow_uid_argument
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@home_option
@server_options
@json_option
@handle_errors
def flows_delete(uid: str, yes: bool, home: Path | None, server: Server, as_json: bool) -> None:
    """Delete a flow (its revisions are kept: `flows restore` brings it back).

    Asks for confirmation unless --yes is given.

    Example: kestra-git flows delete prod/my_flow --yes
    """
    namespace, flow_id = split_flow_uid(uid)
    with open_store(home, server, read_only=True) as instance:
        if instance.get_flow(namespace, flow_id) is None:
            raise NotFoundError(f"flow {uid} not found; nothing deleted")
        confirm_or_abort(f"Delete flow {uid}?", yes, "add --yes to delete without a question")
        if not instance.delete_flow(namespace, flow_id):
            raise NotFoundError(f"flow {uid} not found; nothing deleted")
    if as_json:
        print_json({"namespace": namespace, "id": flow_id, "deleted": True})
        return
    click.echo(f"Deleted {uid}")
