"""A running server: the flow catalog, the worker pool, the background loop, uvicorn.

:class:`KestraGitServer` owns what outlives requests: :class:`.catalog.FlowCatalog` (refreshed by
a background thread every ``poll_interval`` seconds, which also fires the schedules) and
:class:`.pool.ExecutionPool`. :func:`serve` runs it under uvicorn until SIGTERM or SIGINT: it
calls ``on_ready(url)`` once the port is bound, and on a signal stops accepting requests, lets
running executions finish for ``grace`` seconds, and returns normally (the CLI exits 0). With
``KESTRA_GIT_SERVER_TRACE`` in its environment the application is wrapped by :mod:`.trace`
(per-request timing for the benchmark).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import IO, Any

from ..errors import ConfigError
from ..flow import validate_source
from ..instance.local import LocalInstance
from .catalog import FlowCatalog
from .config import ServerConfig
from .pool import ExecutionPool, Job
from .scheduler import Scheduler
from .trace import TRACE_ENV, traced

__all__ = ["KestraGitServer", "serve"]

_log = logging.getLogger(__name__)


class KestraGitServer:
    """The server's long-lived parts; :meth:`start` then :meth:`stop`."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.catalog = FlowCatalog()
        self.pool = ExecutionPool(config)
        self._wake = threading.Event()
        self.scheduler = Scheduler(self.catalog, self.pool, on_done=self._wake.set)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kestra-git-loop", daemon=True)
        self._instance: LocalInstance | None = None

    def start(self) -> None:
        """Load the flows (webhooks answer from the first request on), start the workers and
        the background loop."""
        self._instance = LocalInstance(self.config.home, validator=validate_source)
        for execution_id in self._instance.mark_dead_executions():
            _log.warning(
                "execution %s was left RUNNING by a dead process: marked KILLED", execution_id
            )
        self.catalog.refresh(self._instance)
        self._instance.close()
        self._instance = None
        self.pool.start()
        self._thread.start()

    def _loop(self) -> None:
        with LocalInstance(self.config.home, validator=validate_source) as instance:
            while not self._stopping.is_set():
                try:
                    self.catalog.refresh(instance)
                    self.scheduler.tick(instance)
                except Exception:
                    _log.exception("the server's background loop failed; retrying")
                self._wake.wait(self.config.poll_interval)
                self._wake.clear()

    def stop(self, grace: float | None = None) -> list[Job]:
        """Stop firing schedules and accepting executions; wait up to ``grace`` seconds (the
        configured one if None) for running ones; returns those still running."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        left = self.pool.close(self.config.grace if grace is None else grace)
        for job in left:
            _log.warning("execution %s still running after the grace period", job.id)
        return left


def serve(config: ServerConfig, on_ready: Callable[[str], None] | None = None) -> None:
    """Run a server until SIGTERM/SIGINT; ``on_ready(url)`` once it accepts requests.

    After the signal: no new request is accepted, running executions get ``config.grace``
    seconds; the workers of those still running then get SIGTERM (their commands are killed,
    the executions recorded KILLED), and :func:`serve` returns.
    """
    import uvicorn

    from .app import create_app

    config.check()
    listener = _bind(config.host, config.port)
    server = KestraGitServer(config)
    server.start()
    uv: Any = None
    trace: IO[str] | None = None
    try:
        app = create_app(server)
        if config.environ.get(TRACE_ENV):
            app, trace = traced(app, config.environ[TRACE_ENV])
        uv = _uvicorn_server(
            uvicorn.Config(
                app,
                host=config.host,
                port=config.port,
                log_level="warning",
                access_log=False,
                http="httptools",  # C parser: ~30 % less CPU per request than h11 (docs/server.md)
                lifespan="off",
                timeout_graceful_shutdown=max(int(config.grace), 1),
            )
        )
        asyncio.run(_run(uv, listener, config, on_ready))
    finally:
        signalled = getattr(uv, "signalled_at", None) or time.monotonic()
        left = server.stop(max(0.0, config.grace - (time.monotonic() - signalled)))
        if left:
            server.pool.kill(left)
        if trace is not None:
            trace.close()


def _uvicorn_server(config: Any) -> Any:
    """uvicorn's Server, ending on SIGTERM/SIGINT without re-raising the signal (exit 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        signalled_at: float | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.signalled_at = self.signalled_at or time.monotonic()
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True  # a second Ctrl-C: stop waiting for connections
            else:
                self.should_exit = True

    return Server(config)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything starts; failures are a ConfigError."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}; check --host") from exc
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another --port (or stop the process using it)"
        ) from exc
    return listener


async def _run(
    uv: Any, listener: socket.socket, config: ServerConfig, on_ready: Callable[[str], None] | None
) -> None:
    task = asyncio.create_task(uv.serve(sockets=[listener]))
    while not uv.started and not task.done():
        await asyncio.sleep(0.01)
    if uv.started and on_ready is not None:
        port = listener.getsockname()[1]
        host = f"[{config.host}]" if ":" in config.host else config.host
        on_ready(f"http://{host}:{port}")
    await task
