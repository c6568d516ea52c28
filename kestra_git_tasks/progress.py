"""Progress of long work, as plain events: what a task is doing, how far it is.

The library never draws anything. Whoever wants progress (the CLI, on a terminal) passes a
callback; it travels per call, like credentials (no global state):

- the Git layer (``git/``) reports libgit2's transfer callbacks: ``fetch`` (objects received
  out of the total, bytes received) and ``push`` (objects sent, bytes sent);
- the sync tasks report ``plan`` (files of the Git tree being planned) and ``apply`` (writes
  made out of the plan's total);
- a :class:`~kestra_git_tasks.context.RunContext` holds the callback of an execution
  (``RunContext.progress``) and tags each event with the running task's id.

A callback must be quick (libgit2 calls it often, from the thread doing the transfer) and should
not raise: an exception raised in it aborts the operation and reaches the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PHASES", "ProgressCallback", "ProgressEvent"]

#: The phases reported, in the order a run meets them.
PHASES = ("fetch", "plan", "apply", "push")


@dataclass(frozen=True)
class ProgressEvent:
    """How far one phase of long work is.

    ``done`` out of ``total`` units (objects for ``fetch``/``push``, files for ``plan``, writes
    for ``apply``; ``total`` is 0 while unknown); ``nbytes`` the bytes transferred so far (None
    when the phase moves no bytes); ``task_id`` the task reporting it (set by the run context).
    """

    phase: str
    done: int
    total: int
    nbytes: int | None = None
    task_id: str | None = None


#: Receives each :class:`ProgressEvent` as the work moves.
ProgressCallback = Callable[[ProgressEvent], None]
