"""``kestra-git``: the command line, a thin layer over the library.

Expected errors (any :class:`KestraGitError`) print one line on stderr and exit 1; usage errors
exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .context import HOME_ENV, default_home
from .errors import FlowFileError, KestraGitError, NotFoundError
from .flow import load_flow_file, validate_source
from .instance.base import LogRecord
from .instance.local import LocalInstance

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KestraGitError as exc:
            click.echo(f"Error: {_one_line(str(exc))}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _home_option(func: F) -> F:
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=HOME_ENV,
        default=None,
        help=f"Runner home folder (instance database, caches). [env: {HOME_ENV}; "
        "default: ~/.kestra-git]",
    )(func)


def _json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


@contextmanager
def _instance(home: Path | None) -> Iterator[LocalInstance]:
    with LocalInstance(home or default_home(), validator=validate_source) as instance:
        yield instance


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(
                f"expected NAME=VALUE, got {item.split('=')[0]!r}…", param_hint=option
            )
        result[name] = value
    return result


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for row in [headers, *rows]:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)
            ).rstrip()
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kestra-git-tasks")
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
@_home_option
@_json_option
@_handle_errors
def run(
    target: str,
    secrets: tuple[str, ...],
    inputs: tuple[str, ...],
    secrets_file: Path | None,
    quiet: bool,
    verbose: bool,
    home: Path | None,
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

    store = SecretStore(_pairs(secrets, "--secret"), secrets_file=secrets_file)
    with _instance(home) as instance:
        execution = run_flow(
            target,
            instance=instance,
            secrets=store,
            inputs=_pairs(inputs, "--input"),
            home=home or default_home(),
            log_sinks=[] if quiet else [echo_log],
        )
    if as_json:
        data = execution.to_dict()
        _print_json(data)
    else:
        click.echo(
            f"Execution {execution.id} of {execution.namespace}/{execution.flow_id}: "
            f"{execution.state}"
        )
    if execution.state not in ("SUCCESS", "WARNING"):
        if not as_json:
            click.echo(f"Error: {_one_line(execution.error or 'execution failed')}", err=True)
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Check flow files (or every .yml/.yaml under directories); exit 1 if any is invalid.

    Example: kestra-git validate flows/
    """
    files = _flow_files(paths)
    report: list[dict[str, Any]] = []
    bad = 0
    for file in files:
        try:
            flow = load_flow_file(file)
        except FlowFileError as exc:
            bad += 1
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            report.append({"file": str(file), "valid": False, "problems": problems})
            if not as_json:
                for problem in exc.problems:
                    click.echo(_one_line(str(problem)), err=True)
        else:
            report.append({"file": str(file), "valid": True, "flow": flow.uid, "problems": []})
            if not as_json:
                click.echo(f"{file}: ok ({flow.uid})")
    if as_json:
        _print_json(report)
    else:
        click.echo(f"{len(files) - bad} valid, {bad} invalid", err=bad > 0)
    if bad:
        sys.exit(1)


def _flow_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")))
        else:
            files.append(path)
    return files


# -- flows ---------------------------------------------------------------------------------------
@cli.group()
def flows() -> None:
    """List, show, deploy and delete flows of the instance."""


@flows.command("list")
@click.option("--namespace", "-n", default=None, help="Only this namespace.")
@click.option("--children/--no-children", default=True, help="Include child namespaces.")
@_home_option
@_json_option
@_handle_errors
def flows_list(namespace: str | None, children: bool, home: Path | None, as_json: bool) -> None:
    """List flows (latest revisions).

    Example: kestra-git flows list --namespace prod
    """
    with _instance(home) as instance:
        namespaces = [namespace] if namespace else _top_namespaces(instance.list_namespaces())
        records = [
            record
            for ns in namespaces
            for record in instance.list_flows(ns, include_children=children or not namespace)
        ]
    if as_json:
        _print_json(
            [
                {
                    "namespace": r.namespace,
                    "id": r.id,
                    "revision": r.revision,
                    "updated": r.updated.isoformat(),
                }
                for r in records
            ]
        )
        return
    if not records:
        click.echo("No flows.")
        return
    _table(
        [[r.namespace, r.id, str(r.revision), f"{r.updated:%Y-%m-%d %H:%M:%S}"] for r in records],
        ["NAMESPACE", "ID", "REVISION", "UPDATED"],
    )


def _top_namespaces(namespaces: list[str]) -> list[str]:
    return [ns for ns in namespaces if not any(ns.startswith(other + ".") for other in namespaces)]


def _split_uid(uid: str) -> tuple[str, str]:
    namespace, sep, flow_id = uid.rpartition("/")
    if not sep or not namespace or not flow_id:
        raise click.BadParameter(f"expected NAMESPACE/ID, got {uid!r}")
    return namespace, flow_id


@flows.command("show")
@click.argument("uid", metavar="NAMESPACE/ID")
@_home_option
@_handle_errors
def flows_show(uid: str, home: Path | None) -> None:
    """Print the source of a flow's latest revision.

    Example: kestra-git flows show prod/my_flow
    """
    namespace, flow_id = _split_uid(uid)
    with _instance(home) as instance:
        record = instance.get_flow(namespace, flow_id)
    if record is None:
        raise NotFoundError(f"flow {uid} not found; list flows with `kestra-git flows list`")
    click.echo(record.source, nl=not record.source.endswith("\n"))


@flows.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_home_option
@_handle_errors
def flows_deploy(files: tuple[Path, ...], home: Path | None) -> None:
    """Save flow files into the instance, all or nothing (an identical source keeps its revision).

    Example: kestra-git flows deploy flows/hello.yml
    """
    parsed = [load_flow_file(file) for file in _flow_files(files)]
    with _instance(home) as instance, instance.batch():
        saved = [instance.put_flow(flow.source) for flow in parsed]
    for record in saved:
        click.echo(f"{record.namespace}/{record.id}: revision {record.revision}")


@flows.command("delete")
@click.argument("uid", metavar="NAMESPACE/ID")
@_home_option
@_handle_errors
def flows_delete(uid: str, home: Path | None) -> None:
    """Delete a flow (its revisions are kept).

    Example: kestra-git flows delete prod/my_flow
    """
    namespace, flow_id = _split_uid(uid)
    with _instance(home) as instance:
        if not instance.delete_flow(namespace, flow_id):
            raise NotFoundError(f"flow {uid} not found; nothing deleted")
    click.echo(f"Deleted {uid}")


# -- namespace files -----------------------------------------------------------------------------
@cli.group()
def files() -> None:
    """List and show namespace files of the instance."""


@files.command("list")
@click.argument("namespace")
@click.option("--children/--no-children", default=False, help="Include child namespaces.")
@_home_option
@_json_option
@_handle_errors
def files_list(namespace: str, children: bool, home: Path | None, as_json: bool) -> None:
    """List the namespace files of NAMESPACE.

    Example: kestra-git files list prod
    """
    with _instance(home) as instance:
        records = instance.list_files(namespace, include_children=children)
    if as_json:
        _print_json(
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
    _table(
        [[r.namespace, r.path, str(r.revision), str(r.size)] for r in records],
        ["NAMESPACE", "PATH", "REVISION", "SIZE"],
    )


@files.command("show")
@click.argument("namespace")
@click.argument("path")
@_home_option
@_handle_errors
def files_show(namespace: str, path: str, home: Path | None) -> None:
    """Write the content of a namespace file to stdout.

    Example: kestra-git files show prod /scripts/etl.py
    """
    with _instance(home) as instance:
        content = instance.read_file(namespace, path)
    sys.stdout.buffer.write(content)
    sys.stdout.flush()


# -- executions ----------------------------------------------------------------------------------
@cli.group()
def executions() -> None:
    """List and show recorded executions."""


@executions.command("list")
@click.option("--namespace", "-n", default=None, help="Only this namespace.")
@click.option("--flow", "flow_id", default=None, help="Only this flow id.")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@_home_option
@_json_option
@_handle_errors
def executions_list(
    namespace: str | None, flow_id: str | None, limit: int, home: Path | None, as_json: bool
) -> None:
    """List executions, newest first.

    Example: kestra-git executions list --namespace system
    """
    with _instance(home) as instance:
        records = instance.list_executions(namespace=namespace, flow_id=flow_id, limit=limit)
    if as_json:
        _print_json([{k: v for k, v in r.to_dict().items() if k != "logs"} for r in records])
        return
    if not records:
        click.echo("No executions.")
        return
    _table(
        [
            [r.id, f"{r.namespace}/{r.flow_id}", r.state, f"{r.start_date:%Y-%m-%d %H:%M:%S}"]
            for r in records
        ],
        ["ID", "FLOW", "STATE", "STARTED"],
    )


@executions.command("show")
@click.argument("execution_id")
@_home_option
@_json_option
@_handle_errors
def executions_show(execution_id: str, home: Path | None, as_json: bool) -> None:
    """Show one execution with its outputs and logs.

    Example: kestra-git executions show 4xJ2...
    """
    with _instance(home) as instance:
        record = instance.get_execution(execution_id)
    if as_json:
        _print_json(record.to_dict())
        return
    click.echo(f"Execution {record.id}: {record.namespace}/{record.flow_id} {record.state}")
    click.echo(
        f"Started {record.start_date.isoformat()}"
        + (f", ended {record.end_date.isoformat()}" if record.end_date else "")
    )
    if record.error:
        click.echo(f"Error: {record.error}")
    if record.outputs:
        click.echo("Outputs:")
        click.echo(json.dumps(record.outputs, indent=2, default=str))
    for log in record.logs:
        task = f"[{log.task_id}] " if log.task_id else ""
        click.echo(f"{log.timestamp:%H:%M:%S} {log.level:<5} {task}{log.message}")


# -- tasks and docs ------------------------------------------------------------------------------
@cli.command("tasks")
@_json_option
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
        _print_json(rows)
        return
    _table([[row["type"], row["kind"], row["title"]] for row in rows], ["TYPE", "KIND", "TITLE"])


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


def main() -> None:
    """Entry point of the ``kestra-git`` console script."""
    cli(prog_name="kestra-git")
