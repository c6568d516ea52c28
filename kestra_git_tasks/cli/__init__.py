"""``kestra-git``: the command line, a thin layer over the library.

Expected errors (any :class:`~kestra_git_tasks.errors.KestraGitError`) print one line on stderr
and exit 1; usage errors exit 2; anything else is a bug and keeps its traceback. One module per
command or command group; what they share (options, error handling, output) is in ``_common``.

Importing this package stays light: the commands are listed in :data:`COMMANDS` by name and
loaded when they are asked for (:class:`LazyGroup`), so ``kestra-git run`` imports the module
of ``run`` and none of the others; ``--help`` and completion load them all (they show
each command's help). Each command imports the library when it runs.
"""

from __future__ import annotations

import gc
import importlib

import click

__all__ = ["COMMANDS", "LazyGroup", "cli", "main"]

#: Each command of ``kestra-git``: its name and ``module:attribute`` under this package.
COMMANDS: dict[str, str] = {
    "completion": "completion:completion",
    "dashboards": "dashboards:dashboards",
    "deploy": "deploy:deploy",
    "docs": "docs:docs",
    "executions": "executions:executions",
    "files": "files:files",
    "flows": "flows:flows",
    "known-hosts": "known_hosts:known_hosts",
    "kv": "kv:kv",
    "run": "run:run",
    "schema": "schema:schema",
    "server": "server:server",
    "tasks": "tasks:tasks_command",
    "validate": "validate:validate",
}


class LazyGroup(click.Group):
    """A group whose commands (:data:`COMMANDS`) are imported the first time they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(f".{module}", __name__), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from .. import __version__

        click.echo(f"kestra-git, version {__version__}")
        ctx.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    """Entry point of the ``kestra-git`` console script.

    A run ended by SIGTERM exits 143 (128 + 15), as a process killed by the signal would, so
    systemd and CI see why it stopped; Ctrl-C keeps click's exit 1 with "Aborted!".

    On the way out every object is frozen (``gc.freeze``): the interpreter's last garbage
    collections then skip them instead of walking every module and the rows of a big sync, which
    took tens of milliseconds; the process ends anyway, and atexit handlers still run.
    """
    try:
        cli(prog_name="kestra-git")
    except SystemExit as exc:
        from ..signals import sigterm_received

        if sigterm_received():
            raise SystemExit(128 + 15) from exc
        raise
    finally:
        gc.freeze()
