"""``kestra-git schema``: print (or write) the JSON Schema of flow files, for editors and CI."""

from __future__ import annotations

import json
from pathlib import Path

import click

__all__ = ["schema"]


@click.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the schema to this file instead of stdout.",
)
@click.option(
    "--allow-unknown-types",
    is_flag=True,
    help="Accept task and trigger types of Kestra plugins this library does not implement "
    "(any properties), as `validate --allow-unknown-types` does.",
)
def schema(output: Path | None, allow_unknown_types: bool) -> None:
    """Print the JSON Schema of flow files, generated from the task and trigger models.

    Point an editor at it for completion and checks while writing flows (docs/editors.md).

    Example: kestra-git schema --output .vscode/kestra-flow.schema.json
    """
    from ..schema import flow_schema

    text = (
        json.dumps(
            flow_schema(allow_unknown_types=allow_unknown_types), indent=2, ensure_ascii=False
        )
        + "\n"
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {output}", err=True)
