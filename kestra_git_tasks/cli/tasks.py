"""``kestra-git tasks``: the task and trigger types this library knows."""

from __future__ import annotations

from typing import Any

import click

from ._common import json_option, print_json, table

__all__ = ["tasks_command"]


@click.command("tasks")
@json_option
def tasks_command(as_json: bool) -> None:
    """List the task and trigger types this library knows.

    Example: kestra-git tasks
    """
    from ..tasks.registry import TASK_CLASSES
    from ..triggers import TRIGGER_TYPES

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
