"""A real ``kestra-git server`` in a subprocess on a free port, for the server tests.

``ServerProcess(home, *args, env=...)`` starts ``python -m kestra_git_tasks server --port 0``,
waits for the line with its URL, and gives ``url``, ``client()`` (httpx) and ``stop(signal)``
(returns the exit code). ``wait_execution(home, id)`` polls the embedded instance until the
execution has ended.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from kestra_git_tasks.instance.base import ExecutionRecord
from kestra_git_tasks.instance.local import LocalInstance

ENDED = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}


def secret_env(**secrets: str) -> dict[str, str]:
    """``SECRET_<NAME>`` variables (base64 values, as Kestra reads them)."""
    return {f"SECRET_{k}": base64.b64encode(v.encode()).decode() for k, v in secrets.items()}


class ServerProcess:
    def __init__(
        self, home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> None:
        self.home = home
        self.log_path = home.parent / f"server-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "kestra_git_tasks", "server", "--port", "0"]
        command += ["--home", str(home), *args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**os.environ, **(env or {})},
            text=True,
        )
        self.url = self._read_url(timeout)

    def _read_url(self, timeout: float) -> str:
        found: list[str] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            line = stdout.readline()
            if line:
                found.append(line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found or "listening on " not in found[0]:
            self.process.kill()
            raise AssertionError(f"server did not start: {found} {self.stderr()}")
        return found[0].split("listening on ", 1)[1]

    def stderr(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def client(self, auth: tuple[str, str] | None = None, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        finally:
            self._log.close()
            if self.process.stdout is not None:
                self.process.stdout.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.stop()


def wait_execution(home: Path, execution_id: str, timeout: float = 60) -> ExecutionRecord:
    """The execution once it has ended (polls the instance)."""
    deadline = time.monotonic() + timeout
    with LocalInstance(home) as instance:
        while True:
            records = [r for r in instance.list_executions(limit=1000) if r.id == execution_id]
            if records and records[0].state in ENDED:
                return instance.get_execution(execution_id)
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {execution_id} did not end: {records}")
            time.sleep(0.1)


def executions(home: Path) -> list[ExecutionRecord]:
    with LocalInstance(home) as instance:
        return instance.list_executions(limit=10_000)


def deploy(home: Path, source: str) -> None:
    with LocalInstance(home) as instance:
        instance.put_flow(source)
