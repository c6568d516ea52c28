"""``kestra-git``: the command line, a thin layer over the library.

Expected errors (any :class:`~kestra_git_tasks.errors.KestraGitError`) print one line on stderr
and exit 1; usage errors exit 2; anything else is a bug and keeps its traceback. One module per
command or command group; what they share (options, error handling, output) is in ``_common``.
Importing this package stays light: each command imports the library when it runs.
"""

from __future__ import annotations

import click

from . import (
    completion,
    dashboards,
    deploy,
    docs,
    executions,
    files,
    flows,
    known_hosts,
    kv,
    run,
    schema,
    server,
    tasks,
    validate,
)

__all__ = ["cli", "main"]


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from .. import __version__

        click.echo(f"kestra-git, version {__version__}")
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Kestra's Git patterns, run locally: sync flows and files between Git and an instance.

    Example: kestra-git run flows/hello.yml --input name=you
    """


for _command in (
    run.run,
    validate.validate,
    deploy.deploy,
    tasks.tasks_command,
    docs.docs,
    flows.flows,
    files.files,
    executions.executions,
    schema.schema,
    completion.completion,
    dashboards.dashboards,
    kv.kv,
    known_hosts.known_hosts,
    server.server,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``kestra-git`` console script.

    A run ended by SIGTERM exits 143 (128 + 15), as a process killed by the signal would, so
    systemd and CI see why it stopped; Ctrl-C keeps click's exit 1 with "Aborted!".
    """
    try:
        cli(prog_name="kestra-git")
    except SystemExit as exc:
        from ..signals import sigterm_received

        if sigterm_received():
            raise SystemExit(128 + 15) from exc
        raise
