"""``kestra-git run``: run a flow once, recording the execution in the embedded instance."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..home import default_home
from ._common import (
    Server,
    color_option,
    handle_errors,
    home_option,
    json_option,
    local_instance,
    one_line,
    open_store,
    pairs,
    print_json,
    server_options,
    stdout_style,
    with_server_hint,
)
from ._tables import Style, git_rows, listed_rows, patch_lines, task_table

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..instance.base import ExecutionRecord, LogRecord
    from ._progress import TerminalProgress

__all__ = ["run"]


@click.command()
@click.argument("target")
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    metavar="NAME=VALUE",
    help="A secret for secret('NAME'); repeatable.",
)
@click.option("--input", "inputs", multiple=True, metavar="K=V", help="A flow input; repeatable.")
@click.option(
    "--secrets-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of NAME: value secrets. [env: KESTRA_GIT_SECRETS_FILE]",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not print log lines on stderr.")
@click.option("--verbose", "-v", is_flag=True, help="Print DEBUG and TRACE log lines too.")
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="After each Git task's table, print a unified diff of each changed flow or file "
    "(dry runs included).",
)
@click.option(
    "--all-rows",
    is_flag=True,
    help="List every row of each Git task's table; by default more than 20 UNCHANGED rows "
    "are left out and counted on one line (--json always holds every row).",
)
@home_option
@server_options
@json_option
@color_option
@handle_errors
def run(
    target: str,
    secrets: tuple[str, ...],
    inputs: tuple[str, ...],
    secrets_file: Path | None,
    quiet: bool,
    verbose: bool,
    home: Path | None,
    server: Server,
    as_json: bool,
    show_diff: bool,
    all_rows: bool,
    no_color: bool,
) -> None:
    """Run a flow once: TARGET is a flow file or NAMESPACE/ID of a saved flow.

    After the logs (stderr), each Git sync or push task's rows are printed as a table on
    stdout: what it changed, or would change in a dry run. On a terminal, long work shows its
    progress (fetch, plan, apply, push) and states are coloured (not with --json, --no-color
    or NO_COLOR).

    Exit status is 0 when the execution succeeds (or ends in WARNING), 1 otherwise.

    Example: kestra-git run flows/sync_flows.yml --secret GITHUB_ACCESS_TOKEN=ghp_...
    """
    from ..runner import run_flow
    from ..secrets import SecretStore
    from ._progress import terminal_progress

    live = terminal_progress(as_json=as_json, no_color=no_color)
    printed_errors: set[str] = set()  # an error already shown as a log line is not repeated
    secret_store = SecretStore(pairs(secrets, "--secret"), secrets_file=secrets_file)
    with (
        local_instance(home) as instance,
        open_store(home, server) as flow_store,
        live if live is not None else nullcontext(),
    ):
        execution = run_flow(
            target,
            instance=instance,
            flows=flow_store,
            secrets=secret_store,
            inputs=pairs(inputs, "--input"),
            home=home or default_home(),
            log_sinks=[] if quiet else [_log_printer(live, verbose, printed_errors)],
            progress=live,
            patches=show_diff and not as_json,
        )
    _report(execution, as_json=as_json, show_diff=show_diff, all_rows=all_rows, no_color=no_color)
    if execution.state not in ("SUCCESS", "WARNING"):
        if not as_json:
            error = execution.error or "execution failed"
            if server.url:
                error = with_server_hint(error, flow_store)
            if error not in printed_errors:
                click.echo(f"Error: {one_line(error)}", err=True)
        sys.exit(1)


def _report(
    execution: ExecutionRecord, *, as_json: bool, show_diff: bool, all_rows: bool, no_color: bool
) -> None:
    """The execution on stdout: its JSON, or each Git task's table and its final state."""
    if as_json:
        print_json(execution.to_dict())
        return
    style = stdout_style(no_color)
    echo_task_tables(execution.outputs, style=style, show_diff=show_diff, all_rows=all_rows)
    state = style(execution.state, execution.state) if style else execution.state
    click.echo(f"Execution {execution.id} of {execution.namespace}/{execution.flow_id}: {state}")


_LOG_STYLES = {"WARN": "yellow", "ERROR": "red bold", "DEBUG": "dim", "TRACE": "dim"}


def _log_printer(
    live: TerminalProgress | None, verbose: bool, printed_errors: set[str]
) -> Callable[[LogRecord], None]:
    """Prints each log line on stderr (above the progress bars on a terminal); the messages of
    ERROR lines go into ``printed_errors``."""

    def echo_log(log: LogRecord) -> None:
        if log.level in ("DEBUG", "TRACE") and not verbose:
            return
        if log.level == "ERROR":
            printed_errors.add(log.message)
        task = f"[{log.task_id}] " if log.task_id else ""
        line = f"{log.timestamp:%H:%M:%S} {log.level:<5} {task}{log.message}"
        if live is not None:
            live.log(line, style=_LOG_STYLES.get(log.level))
        else:
            click.echo(line, err=True)

    return echo_log


def echo_task_tables(
    outputs: dict[str, Any],
    *,
    style: Style | None,
    show_diff: bool = False,
    all_rows: bool = False,
) -> None:
    """Each Git task's rows as a table on stdout, in the order the tasks ran (many UNCHANGED
    rows counted on one line unless ``all_rows``: :func:`listed_rows`); with ``show_diff``,
    the patch the task wrote after its table."""
    from ..tasks.git._patches import patch_file

    for task_id, output in outputs.items():
        rows = git_rows(output) if isinstance(output, dict) else None
        if rows is None:
            continue
        changed = sum(1 for r in rows if r.get("syncState", "CHANGED") != "UNCHANGED")
        click.echo(f"[{task_id}] {len(rows)} row(s), {changed} changed:")
        listed, left_out = listed_rows(rows, all_rows=all_rows)
        lines = task_table(listed, style=style, indent="  ") if listed or not left_out else []
        if left_out:
            note = f"({left_out} UNCHANGED row(s) not listed; --all-rows lists them)"
            lines.append("  " + (style(note, "dim") if style else note))
        click.echo("\n".join(lines))  # one write
        patch = patch_file(str(output["diffFile"]))
        if show_diff and patch.is_file():
            text = patch.read_bytes().decode("utf-8", "replace")
            for line in patch_lines(text, style=style) if text else ["  (no difference)"]:
                click.echo(line)
        click.echo()
