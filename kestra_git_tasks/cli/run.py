"""``kestra-git run``: run a flow once, recording the execution in the embedded instance."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..home import default_home
from ._common import (
    Server,
    handle_errors,
    home_option,
    json_option,
    local_instance,
    one_line,
    open_store,
    pairs,
    print_json,
    server_options,
    with_server_hint,
)

if TYPE_CHECKING:
    from ..instance.base import LogRecord

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
@home_option
@server_options
@json_option
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
) -> None:
    """Run a flow once: TARGET is a flow file or NAMESPACE/ID of a saved flow.

    Exit status is 0 when the execution succeeds (or ends in WARNING), 1 otherwise.

    Example: kestra-git run flows/sync_flows.yml --secret GITHUB_ACCESS_TOKEN=ghp_...
    """
    from ..runner import run_flow
    from ..secrets import SecretStore

    printed_errors: set[str] = set()  # an error already shown as a log line is not repeated

    def echo_log(log: LogRecord) -> None:
        if log.level in ("DEBUG", "TRACE") and not verbose:
            return
        if log.level == "ERROR":
            printed_errors.add(log.message)
        task = f"[{log.task_id}] " if log.task_id else ""
        click.echo(f"{log.timestamp:%H:%M:%S} {log.level:<5} {task}{log.message}", err=True)

    secret_store = SecretStore(pairs(secrets, "--secret"), secrets_file=secrets_file)
    with local_instance(home) as instance, open_store(home, server) as flow_store:
        execution = run_flow(
            target,
            instance=instance,
            flows=flow_store,
            secrets=secret_store,
            inputs=pairs(inputs, "--input"),
            home=home or default_home(),
            log_sinks=[] if quiet else [echo_log],
        )
    if as_json:
        data = execution.to_dict()
        print_json(data)
    else:
        click.echo(
            f"Execution {execution.id} of {execution.namespace}/{execution.flow_id}: "
            f"{execution.state}"
        )
    if execution.state not in ("SUCCESS", "WARNING"):
        if not as_json:
            error = execution.error or "execution failed"
            if server.url:
                error = with_server_hint(error, flow_store)
            if error not in printed_errors:
                click.echo(f"Error: {one_line(error)}", err=True)
        sys.exit(1)
