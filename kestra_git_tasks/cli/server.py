"""``kestra-git server``: serve webhooks, schedules, the API and the status page until stopped."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..home import default_home
from ._common import handle_errors, home_option

__all__ = ["server"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port (0: any free).")
@home_option
@click.option("--workers", default=4, show_default=True, type=int, help="Executions at once.")
@click.option(
    "--basic-auth",
    metavar="USER:PASSWORD",
    envvar="KESTRA_GIT_SERVER_BASIC_AUTH",
    help="Protect the page and the API (not the keyed webhooks). "
    "[env: KESTRA_GIT_SERVER_BASIC_AUTH]",
)
@click.option(
    "--secrets-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of NAME: value secrets. [env: KESTRA_GIT_SECRETS_FILE]",
)
@click.option(
    "--grace",
    default=30.0,
    show_default=True,
    type=float,
    help="Seconds running executions get to finish after SIGTERM/SIGINT.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Allow binding a non-loopback address without --basic-auth.",
)
@handle_errors
def server(
    host: str,
    port: int,
    home: Path | None,
    workers: int,
    basic_auth: str | None,
    secrets_file: Path | None,
    grace: float,
    insecure_no_auth: bool,
) -> None:
    """Run flows on their triggers: Kestra's webhook URLs, Schedule triggers, an executions API
    and a status page at /, over the embedded instance. Stops on SIGTERM or Ctrl-C.

    Example: kestra-git server --port 8080 --secrets-file secrets.yml
    """
    from ..server import ServerConfig, serve
    from ..server.config import parse_basic_auth

    config = ServerConfig(
        home=home or default_home(),
        host=host,
        port=port,
        workers=workers,
        basic_auth=parse_basic_auth(basic_auth) if basic_auth else None,
        insecure_no_auth=insecure_no_auth,
        secrets_file=secrets_file,
        grace=grace,
        environ=dict(os.environ),
    )

    def ready(url: str) -> None:
        click.echo(f"kestra-git server listening on {url}", err=False)

    serve(config, on_ready=ready)
