"""SIGTERM ends a run like Ctrl-C.

SIGTERM is what systemd, Docker and CI send to stop a process; its default action ends Python at
once, without running ``finally`` blocks: the execution would stay RUNNING and a running
command's processes would be orphaned. While ``run_flow`` runs in the main thread (and nobody
installed a SIGTERM handler), SIGTERM raises :class:`Terminated` instead, a KeyboardInterrupt:
the command's processes are killed (``tasks/scripts/_process.py``) and the execution ends KILLED.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Terminated", "sigterm_as_interrupt", "sigterm_received", "sigterm_unhandled"]

_received = threading.Event()


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM during ``run_flow``.

    It is a KeyboardInterrupt, so SIGTERM (what systemd, Docker and CI send) ends a run exactly
    like Ctrl-C: the running command and its children are killed, the execution ends KILLED.
    """


def sigterm_unhandled() -> bool:
    """True in the main thread while SIGTERM still has its default action (ending at once)."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    )


def sigterm_received() -> bool:
    """True once a run of this process was ended by SIGTERM (the CLI then exits 143)."""
    return _received.is_set()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, the first SIGTERM raises :class:`Terminated`; later ones are
    ignored so that the cleanup (killing processes, recording KILLED) completes."""

    def ignore(signum: int, frame: FrameType | None) -> None:
        pass

    def terminate(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, ignore)
        _received.set()
        raise Terminated("the runner received SIGTERM")

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
