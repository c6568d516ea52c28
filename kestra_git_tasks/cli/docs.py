"""``kestra-git docs``: write (or check) the generated reference pages.

:func:`command_help` turns the click commands into the ``(command, help text)`` pairs the
CLI page is made of, so :mod:`kestra_git_tasks.docgen` never imports click.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

__all__ = ["command_help", "docs", "project_docs"]


@click.command()
@click.option("--check", is_flag=True, help="Exit 1 if the generated reference is stale.")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder to write (tasks/*.md, cli.md). [default: docs/ of the kestra-git-tasks "
    "source checkout this command runs from; required otherwise]",
)
@click.pass_context
def docs(ctx: click.Context, check: bool, output: Path | None) -> None:
    """Generate the task reference (tasks/*.md, cli.md) from the models.

    Without --output it writes the project's own docs/, and only when kestra-git runs from
    its source checkout: it never writes into another project's docs/ folder.

    Example: kestra-git docs --output /tmp/kestra-git-reference
    """
    from ..docgen import generate_docs

    if output is None:
        output = project_docs()
        if output is None:
            raise click.UsageError(
                "kestra-git is not running from its source checkout: give the folder to write "
                "with --output DIR"
            )
    pages = generate_docs(command_help(ctx.find_root().command))
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


def project_docs() -> Path | None:
    """``docs/`` of the kestra-git-tasks source checkout this package is imported from, if any."""
    root = Path(__file__).resolve().parents[2]
    try:
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    named = 'name = "kestra-git-tasks"' in pyproject
    return root / "docs" if named and (root / "docs").is_dir() else None


def command_help(root: click.Command, name: str = "kestra-git") -> list[tuple[str, str]]:
    """``(command path, --help text)`` of ``root`` and every command under it, parents first."""
    pages = []
    for path, command in _walk(root, [name]):
        with click.Context(
            command,
            info_name=" ".join(path),
            terminal_width=88,
            max_content_width=88,
            help_option_names=["-h", "--help"],
        ) as ctx:
            pages.append((" ".join(path), command.get_help(ctx)))
    return pages


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):  # a lazy group loads its commands here
            child = command.get_command(ctx, name)
            if child is not None:
                found += _walk(child, [*path, name])
    return found
