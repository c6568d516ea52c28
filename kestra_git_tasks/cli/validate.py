"""``kestra-git validate``: check flow files with Kestra's rules, changing nothing.

Three formats: ``text`` (a line per file, problems on stderr), ``json`` (one report on stdout)
and ``github`` (GitHub Actions ``::error file=...,line=...::message`` workflow commands on
stdout, which the workflow turns into annotations on the pull request). ``-q`` keeps only the
problems. The exit status is 1 when any file is invalid, whatever the format.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import FlowFileError, FlowProblem
from ._common import flow_files, one_line, print_json

__all__ = ["github_annotation", "validate"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--allow-unknown-types",
    is_flag=True,
    hidden=True,
    help="Ignored: Kestra types this library does not run are always accepted.",
)
@click.option(
    "--local",
    is_flag=True,
    help="Also fail on what `kestra-git run` refuses: Kestra types it does not run here, "
    "custom plugins, task runners other than Process.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for GitHub Actions annotations.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the problems (text format).")
def validate(
    paths: tuple[Path, ...],
    allow_unknown_types: bool,
    local: bool,
    output_format: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check flow files (or every .yml/.yaml under directories); exit 1 if any is invalid.

    A type is judged with the catalog of Kestra's types: a misspelt `io.kestra.` type is invalid
    (with the closest name); a Kestra type this library does not run is valid (noted: it runs on
    a Kestra server, not locally); a type outside `io.kestra.` (a custom plugin) is valid with a
    warning.

    A directory is read as `kestra-git deploy` reads it: what its root .kestraignore matches,
    dot-folders (.github, .git...) and .git* files are skipped.

    Example: kestra-git validate flows/ --format github --local
    """
    from ..flow import load_flow_file

    output_format = "json" if as_json else output_format
    text = output_format == "text"
    files = flow_files(paths)
    report: list[dict[str, Any]] = []
    bad = 0
    for file in files:
        try:
            flow = load_flow_file(file)
            refused = [*flow.server_only, *flow.refused_when_run]
            if local and refused:
                raise FlowFileError(refused)
        except FlowFileError as exc:
            bad += 1
            problems = [{"line": p.line, "message": p.message} for p in exc.problems]
            report.append({"file": str(file), "valid": False, "problems": problems})
            for problem in exc.problems:
                if text:
                    click.echo(one_line(str(problem)), err=True)
                elif output_format == "github":
                    click.echo(github_annotation(problem, str(file)))
        else:
            refused = [*flow.server_only, *flow.refused_when_run]
            notes = [*flow.warnings, *(p for p in refused if p not in flow.warnings)]
            entry: dict[str, Any] = {"file": str(file), "valid": True, "flow": flow.uid}
            entry["problems"] = []
            if notes:  # what is accepted unchecked, or runs on a Kestra server only
                entry["notes"] = [{"line": p.line, "message": p.message} for p in notes]
            report.append(entry)
            if text and not quiet:
                for note in notes:
                    click.echo(f"note: {one_line(str(note))}", err=True)
                click.echo(f"{file}: ok ({flow.uid})")
    if output_format == "json":
        print_json(report)
    elif not quiet or bad:
        click.echo(f"{len(files) - bad} valid, {bad} invalid", err=bad > 0 or not text)
    if bad:
        sys.exit(1)


def github_annotation(problem: FlowProblem, file: str) -> str:
    """``::error file=F,line=L::MESSAGE``, escaped as GitHub's workflow commands require."""
    where = f"file={_escape(problem.path or file, property=True)}"
    if problem.line is not None:
        where += f",line={problem.line}"
    return f"::error {where}::{_escape(problem.message)}"


def _escape(value: str, *, property: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if property else value
