"""Run a command on the host: stream its output line by line, enforce a timeout, leave nothing
running behind.

The command runs in a new session (its own process group). When it exits, when its timeout
expires (SIGTERM, then SIGKILL after a grace period), or when the runner is interrupted (Ctrl-C,
SIGTERM), the whole group is killed, so background children (``sleep 30 &``) cannot outlive the
task or hold its output pipes open. The group is signalled while its leader is not yet reaped,
so its id cannot have been reused.

A process that leaves the group (``setsid sleep 300 &``, a daemon's double fork) is found by a
marker: the command's environment holds ``KESTRA_GIT_PROCESS_TREE=<random id>``, which every
descendant inherits, and on Linux every process of this user whose ``/proc/<pid>/environ`` holds
it is killed too (through a pidfd, so a reused pid is never signalled). Jenkins finds a build's
processes the same way. Only a process that clears its environment before exec escapes.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ...durations import parse_duration as _parse_iso_duration
from ...errors import ConfigError

__all__ = ["ProcessResult", "parse_duration", "run_process"]

#: ``on_line(stream, line)``: stream is "stdout" or "stderr"; the line has no line ending.
LineHandler = Callable[[str, str], None]

#: Environment variable marking the processes of one command (see the module docstring).
TREE_ENV = "KESTRA_GIT_PROCESS_TREE"
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL on timeout
DRAIN_S = 1.0  # reading what is left once the group is dead
_POLL_S = 0.05
_TAIL = 20


def parse_duration(text: str, what: str = "`timeout`") -> float:
    """Seconds in an ISO-8601 duration (``PT5S``, ``PT1M30S``, ``P1DT1H``, ``P1W``...; see
    :mod:`kestra_git_tasks.durations`, the one parser for durations)."""
    try:
        seconds = _parse_iso_duration(text).total_seconds()
    except ValueError as exc:
        raise ConfigError(f"{what} {exc}.") from exc
    if seconds <= 0:
        raise ConfigError(f"{what} '{text}' must be longer than zero.")
    return seconds


@dataclass
class ProcessResult:
    """How a command ended. ``exit_code`` follows the shell: 128 + N when killed by signal N."""

    exit_code: int
    timed_out: bool = False
    stdout_lines: int = 0
    stderr_lines: int = 0
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL))


def run_process(
    args: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_line: LineHandler,
    timeout_s: float | None = None,
) -> ProcessResult:
    """Run ``args`` in ``cwd`` with ``env`` (plus the tree marker); call ``on_line`` for each
    output line."""
    marker = f"{TREE_ENV}={uuid.uuid4().hex}"
    try:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**env, TREE_ENV: marker.partition("=")[2]},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            f"cannot run {args[0]!r}: not found; check `interpreter` (and that the program is "
            "installed on this host)"
        ) from exc
    except PermissionError as exc:
        raise ConfigError(f"cannot run {args[0]!r}: permission denied") from exc
    result = ProcessResult(exit_code=-1)
    tree = _Tree(process, marker)
    try:
        _pump(tree, on_line, timeout_s, result)
    finally:
        tree.kill(signal.SIGKILL)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        returncode = process.wait()
        tree.kill_marked_until_gone()
    result.exit_code = 128 - returncode if returncode < 0 else returncode
    return result


def _pump(
    tree: _Tree,
    on_line: LineHandler,
    timeout_s: float | None,
    result: ProcessResult,
) -> None:
    """Read both pipes until the group is done; enforce the deadline."""
    process = tree.process
    selector = selectors.DefaultSelector()
    buffers: dict[str, bytes] = {}
    streams: list[tuple[IO[bytes] | None, str]] = [
        (process.stdout, "stdout"),
        (process.stderr, "stderr"),
    ]
    for stream, name in streams:
        assert stream is not None
        os.set_blocking(stream.fileno(), False)
        selector.register(stream.fileno(), selectors.EVENT_READ, name)
        buffers[name] = b""
    start = time.monotonic()
    deadline = start + timeout_s if timeout_s is not None else None
    kill_at: float | None = None  # SIGKILL time once SIGTERM was sent
    drain_until: float | None = None  # stop reading at this time once the group is dead
    try:
        while True:
            events = selector.select(timeout=_POLL_S) if selector.get_map() else []
            for key, _ in events:
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:  # spurious readiness
                    continue
                name = str(key.data)
                if not chunk:
                    selector.unregister(key.fd)
                    _emit(name, buffers[name], on_line, result, final=True)
                    continue
                buffers[name] = _emit(name, buffers[name] + chunk, on_line, result)
            now = time.monotonic()
            if drain_until is not None:
                if not selector.get_map() or now >= drain_until:
                    break
                continue
            if _has_exited(process):
                tree.kill(signal.SIGKILL)  # leftovers like `sleep 30 &`
                drain_until = now + DRAIN_S
            elif kill_at is not None and now >= kill_at:
                tree.kill(signal.SIGKILL)
                drain_until = now + DRAIN_S
            elif deadline is not None and kill_at is None and now >= deadline:
                result.timed_out = True
                tree.kill(signal.SIGTERM)
                kill_at = now + KILL_GRACE_S
            if not selector.get_map():
                time.sleep(_POLL_S)  # output closed, process still running
    finally:
        for name, rest in buffers.items():
            if rest and any(key.data == name for key in selector.get_map().values()):
                _emit(name, rest, on_line, result, final=True)
        selector.close()


def _emit(
    name: str, data: bytes, on_line: LineHandler, result: ProcessResult, *, final: bool = False
) -> bytes:
    """Hand every complete line of ``data`` to ``on_line``; return the incomplete rest."""
    *lines, rest = data.split(b"\n")
    if final and rest:
        lines.append(rest)
        rest = b""
    for raw in lines:
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if name == "stdout":
            result.stdout_lines += 1
        else:
            result.stderr_lines += 1
            result.stderr_tail.append(line)
        on_line(name, line)
    return rest


def _has_exited(process: subprocess.Popen[bytes]) -> bool:
    """True once the leader has exited, without reaping it (its pid stays reserved)."""
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


class _Tree:
    """The command's processes: its process group, and every process carrying its marker."""

    def __init__(self, process: subprocess.Popen[bytes], marker: str) -> None:
        self.process = process
        self._entry = b"\0" + marker.encode() + b"\0"

    def kill(self, sig: signal.Signals) -> None:
        """Signal the group (while its leader is not reaped) and the marked processes."""
        if self.process.returncode is None:  # reaped: the group id may belong to someone else
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)
        for pid in self._marked():
            self._signal(pid, sig)

    def kill_marked_until_gone(self) -> None:
        """SIGKILL marked processes until none is left (one may fork while it is killed)."""
        deadline = time.monotonic() + KILL_GRACE_S
        while (pids := self._marked()) and time.monotonic() < deadline:
            for pid in pids:
                self._signal(pid, signal.SIGKILL)
            time.sleep(0.01)

    def _marked(self) -> list[int]:
        try:
            names = os.listdir("/proc")
        except OSError:  # no /proc (not Linux): the process group is all we can reach
            return []
        me = os.getpid()
        return [int(n) for n in names if n.isdigit() and int(n) != me and self._carries(n)]

    def _carries(self, pid: str | int) -> bool:
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                return self._entry in b"\0" + file.read() + b"\0"
        except OSError:  # gone, or another user's process
            return False

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        """Signal ``pid`` through a pidfd, re-checking the marker after opening it."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        try:
            if self._carries(pid):
                signal.pidfd_send_signal(fd, sig)
        except OSError:
            pass
        finally:
            os.close(fd)
