"""The bounded pool of workers that runs the server's executions.

:meth:`ExecutionPool.submit` queues a flow run and returns its :class:`Job` at once (state
CREATED, with the execution id the run will be recorded under); ``workers`` threads take jobs
in order and run each through :func:`~kestra_git_tasks.runner.run_flow`, exactly as
``kestra-git run`` does, with the trigger that started it. Each worker thread has its own
connection to the embedded instance. Callbacks registered with :meth:`Job.on_done` run in the
worker thread once the execution is recorded.

A flow's ``concurrency`` (``limit`` running executions at once) is honoured: beyond it a new
execution waits (QUEUE, state QUEUED), or is recorded CANCELLED (CANCEL) or FAILED (FAIL) at
once. :meth:`ExecutionPool.close` stops accepting, records the jobs that never started as
KILLED, and lets the running executions finish for a grace period; :meth:`ExecutionPool.kill`
then records those still running as KILLED and kills their commands' processes, so no accepted
execution is lost silently.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, KestraGitError
from ..flow import Flow, validate_source
from ..instance.base import ExecutionRecord
from ..instance.local import LocalInstance
from .config import ServerConfig

__all__ = ["ExecutionPool", "Job", "PoolClosedError", "kill_running"]

_log = logging.getLogger(__name__)


class PoolClosedError(ConfigError):
    """The server is stopping or its queue is full: the execution was not accepted."""


@dataclass
class Job:
    """One accepted execution, before and while it runs."""

    flow: Flow
    inputs: dict[str, Any]
    trigger: dict[str, Any] | None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:22])
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: str = "CREATED"
    record: ExecutionRecord | None = None
    done: threading.Event = field(default_factory=threading.Event)
    _callbacks: list[Callable[[Job], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_done(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` when the execution has ended (at once if it has)."""
        with self._lock:
            if not self.done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish(self, record: ExecutionRecord | None) -> None:
        with self._lock:
            self.record = record
            self.state = record.state if record is not None else "FAILED"
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                _log.exception("callback of execution %s failed", self.id)


class ExecutionPool:
    """``config.workers`` threads running queued jobs in order."""

    def __init__(self, config: ServerConfig) -> None:
        self._config = config
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._active: dict[str, Job] = {}
        #: flow uid -> executions of it queued for or held by a worker; and those waiting
        self._running: dict[str, int] = {}
        self._waiting: dict[str, deque[Job]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"kestra-git-worker-{n}", daemon=True)
            for n in range(config.workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(
        self,
        flow: Flow,
        *,
        inputs: dict[str, Any] | None = None,
        trigger: dict[str, Any] | None,
        concurrency: tuple[int, str] | None = None,
    ) -> Job:
        """Queue a run of ``flow``; raises PoolClosedError when stopping or full."""
        job = Job(flow=flow, inputs=dict(inputs or {}), trigger=trigger)
        refused: str | None = None
        with self._lock:
            if self._closed:
                raise PoolClosedError("the server is stopping: no new execution is accepted")
            if self._queue.qsize() >= self._config.max_queued:
                raise PoolClosedError(
                    f"{self._config.max_queued} executions are already waiting for a worker"
                )
            uid = flow.uid
            if concurrency is not None and self._running.get(uid, 0) >= concurrency[0]:
                behavior = concurrency[1]
                if behavior == "QUEUE":
                    job.state = "QUEUED"
                    self._active[job.id] = job
                    self._waiting.setdefault(uid, deque()).append(job)
                    return job
                refused = "CANCELLED" if behavior == "CANCEL" else "FAILED"
            else:
                self._active[job.id] = job
                self._running[uid] = self._running.get(uid, 0) + 1
                self._queue.put(job)
        if refused is not None:
            why = f"the flow's concurrency limit ({concurrency and concurrency[0]}) was reached"
            self._record_ended([job], refused, f"{refused.lower()}: {why}")
        return job

    def get(self, execution_id: str) -> Job | None:
        """A job still queued or running (ended ones are in the instance)."""
        with self._lock:
            return self._active.get(execution_id)

    def active(self) -> list[Job]:
        with self._lock:
            return list(self._active.values())

    def close(self, grace: float) -> list[Job]:
        """Stop accepting; record queued jobs as KILLED; wait up to ``grace`` seconds for the
        running ones. Returns the jobs still running after the grace period."""
        with self._lock:
            self._closed = True
        never_started: list[Job] = [job for jobs in self._waiting.values() for job in jobs]
        self._waiting.clear()
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                never_started.append(item)
        if never_started:
            why = "killed: the server stopped before a worker started this execution"
            self._record_ended(never_started, "KILLED", why)
        for _ in self._threads:
            self._queue.put(None)
        deadline = threading.Event()
        timer = threading.Timer(grace, deadline.set)
        timer.start()
        try:
            for thread in self._threads:
                while thread.is_alive() and not deadline.is_set():
                    thread.join(0.05)
        finally:
            timer.cancel()
        return self.active()

    def _record_ended(self, jobs: list[Job], state: str, error: str) -> None:
        """Record jobs that will never run (CANCELLED, FAILED or KILLED before starting)."""
        with LocalInstance(self._config.home, validator=validate_source) as instance:
            for job in jobs:
                record = ExecutionRecord(
                    id=job.id,
                    namespace=job.flow.namespace,
                    flow_id=job.flow.id,
                    flow_revision=job.flow.revision,
                    state=state,
                    start_date=job.created,
                    end_date=datetime.now(UTC),
                    inputs=job.inputs,
                    error=error,
                    trigger=job.trigger,
                )
                instance.create_execution(record)
                with self._lock:
                    self._active.pop(job.id, None)
                job._finish(record)

    def _forget(self, job: Job, record: ExecutionRecord | None) -> None:
        uid = job.flow.uid
        with self._lock:
            self._active.pop(job.id, None)
            self._running[uid] = self._running.get(uid, 1) - 1
            waiting = self._waiting.get(uid)
            if waiting and not self._closed:
                follower = waiting.popleft()
                follower.state = "CREATED"
                self._running[uid] += 1
                self._queue.put(follower)
            if not self._running[uid]:
                del self._running[uid]
        job._finish(record)

    def _work(self) -> None:
        instance: LocalInstance | None = None
        try:
            while True:
                job = self._queue.get()
                if job is None:
                    return
                if instance is None:
                    instance = LocalInstance(self._config.home, validator=validate_source)
                self._run(job, instance)
        finally:
            if instance is not None:
                instance.close()

    def _run(self, job: Job, instance: LocalInstance) -> None:
        from ..runner import run_flow

        job.state = "RUNNING"
        record: ExecutionRecord | None = None
        try:
            record = run_flow(
                job.flow,
                instance=instance,
                secrets=self._config.secret_store(),
                inputs=job.inputs,
                home=self._config.home,
                environ=self._config.environ,
                trigger=job.trigger,
                execution_id=job.id,
            )
        except Exception:
            _log.exception("execution %s of %s ended with an internal error", job.id, job.flow.uid)
            try:
                record = instance.get_execution(job.id)
            except Exception:
                record = None
        finally:
            self._forget(job, record)


def kill_running(config: ServerConfig, jobs: list[Job]) -> None:
    """Record ``jobs`` KILLED, then kill this process's commands (their process groups and
    every process carrying their tree marker). The caller exits right after: a worker thread
    must not get to record the killed command as a failure."""
    error = (
        f"killed: the server stopped and its grace period ({config.grace:g} s) ended; "
        "running commands were killed"
    )
    with LocalInstance(config.home, validator=validate_source) as instance, instance.batch():
        for job in jobs:
            try:
                record = instance.get_execution(job.id)
            except KestraGitError:
                continue
            record.state, record.error, record.end_date = "KILLED", error, datetime.now(UTC)
            instance.update_execution(record)
    _kill_children()


def _kill_children() -> None:
    """SIGKILL the process group of each child of this process and every process carrying
    the same ``KESTRA_GIT_PROCESS_TREE`` marker (see tasks/scripts/_process.py)."""
    from ..tasks.scripts._process import TREE_ENV

    me = str(os.getpid())
    markers: set[bytes] = set()
    for pid in _pids():
        if _field(pid, "stat", 3) == me:
            with contextlib.suppress(OSError):
                os.killpg(int(pid), signal.SIGKILL)
            for entry in _environ(pid):
                if entry.startswith(TREE_ENV.encode() + b"="):
                    markers.add(entry)
    for pid in _pids():
        if pid != me and markers & set(_environ(pid)):
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)


def _pids() -> list[str]:
    try:
        return [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _field(pid: str, name: str, index: int) -> str | None:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as file:
            text = file.read().decode(errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return fields[index - 2] if len(fields) > index - 2 else None


def _environ(pid: str) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return file.read().split(b"\0")
    except OSError:
        return []
