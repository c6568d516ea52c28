"""The private base of the flowable tasks: child task lists, ``errors`` and ``finally``.

A flowable task never runs its children itself: it asks the runner through
``ctx.run_children(field, value=..., outputs=...)``, the mechanism WorkingDirectory uses, which
renders and runs each child in turn and raises when one fails. :meth:`FlowableTask.guarded`
adds Kestra's rule around a body of children: when one fails, the task's ``errors`` run (and
the task still fails); its ``finally`` tasks always run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from ..._base import Task

if TYPE_CHECKING:
    from ....context import RunContext

__all__ = ["FlowableTask", "is_truthy", "non_empty_tasks", "to_value"]

_FALSY = ("false", "0", "-0", "")


def is_truthy(rendered: Any) -> bool:
    """Kestra's ``TruthUtils``: ``false``, ``0``, ``-0``, empty and null are false."""
    if rendered is None or rendered is False:
        return False
    return str(rendered).strip().lower() not in _FALSY


class FlowableTask(Task):
    """A task whose properties hold child tasks (rendered only when those children run)."""

    child_task_fields: ClassVar[tuple[str, ...]] = ("tasks", "errors", "finally")

    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description="Tasks run when one of this task's children fails (the task still fails).",
    )
    finally_: list[dict[str, Any]] | None = Field(
        default=None,
        alias="finally",
        description="Tasks always run after this task's children, whatever happened.",
    )

    def guarded(self, ctx: RunContext, body: Callable[[], Any]) -> Any:
        """Run ``body`` (which runs children); ``errors`` when it fails, ``finally`` after
        either. An interrupt (Ctrl-C, SIGTERM) runs neither, as for the flow's own."""
        try:
            result = body()
        except Exception:
            try:
                if self.errors:
                    ctx.run_children("errors")
            finally:
                self._finally(ctx)
            raise
        self._finally(ctx)
        return result

    def _finally(self, ctx: RunContext) -> None:
        if self.finally_:
            ctx.run_children("finally")


def non_empty_tasks(
    properties: dict[str, Any], key: str, message: str
) -> list[tuple[str | None, str]]:
    """Kestra's ``@NotEmpty`` on a list of tasks."""
    value = properties.get(key)
    if isinstance(value, list) and not value:
        return [(key, message)]
    return []


def to_value(item: Any) -> str:
    """A loop value as Kestra keys it: strings as they are, anything else as JSON."""
    if isinstance(item, str):
        return item
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return str(item)
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)
