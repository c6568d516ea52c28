"""``kestra-git dashboards``: list, show, deploy and delete dashboards.

Dashboards are tenant-wide YAML documents keyed by their ``id``. The commands work on the
embedded instance, or on a Kestra server with ``--server``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import InstanceError, NotFoundError

if TYPE_CHECKING:
    from ..instance.base import DashboardRecord
from ._common import (
    Server,
    confirm_or_abort,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
    table,
)

__all__ = ["dashboards"]


@click.group()
def dashboards() -> None:
    """List, show, deploy and delete dashboards of the instance."""


@dashboards.command("list")
@home_option
@server_options
@json_option
@handle_errors
def dashboards_list(home: Path | None, server: Server, as_json: bool) -> None:
    """List dashboards (latest revisions).

    Example: kestra-git dashboards list --json
    """
    with open_store(home, server, read_only=True) as instance:
        records = instance.list_dashboards()
    if as_json:
        print_json([_record(r) for r in records])
        return
    if not records:
        click.echo("No dashboards.")
        return
    table(
        [[r.id, str(r.revision), f"{r.updated:%Y-%m-%d %H:%M:%S}"] for r in records],
        ["ID", "REVISION", "UPDATED"],
    )


@dashboards.command("show")
@click.argument("dashboard_id", metavar="ID")
@home_option
@server_options
@json_option
@handle_errors
def dashboards_show(dashboard_id: str, home: Path | None, server: Server, as_json: bool) -> None:
    """Print the source of a dashboard.

    Example: kestra-git dashboards show overview
    """
    with open_store(home, server, read_only=True) as instance:
        record = instance.get_dashboard(dashboard_id)
    if record is None:
        raise NotFoundError(
            f"dashboard {dashboard_id} not found; list them with `kestra-git dashboards list`"
        )
    if as_json:
        print_json(_record(record, source=True))
        return
    click.echo(record.source, nl=not record.source.endswith("\n"))


@dashboards.command("deploy")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@home_option
@server_options
@json_option
@handle_errors
def dashboards_deploy(
    files: tuple[Path, ...], home: Path | None, server: Server, as_json: bool
) -> None:
    """Save dashboard files into the instance, all or nothing.

    Example: kestra-git dashboards deploy _dashboards/overview.yml
    """
    from ..instance.base import dashboard_id

    sources = [file.read_text(encoding="utf-8") for file in files]
    for file, source in zip(files, sources, strict=True):
        try:
            dashboard_id(source)
        except InstanceError as exc:
            raise InstanceError(f"{file}: {exc}") from exc
    with open_store(home, server) as instance, instance.batch():
        saved = [instance.put_dashboard(source) for source in sources]
    if as_json:
        print_json([_record(record) for record in saved])
        return
    for record in saved:
        click.echo(f"{record.id}: revision {record.revision}")


@dashboards.command("delete")
@click.argument("dashboard_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@home_option
@server_options
@json_option
@handle_errors
def dashboards_delete(
    dashboard_id: str, yes: bool, home: Path | None, server: Server, as_json: bool
) -> None:
    """Delete a dashboard. Asks for confirmation unless --yes is given.

    Example: kestra-git dashboards delete overview --yes
    """
    with open_store(home, server, read_only=True) as instance:
        if instance.get_dashboard(dashboard_id) is None:
            raise NotFoundError(f"dashboard {dashboard_id} not found; nothing deleted")
        confirm_or_abort(
            f"Delete dashboard {dashboard_id}?", yes, "add --yes to delete without a question"
        )
        if not instance.delete_dashboard(dashboard_id):
            raise NotFoundError(f"dashboard {dashboard_id} not found; nothing deleted")
    if as_json:
        print_json({"id": dashboard_id, "deleted": True})
        return
    click.echo(f"Deleted {dashboard_id}")


def _record(record: DashboardRecord, *, source: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        "id": record.id,
        "revision": record.revision,
        "updated": record.updated.isoformat(),
    }
    if source:
        data["source"] = record.source
    return data
