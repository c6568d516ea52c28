"""``kestra-git validate``: check flow files with Kestra's rules, changing nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import FlowFileError
from ._common import flow_files, json_option, one_line, print_json

__all__ = ["validate"]


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
@json_option
def validate(
    paths: tuple[Path, ...], allow_unknown_types: bool, local: bool, as_json: bool
) -> None:
    """Check flow files (or every .yml/.yaml under directories); exit 1 if any is invalid.

    A type is judged with the catalog of Kestra's types: a misspelt `io.kestra.` type is invalid
    (with the closest name); a Kestra type this library does not run is valid (noted: it runs on
    a Kestra server, not locally); a type outside `io.kestra.` (a custom plugin) is valid with a
    warning.

    A directory is read as `kestra-git deploy` reads it: what its root .kestraignore matches,
    dot-folders (.github, .git...) and .git* files are skipped.

    Example: kestra-git validate flows/ --local
    """
    from ..flow import load_flow_file

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
            if not as_json:
                for problem in exc.problems:
                    click.echo(one_line(str(problem)), err=True)
        else:
            refused = [*flow.server_only, *flow.refused_when_run]
            notes = [*flow.warnings, *(p for p in refused if p not in flow.warnings)]
            entry: dict[str, Any] = {"file": str(file), "valid": True, "flow": flow.uid}
            entry["problems"] = []
            if notes:  # what is accepted unchecked, or runs on a Kestra server only
                entry["notes"] = [{"line": p.line, "message": p.message} for p in notes]
            report.append(entry)
            if not as_json:
                for note in notes:
                    click.echo(f"note: {one_line(str(note))}", err=True)
                click.echo(f"{file}: ok ({flow.uid})")
    if as_json:
        print_json(report)
    else:
        click.echo(f"{len(files) - bad} valid, {bad} invalid", err=bad > 0)
    if bad:
        sys.exit(1)
