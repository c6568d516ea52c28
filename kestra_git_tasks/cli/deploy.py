"""``kestra-git deploy``: the CI/CD pattern, a folder of flows to a namespace."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..home import default_home
from ._common import (
    Server,
    check_namespace,
    color_option,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
    stdout_style,
)
from ._tables import Style, format_table, state_kind

if TYPE_CHECKING:
    from ..instance.base import LogRecord

__all__ = ["deploy"]


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--namespace",
    "-n",
    required=True,
    callback=lambda ctx, param, value: check_namespace(value, "--namespace"),
    help="Namespace the flows are deployed to.",
)
@click.option(
    "--include-child-namespaces",
    is_flag=True,
    help="Deploy sub-folders into child namespaces (a/b/f.yml -> NS.a.b).",
)
@click.option(
    "--delete",
    is_flag=True,
    help="Delete flows of the namespace that are not in DIRECTORY (same guards as "
    "SyncFlows: never everything at once unless --allow-empty).",
)
@click.option("--allow-empty", is_flag=True, help="Allow --delete when DIRECTORY has no flow.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when the plan has changes (pending with --dry-run), "
    "1 on error (terraform's convention).",
)
@home_option
@server_options
@json_option
@color_option
@handle_errors
def deploy(
    directory: Path,
    namespace: str,
    include_child_namespaces: bool,
    delete: bool,
    allow_empty: bool,
    dry_run: bool,
    detailed_exitcode: bool,
    home: Path | None,
    server: Server,
    as_json: bool,
    no_color: bool,
) -> None:
    """Deploy the flows of DIRECTORY to NAMESPACE: plan, then apply all or nothing.

    Every flow is validated before the first write; the rows say what changed. This is the
    CI/CD pattern: run `kestra-git validate` on pull requests and `kestra-git deploy` on merge.

    In CI, `--dry-run --detailed-exitcode` tells whether a deploy is pending: exit 0 when
    nothing would change, 2 when something would, 1 on error.

    Example: kestra-git deploy flows/ --namespace prod --server https://kestra.example.com --delete
    """
    from ..deploy import deploy_folder

    with open_store(home, server) as store:
        rows = deploy_folder(
            directory,
            namespace,
            store,
            home=home or default_home(),
            include_child_namespaces=include_child_namespaces,
            delete=delete,
            allow_empty=allow_empty,
            dry_run=dry_run,
            log_sinks=[_echo_warning],
        )
    changed = sum(1 for r in rows if r["syncState"] != "UNCHANGED")
    if as_json:
        print_json(rows)
    else:
        _print_rows(rows, stdout_style(no_color))
        verb = "would change" if dry_run else "changed"
        click.echo(f"{len(rows)} flow(s), {changed} {verb}", err=True)
    if detailed_exitcode and changed:
        sys.exit(2)


def _print_rows(rows: list[dict[str, Any]], style: Style | None) -> None:
    body = [
        [r["gitPath"] or "-", r["syncState"], r["namespace"], r["flowId"], str(r["revision"])]
        for r in rows
    ]
    headers = ["PATH", "STATE", "NAMESPACE", "FLOW", "REVISION"]
    for line in format_table(headers, body, style=style, styled={1: state_kind}):
        click.echo(line)


def _echo_warning(log: LogRecord) -> None:
    """Warnings and errors of the deploy on stderr (the rows are the rest of the story)."""
    if log.level in ("WARN", "ERROR"):
        click.echo(f"{log.level}: {log.message}", err=True)
