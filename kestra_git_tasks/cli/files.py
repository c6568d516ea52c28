"""``kestra-git files``: list and show namespace files, and reach their revisions.

They work on the embedded instance, or on a Kestra server with ``--server`` (revisions need
Kestra 1.2+); they only read, and never create a home folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import NotFoundError
from ._common import (
    Server,
    handle_errors,
    home_option,
    json_option,
    open_store,
    print_json,
    server_options,
    table,
)

__all__ = ["files"]


@click.group()
def files() -> None:
    """List and show namespace files of the instance, and their revisions."""


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
    with open_store(home, server, read_only=True) as instance:
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
@click.option("--revision", "-r", type=click.IntRange(min=1), default=None, help="This revision.")
@home_option
@server_options
@handle_errors
def files_show(
    namespace: str, path: str, revision: int | None, home: Path | None, server: Server
) -> None:
    """Write the content of a namespace file (or of --revision N) to stdout.

    Example: kestra-git files show prod /scripts/etl.py --revision 1
    """
    with open_store(home, server, read_only=True) as instance:
        if revision is None:
            content = instance.read_file(namespace, path)
        else:
            content = instance.read_file_revision(namespace, path, revision)
    sys.stdout.buffer.write(content)
    sys.stdout.flush()


@files.command("revisions")
@click.argument("namespace")
@click.argument("path")
@home_option
@server_options
@json_option
@handle_errors
def files_revisions(
    namespace: str, path: str, home: Path | None, server: Server, as_json: bool
) -> None:
    """List every revision of a namespace file, oldest first.

    On a Kestra server (1.2+) a deleted file shows no revisions.

    Example: kestra-git files revisions prod /scripts/etl.py
    """
    with open_store(home, server, read_only=True) as instance:
        records = instance.file_revisions(namespace, path)
    if not records:
        raise NotFoundError(
            f"namespace file {path} of namespace {namespace!r} has no revisions; "
            f"list the files with `kestra-git files list {namespace}`"
        )
    if as_json:
        print_json(
            [
                {
                    "namespace": r.namespace,
                    "path": r.path,
                    "revision": r.revision,
                    "size": r.size,
                    "sha256": r.sha256,
                    "deleted": r.deleted,
                }
                for r in records
            ]
        )
        return
    table(
        [
            [str(r.revision), str(r.size), r.sha256[:12], "deleted" if r.deleted else ""]
            for r in records
        ],
        ["REVISION", "SIZE", "SHA256", "DELETED"],
    )
