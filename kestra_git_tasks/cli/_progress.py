"""Progress on a terminal: the library's progress events drawn with rich, on stderr.

Only built when both stdout and stderr are terminals, ``TERM`` is not ``dumb`` and the command
prints text (never with ``--json``): :func:`terminal_progress` returns None otherwise, and rich
is imported only then (importing the CLI stays light).

One line per phase of each task: ``fetch`` and ``push`` show objects, bytes and rate (from
libgit2's transfer callbacks), ``plan`` the number of files being planned, ``apply`` the writes
made out of the total. Bars vanish when the command ends; a finished transfer leaves one line
(``[sync] fetched 1,204 objects, 2.1 MB in 0.8 s (2.6 MB/s)``). Log lines go through
:meth:`TerminalProgress.log`, above the bars. Colour follows ``NO_COLOR`` and ``--no-color``.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..progress import ProgressEvent

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["TerminalProgress", "is_terminal", "terminal_progress"]

_VERBS = {"fetch": "fetching", "plan": "planning", "apply": "applying", "push": "pushing"}
_UNITS = {"fetch": "objects", "plan": "files", "apply": "changes", "push": "objects"}
_DONE = {"fetch": "fetched", "push": "pushed"}


def is_terminal() -> bool:
    """Both stdout and stderr are terminals that can redraw a line."""
    if os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


def terminal_progress(*, as_json: bool, no_color: bool) -> TerminalProgress | None:
    """The progress display for this command, or None when it must stay silent."""
    if as_json or not is_terminal():
        return None
    return TerminalProgress(no_color=no_color)


class TerminalProgress:
    """A rich progress display fed with :class:`~kestra_git_tasks.progress.ProgressEvent`\\ s.

    Use it as a context manager; call it with each event (it is the run's progress callback).
    """

    def __init__(self, *, no_color: bool = False) -> None:
        from rich.console import Console

        self.console: Console = Console(
            stderr=True, no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False
        )
        self._progress: Progress | None = None
        #: (task id, phase) -> its bar, when its first and its last event came
        self._bars: dict[tuple[str, str], tuple[TaskID, float, float]] = {}

    def __enter__(self) -> TerminalProgress:
        self._progress = _new_progress(self.console)
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for key in list(self._bars):
            self._finish(key)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def log(self, line: str, style: str | None = None) -> None:
        """Print ``line`` above the bars."""
        from rich.text import Text

        self.console.print(Text(line, style=style or ""), soft_wrap=True)

    def __call__(self, event: ProgressEvent) -> None:
        if self._progress is None:
            return
        task = event.task_id or "-"
        key = (task, event.phase)
        if key not in self._bars:
            for other in list(self._bars):  # one phase runs at a time: a new one ends the last
                self._finish(other)
            description = f"[{task}] {_VERBS.get(event.phase, event.phase)}"
            if event.phase == "plan":  # a count, not a bar: files are planned in one go
                description += f" {event.total:,} file{'' if event.total == 1 else 's'}"
            bar = self._progress.add_task(
                description, total=None, nbytes=None, unit=_UNITS.get(event.phase, "")
            )
            self._bars[key] = (bar, time.monotonic(), time.monotonic())
        bar, started, _ = self._bars[key]
        self._bars[key] = (bar, started, time.monotonic())
        total = None if event.phase == "plan" else event.total or None
        self._progress.update(bar, completed=event.done, total=total, nbytes=event.nbytes)

    def _finish(self, key: tuple[str, str]) -> None:
        bar, started, last = self._bars.pop(key)
        assert self._progress is not None
        task = self._progress.tasks[self._progress.task_ids.index(bar)]
        self._progress.remove_task(bar)
        self._progress.refresh()  # a line printed now must not redraw the removed bar
        nbytes = task.fields.get("nbytes")
        task_id, phase = key
        if phase in _DONE and nbytes:
            from rich.filesize import decimal

            elapsed = max(last - started, 1e-3)
            self.log(
                f"[{task_id}] {_DONE[phase]} {int(task.completed):,} objects, "
                f"{decimal(int(nbytes))} in {elapsed:.1f} s ({decimal(int(nbytes / elapsed))}/s)",
                style="dim",
            )


def _new_progress(console: Console) -> Progress:
    from rich.filesize import decimal
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class Counts(ProgressColumn):
        """``12/40 objects``, or ``40 files`` while the total is unknown."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "")
            if task.total:
                return Text(f"{int(task.completed):,}/{int(task.total):,} {unit}")
            return Text(f"{int(task.completed):,} {unit}" if task.completed else "")

    class Transfer(ProgressColumn):
        """``2.1 MB  1.3 MB/s`` for phases that move bytes."""

        def render(self, task: Task) -> Text:
            nbytes: Any = task.fields.get("nbytes")
            if not nbytes:
                return Text("")
            elapsed = task.elapsed or 0.0
            rate = f"  {decimal(int(nbytes / elapsed))}/s" if elapsed > 0.05 else ""
            return Text(f"{decimal(int(nbytes))}{rate}", style="cyan")

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        Counts(),
        Transfer(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
