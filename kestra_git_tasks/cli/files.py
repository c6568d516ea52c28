"""``kestra-git files``: list and show namespace files.

They work on the embedded instance, or on a Kestra server with ``--server``; they only read,
and never create a home folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

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
@home_option
@server_options
@handle_errors
def files_show(namespace: str, path: str, home: Path | None, server: Server) -> None:
    """Write the content of a namespace file to stdout.

    Example: kestra-git files show prod /scripts/etl.py
    """
    with open_store(home, server, read_only=True) as instance:
        content = instance.read_file(namespace, path)
    sys.stdout.buffer.write(content)
    sys.stdout.flush()
