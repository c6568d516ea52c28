"""Which process runs an execution, so an execution left RUNNING by a dead process can be told
from one still running in another process.

A process is identified by its host name, the kernel's boot id, its pid and its start time (in
clock ticks since boot, from ``/proc/<pid>/stat``): a pid reused after the owner died has another
start time, and a reboot changes the boot id. Only an owner on this host can be checked; one on
another host (a home folder shared over the network, another container) is never judged dead.
Without ``/proc`` (not Linux) the boot id and start time are empty and the pid alone is checked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcessOwner"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ProcessOwner:
    """The identity of a process: host, boot id, pid, start time (clock ticks since boot)."""

    host: str
    boot_id: str
    pid: int
    start_ticks: int | None

    @classmethod
    def current(cls) -> ProcessOwner:
        """This process."""
        pid = os.getpid()
        return cls(socket.gethostname(), _boot_id(), pid, _start_ticks(pid))

    def is_dead(self) -> bool:
        """True only when this owner certainly no longer runs (False when it cannot be told)."""
        here = ProcessOwner.current()
        if self.host != here.host:
            return False  # another machine or container: its processes cannot be seen
        if self.boot_id != here.boot_id:
            return True  # the machine restarted since
        if self.start_ticks is None:
            return not _pid_exists(self.pid)
        return _start_ticks(self.pid) != self.start_ticks

    def describe(self) -> str:
        """``pid N on host H`` for messages."""
        return f"pid {self.pid} on host {self.host}"


def _boot_id() -> str:
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``; None when the process does not exist (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces or parentheses
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
