"""The bounded pool of workers that runs the server's executions.

:meth:`ExecutionPool.submit` queues a flow run and returns its :class:`Job` at once (state
CREATED, with the execution id the run will be recorded under); ``workers`` threads take jobs
in order and hand each to its own worker process (:mod:`.worker`), which runs it through
:func:`~kestra_git_tasks.runner.run_flow`, exactly as ``kestra-git run`` does, with the trigger
that started it. Callbacks registered with :meth:`Job.on_done` run in the
worker thread once the execution is recorded.

A flow's ``concurrency`` (``limit`` running executions at once) is honoured: beyond it a new
execution waits (QUEUE, state QUEUED), or is recorded CANCELLED (CANCEL) or FAILED (FAIL) at
once. :meth:`ExecutionPool.close` stops accepting, records the jobs that never started as
KILLED, and lets the running executions finish for a grace period; :meth:`ExecutionPool.kill`
then SIGTERMs the workers still running one (the runner kills the commands and records KILLED),
so no accepted execution is lost silently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
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

__all__ = ["ExecutionPool", "Job", "PoolClosedError"]

_log = logging.getLogger(__name__)
#: A worker ignores SIGINT from its first instruction (see worker.py), then runs.
_WORKER_MAIN = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from kestra_git_tasks.server.worker import main; main()"
)


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
        #: execution id -> the worker process running it
        self._processes: dict[str, subprocess.Popen[str]] = {}
        self._threads = [
            threading.Thread(
                target=self._work, args=(n,), name=f"kestra-git-worker-{n}", daemon=True
            )
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

    def _record_ended(
        self, jobs: list[Job], state: str, error: str, *, running: bool = False
    ) -> None:
        """Record jobs that will never run (CANCELLED, FAILED or KILLED before starting);
        ``running``: they held a worker slot, which is given back."""
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
                if running:
                    self._forget(job, record)
                    continue
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

    def _work(self, slot: int) -> None:
        """One pool thread: feeds its worker process (``worker.py``) one job at a time."""
        process: subprocess.Popen[str] | None = None
        instance: LocalInstance | None = None
        try:
            process = self._spawn()
            while True:
                job = self._queue.get()
                if job is None:
                    return
                if process.poll() is not None:
                    process = self._spawn()
                if instance is None:
                    instance = LocalInstance(self._config.home, validator=validate_source)
                with self._lock:
                    self._processes[job.id] = process
                try:
                    ended = self._run(job, process)
                finally:
                    with self._lock:
                        self._processes.pop(job.id, None)
                if not ended:  # the worker died: its execution is marked KILLED, if it had one
                    process.wait()
                    instance.mark_dead_executions()
                record = _recorded(instance, job.id)
                if record is None:  # it died before recording it: never drop it silently
                    why = "killed: the worker process ended before starting this execution"
                    self._record_ended([job], "KILLED", why, running=True)
                    continue
                self._forget(job, record)
        finally:
            if process is not None:
                _stop(process)
            if instance is not None:
                instance.close()

    def _spawn(self) -> subprocess.Popen[str]:
        config = self._config
        command = [sys.executable, "-c", _WORKER_MAIN, str(config.home)]
        command += [str(config.secrets_file)] if config.secrets_file else []
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(config.environ),
            start_new_session=True,  # a terminal's Ctrl-C reaches the server, not its workers
            text=True,
            encoding="utf-8",
        )

    def _run(self, job: Job, process: subprocess.Popen[str]) -> bool:
        """Send ``job`` and follow it; False when the worker died before it ended."""
        assert process.stdin is not None and process.stdout is not None
        message = {
            "id": job.id,
            "source": job.flow.source,
            "path": job.flow.path,
            "revision": job.flow.revision,
            "inputs": job.inputs,
            "trigger": job.trigger,
        }
        try:
            process.stdin.write(json.dumps(message, default=str) + "\n")
            process.stdin.flush()
        except OSError:
            return False
        for line in process.stdout:
            event = json.loads(line)
            if event.get("event") == "started":
                job.state = "RUNNING"
            elif event.get("event") == "done":
                return True
        return False

    def kill(self, jobs: list[Job], wait: float = 10.0) -> None:
        """SIGTERM the workers running ``jobs``: each kills its commands and records its
        execution KILLED; a worker still there after ``wait`` seconds is SIGKILLed (its
        execution is then marked KILLED as a dead process's)."""
        with self._lock:
            processes = [self._processes[job.id] for job in jobs if job.id in self._processes]
        for process in processes:
            with contextlib.suppress(OSError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.poll() is None:
                process.kill()
        for thread in self._threads:
            thread.join(5.0)


def _recorded(instance: LocalInstance, execution_id: str) -> ExecutionRecord | None:
    try:
        return instance.get_execution(execution_id)
    except KestraGitError:
        return None


def _stop(process: subprocess.Popen[str]) -> None:
    """End an idle worker: EOF on its stdin, then wait (SIGKILL if it does not go)."""
    with contextlib.suppress(OSError):
        if process.stdin is not None:
            process.stdin.close()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
