"""All or nothing on a Kestra server: the writes of a batch, and how to undo them.

Kestra's API has no transaction. :class:`~.kestra.KestraInstance` records each write of a batch
as a :class:`Change` holding how to undo it (the previous source of a flow, the previous content
of a file, or that it did not exist); when the batch fails, :func:`rollback` undoes the changes
newest first and returns the message that says what was restored and what could not be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Batch", "Change", "rollback"]


@dataclass
class Change:
    """One write of a batch and how to undo it."""

    number: int
    action: str  # "save flow dev/a"
    label: str  # "flow dev/a"
    undo: Callable[[], object]
    applied: bool = False
    interrupted: bool = False  # no answer came: the server may have applied it


@dataclass
class Batch:
    changes: list[Change] = field(default_factory=list)
    failed: Change | None = None


def rollback(batch: Batch, error: BaseException) -> str | None:
    """Undo the batch's writes, newest first; say what happened (None: nothing changed)."""
    todo = [change for change in batch.changes if change.applied or change.interrupted]
    if not todo:
        return None
    restored: list[Change] = []
    failed: list[tuple[Change, Exception]] = []
    for change in reversed(todo):
        try:
            change.undo()
        except Exception as exc:  # keep restoring the others, then report it
            failed.append((change, exc))
        else:
            restored.append(change)
    if batch.failed is not None:
        where = f"at write {batch.failed.number} ({batch.failed.action})"
    else:
        where = f"after {len(batch.changes)} write(s)"
    done = ", ".join(change.label for change in reversed(restored) if change.applied)
    applied = sum(change.applied for change in todo)
    message = f"apply failed {where}: {error}"
    if not failed:
        if done:
            message += f"; the {applied} change(s) it had made were restored ({done})"
        return message + "; the server is as it was before the apply"
    message += f"; restored {sum(c.applied for c in restored)} of {applied} change(s)"
    message += f" ({done})" if done else ""
    for change, problem in reversed(failed):
        message += f"; restoring {change.label} failed: {problem}"
    left = ", ".join(change.label for change, _ in reversed(failed))
    return f"{message}; still changed on the server: {left} (fix by hand, or apply again)"
