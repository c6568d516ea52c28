"""``kestra-git``: the command line, a thin layer over the library.

Expected errors (any :class:`KestraGitError`) print one line on stderr and exit 1; usage errors
exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_common import (
    Server,
    flow_files,
    handle_errors,
    home_option,
    json_option,
    local_instance,
    one_line,
    open_store,
    pairs,
    print_json,
    server_options,
    table,
)
from .cli_store import executions, files, flows
from .errors import FlowFileError
from .home import default_home

if TYPE_CHECKING:
    from .instance.base import LogRecord

__all__ = ["cli", "main"]


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from . import __version__

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


@cli.command()
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
    type=click.Path(dir_okay=False, path_type=Path),
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
    from .runner import run_flow
    from .secrets import SecretStore

    def echo_log(log: LogRecord) -> None:
        if log.level in ("DEBUG", "TRACE") and not verbose:
            return
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
            click.echo(f"Error: {one_line(execution.error or 'execution failed')}", err=True)
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--allow-unknown-types",
    is_flag=True,
    help="Accept task and trigger types of Kestra plugins this library does not implement "
    "(checked with Kestra core's rules only): for flows deployed to a Kestra server.",
)
@json_option
def validate(paths: tuple[Path, ...], allow_unknown_types: bool, as_json: bool) -> None:
    """Check flow files (or every .yml/.yaml under directories); exit 1 if any is invalid.

    Example: kestra-git validate flows/ --allow-unknown-types
    """
    from .flow import load_flow_file

    files = flow_files(paths)
    report: list[dict[str, Any]] = []
    bad = 0
    for file in files:
        try:
            flow = load_flow_file(file, known_types_only=not allow_unknown_types)
        except FlowFileError as exc:
            bad += 1
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            report.append({"file": str(file), "valid": False, "problems": problems})
            if not as_json:
                for problem in exc.problems:
                    click.echo(one_line(str(problem)), err=True)
        else:
            report.append({"file": str(file), "valid": True, "flow": flow.uid, "problems": []})
            if not as_json:
                click.echo(f"{file}: ok ({flow.uid})")
    if as_json:
        print_json(report)
    else:
        click.echo(f"{len(files) - bad} valid, {bad} invalid", err=bad > 0)
    if bad:
        sys.exit(1)


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--namespace", "-n", required=True, help="Namespace the flows are deployed to.")
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
@home_option
@server_options
@json_option
@handle_errors
def deploy(
    directory: Path,
    namespace: str,
    include_child_namespaces: bool,
    delete: bool,
    allow_empty: bool,
    dry_run: bool,
    home: Path | None,
    server: Server,
    as_json: bool,
) -> None:
    """Deploy the flows of DIRECTORY to NAMESPACE: plan, then apply all or nothing.

    Every flow is validated before the first write; the rows say what changed. This is the
    CI/CD pattern: run `kestra-git validate` on pull requests and `kestra-git deploy` on merge.

    Example: kestra-git deploy flows/ --namespace prod --server https://kestra.example.com --delete
    """
    from .deploy import deploy_folder

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
        )
    if as_json:
        print_json(rows)
        return
    table(
        [
            [r["gitPath"] or "-", r["syncState"], r["namespace"], r["flowId"], str(r["revision"])]
            for r in rows
        ],
        ["PATH", "STATE", "NAMESPACE", "FLOW", "REVISION"],
    )
    changed = sum(1 for r in rows if r["syncState"] != "UNCHANGED")
    verb = "would change" if dry_run else "changed"
    click.echo(f"{len(rows)} flow(s), {changed} {verb}", err=True)


# -- tasks and docs ------------------------------------------------------------------------------
@cli.command("tasks")
@json_option
def tasks_command(as_json: bool) -> None:
    """List the task and trigger types this library knows.

    Example: kestra-git tasks
    """
    from .tasks.registry import TASK_CLASSES
    from .triggers import TRIGGER_TYPES

    rows: list[dict[str, Any]] = [
        {
            "type": cls.type,
            "kind": "task",
            "aliases": list(cls.aliases),
            "title": (cls.__doc__ or "").strip().splitlines()[0],
        }
        for cls in TASK_CLASSES
    ]
    rows += [
        {
            "type": cls.type,
            "kind": "trigger",
            "aliases": list(cls.aliases),
            "title": (cls.__doc__ or "").strip().splitlines()[0],
        }
        for cls in sorted(set(TRIGGER_TYPES.values()), key=lambda c: c.type)
    ]
    if as_json:
        print_json(rows)
        return
    table([[row["type"], row["kind"], row["title"]] for row in rows], ["TYPE", "KIND", "TITLE"])


@cli.command()
@click.option("--check", is_flag=True, help="Exit 1 if the generated reference is stale.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="The docs folder.",
)
def docs(check: bool, output: Path) -> None:
    """Generate the task reference (docs/tasks/*.md, docs/cli.md) from the models.

    Example: kestra-git docs --check
    """
    from .docgen import generate_docs

    pages = generate_docs()
    stale = []
    for relative, content in sorted(pages.items()):
        target = output / relative
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == content:
            continue
        stale.append(relative)
        if not check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    if check:
        if stale:
            click.echo(
                f"Stale docs: {', '.join(stale)}; run `kestra-git docs` and commit.", err=True
            )
            sys.exit(1)
        click.echo(f"Docs up to date ({len(pages)} pages).")
    else:
        click.echo(f"Wrote {len(stale)} page(s); {len(pages) - len(stale)} already up to date.")


cli.add_command(flows)
cli.add_command(files)
cli.add_command(executions)


def main() -> None:
    """Entry point of the ``kestra-git`` console script."""
    cli(prog_name="kestra-git")
