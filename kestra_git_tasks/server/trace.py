"""Per-request timing of the server, for the benchmark only (``KESTRA_GIT_SERVER_TRACE=FILE``).

When the server's environment names a file in ``KESTRA_GIT_SERVER_TRACE``, :func:`traced` wraps
the application: every HTTP request appends one JSON line to that file with ``time.monotonic()``
stamps (one clock for every process of the machine, so a client can line them up with its own):
``in`` (the application is called) and ``out`` (the last byte of the answer handed to the
transport); the request's ``x-bench-seq`` header (its first 32 characters), method and status
(never the path: a webhook's path holds its key); the main thread's CPU seconds between the two
(``cpu``) and the seconds it waited for a CPU meanwhile (``runq``, from the kernel's
``/proc/thread-self/schedstat``). A sampler in the event loop appends ``{"lag", "at", "cpu",
"runq"}`` each time a 5 ms sleep wakes more than 2 ms late: the loop could not run because it was
busy (``cpu``), its thread waited for a CPU (``runq``), or else for the interpreter lock or in a
blocking call. Without the variable nothing is wrapped and nothing is written.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ConfigError

__all__ = ["TRACE_ENV", "traced"]

TRACE_ENV = "KESTRA_GIT_SERVER_TRACE"
_SCHEDSTAT = "/proc/thread-self/schedstat"


def _runq_seconds() -> float:
    """Seconds this thread has waited on a run queue so far (0 where the kernel does not say)."""
    try:
        with open(_SCHEDSTAT) as file:
            return int(file.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class _Tracer:
    def __init__(self, app: ASGIApp, out: IO[str]) -> None:
        self.app = app
        self.out = out
        self.sampler: asyncio.Task[None] | None = None

    def write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record) + "\n")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.sampler is None:
            self.sampler = asyncio.get_running_loop().create_task(self._sample())
        began, cpu, runq = time.monotonic(), time.thread_time(), _runq_seconds()
        seq = dict(scope["headers"]).get(b"x-bench-seq", b"").decode("latin-1")[:32]
        status = [0]

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.write(
                    {
                        "seq": seq,
                        "method": scope["method"],
                        "status": status[0],
                        "in": began,
                        "out": time.monotonic(),
                        "cpu": time.thread_time() - cpu,
                        "runq": _runq_seconds() - runq,
                    }
                )

        await self.app(scope, receive, timed_send)

    async def _sample(self) -> None:
        while True:
            before, cpu, runq = time.monotonic(), time.thread_time(), _runq_seconds()
            await asyncio.sleep(0.005)
            late = time.monotonic() - before - 0.005
            if late > 0.002:
                cpu, runq = time.thread_time() - cpu, _runq_seconds() - runq
                self.write({"lag": late, "at": before, "cpu": cpu, "runq": runq})


def traced(app: ASGIApp, path: str) -> tuple[ASGIApp, IO[str]]:
    """``app`` writing its timings to ``path``; the caller closes the returned file."""
    try:
        out = open(path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 - caller closes
    except OSError as exc:
        raise ConfigError(
            f"{TRACE_ENV}={path}: cannot write the trace file ({exc.strerror or exc}); "
            f"name a writable file, or unset {TRACE_ENV} (it is for the benchmark only)"
        ) from exc
    return _Tracer(app, out), out
