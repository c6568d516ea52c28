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
    help="Accept task and trigger types of Kestra plugins this library does not implement "
    "(checked with Kestra core's rules only): for flows deployed to a Kestra server.",
)
@json_option
def validate(paths: tuple[Path, ...], allow_unknown_types: bool, as_json: bool) -> None:
    """Check flow files (or every .yml/.yaml under directories); exit 1 if any is invalid.

    A directory is read as `kestra-git deploy` reads it: what its root .kestraignore matches,
    dot-folders (.github, .git...) and .git* files are skipped.

    Example: kestra-git validate flows/ --allow-unknown-types
    """
    from ..flow import load_flow_file

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
