"""Run a command under a real pseudo-terminal and see what a user would see.

:func:`run_in_pty` starts the command with stdin, stdout and stderr on the slave side of a new
pty (so ``isatty()`` is true for all three, as in a terminal) of a given size, and returns
everything written to it, escape sequences included. :func:`screen_text` replays that output
on a small terminal model (``\\r``, ``\\n``, erase line, cursor up, colours dropped) and returns
the lines left on the screen: what a reader of the session sees once the command ended.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PtyResult", "run_in_pty", "screen_text", "strip_ansi"]

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
_OTHER_ESCAPES = re.compile(r"\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


@dataclass
class PtyResult:
    returncode: int
    raw: bytes

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


def run_in_pty(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    columns: int = 100,
    rows: int = 40,
    timeout: float = 120.0,
) -> PtyResult:
    """Run ``args`` on a fresh pty of ``columns`` x ``rows``; return its exit status and output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**env, "TERM": env.get("TERM", "xterm-256color"), "COLUMNS": str(columns)}
    process = subprocess.Popen(
        list(args), stdin=slave, stdout=slave, stderr=slave, env=full_env, cwd=cwd,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the slave side is closed
                break
            if not data:
                break
            chunks.append(data)
        else:
            process.kill()
            raise TimeoutError(f"{args} did not end within {timeout} s")
        returncode = process.wait(timeout=30)
    finally:
        os.close(master)
    return PtyResult(returncode, b"".join(chunks))


def strip_ansi(text: str) -> str:
    """``text`` without escape sequences (``\\r`` and everything else kept)."""
    return _OTHER_ESCAPES.sub("", _CSI.sub("", text))


def screen_text(text: str) -> str:
    """The lines a terminal shows after printing ``text`` (scrolled-off lines kept)."""
    text = _OTHER_ESCAPES.sub("", text)
    lines: list[list[str]] = [[]]
    row = col = 0
    position = 0
    while position < len(text):
        char = text[position]
        match = _CSI.match(text, position) if char == "\x1b" else None
        if match:
            argument, command = match.group(1), match.group(2)
            count = int(argument) if argument.isdigit() else 1
            if command == "A":
                row = max(0, row - count)
            elif command == "K":
                lines[row] = lines[row][:col] if argument in ("", "0") else []
                if argument == "2":
                    lines[row] = [" "] * col
            elif command == "G":
                col = max(0, count - 1)
            position = match.end()
            continue
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            col = 0
            while len(lines) <= row:
                lines.append([])
        elif char == "\x1b":
            pass
        else:
            line = lines[row]
            while len(line) < col:
                line.append(" ")
            if col < len(line):
                line[col] = char
            else:
                line.append(char)
            col += 1
        position += 1
    return "\n".join("".join(line).rstrip() for line in lines).rstrip() + "\n"
