"""``kestra-git known-hosts add HOST[:PORT]``: trust a Git server's SSH host key, after
showing its fingerprint.

The key is read the way the tasks will see it (libgit2 negotiates the same key type), its
SHA256 fingerprint is shown, and the line is appended to the known_hosts file only after the
user confirms it (or with ``--yes``, for scripts that checked the fingerprint another way).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ._common import handle_errors, home_option

__all__ = ["known_hosts"]


@click.group("known-hosts")
def known_hosts() -> None:
    """Trust the SSH host keys of Git servers (checked on every SSH connection)."""


def _split_target(target: str) -> tuple[str, int]:
    host, _, port = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
    if not host:
        host, port = target, ""
    if not port:
        return host.strip("[]"), 22
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"'{port}' is not a port number", param_hint="HOST[:PORT]")
    return host.strip("[]"), int(port)


@known_hosts.command("add")
@click.argument("target", metavar="HOST[:PORT]")
@click.option("--yes", "-y", is_flag=True, help="Write without asking (check the fingerprint!).")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="known_hosts file to write. [default: KESTRA_GIT_KNOWN_HOSTS's first file, else "
    "the home folder's known_hosts]",
)
@home_option
@handle_errors
def add(target: str, yes: bool, file: Path | None, home: Path | None) -> None:
    """Connect to HOST (port 22 unless given), show its host key's fingerprint, and add it to
    the known_hosts file once confirmed.

    Example: kestra-git known-hosts add github.com
    """
    from ..git.certcheck import scan_host_key
    from ..git.known_hosts import Verdict, check, default_paths, host_field
    from ..git.known_hosts import add as add_line
    from ..home import default_home

    host, port = _split_target(target)
    paths = default_paths(home or default_home(), os.environ)
    destination = file or paths[0]
    key = scan_host_key(host, port)
    where = host_field(host, port)
    click.echo(f"{where} offers a {key.key_type} key with fingerprint {key.fingerprint}")
    if check((destination,), host, port, key) is Verdict.MATCH:
        click.echo(f"Already trusted in {destination}.")
        return
    if not yes and not click.confirm(f"Trust this key and add it to {destination}?"):
        click.echo("Nothing written.")
        raise SystemExit(1)
    line = add_line(destination, host, port, key)
    click.echo(f"Added to {destination}: {line.split(' ', 2)[0]} {key.key_type}")
