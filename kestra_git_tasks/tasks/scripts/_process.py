"""Run a command on the host: stream its output line by line, enforce a timeout, leave nothing
running behind.

The command runs in a new session (its own process group). When it exits, or when its timeout
expires (SIGTERM, then SIGKILL after a grace period), the whole group is killed, so background
children (``sleep 30 &``) cannot outlive the task or hold its output pipes open. The group is
signalled while its leader is not yet reaped, so its id cannot have been reused.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
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
    """Run ``args`` in ``cwd`` with exactly ``env``; call ``on_line`` for each output line."""
    try:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env=dict(env),
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
    try:
        _pump(process, on_line, timeout_s, result)
    finally:
        _kill_group(process, signal.SIGKILL)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        returncode = process.wait()
    result.exit_code = 128 - returncode if returncode < 0 else returncode
    return result


def _pump(
    process: subprocess.Popen[bytes],
    on_line: LineHandler,
    timeout_s: float | None,
    result: ProcessResult,
) -> None:
    """Read both pipes until the group is done; enforce the deadline."""
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
                _kill_group(process, signal.SIGKILL)  # leftovers like `sleep 30 &`
                drain_until = now + DRAIN_S
            elif kill_at is not None and now >= kill_at:
                _kill_group(process, signal.SIGKILL)
                drain_until = now + DRAIN_S
            elif deadline is not None and kill_at is None and now >= deadline:
                result.timed_out = True
                _kill_group(process, signal.SIGTERM)
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


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.returncode is not None:  # reaped: the group id may belong to someone else
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
