"""A worker process of ``kestra-git server``: runs the executions its pool thread sends it.

Started by the pool (``pool._WORKER_MAIN``, which ignores SIGINT before anything else, in a
session of its own) with ``HOME [SECRETS_FILE]`` and the server's environment. Protocol, one
JSON object per line: the pool sends a job on stdin (``{"id", "source", "path", "revision",
"inputs", "trigger"}``); the worker answers on its original stdout ``{"event": "started",
"id"}`` then ``{"event": "done", "id"}`` once :func:`~kestra_git_tasks.runner.run_flow` has
recorded the execution. File descriptor 1 is pointed at stderr, so nothing a task prints can
garble the protocol; EOF on stdin ends it.

Running executions in processes keeps the server's request loop free of the interpreter lock,
and lets the pool stop an execution: SIGTERM makes ``run_flow`` (in this main thread) kill the
running commands and record the execution KILLED, then the worker exits. SIGINT is ignored: a
Ctrl-C in the server's terminal reaches the whole process group, and the server itself decides
when its executions are stopped (after the grace period). Workers run at a lower CPU priority
(:data:`NICENESS`) than the server, so requests are answered quickly while executions run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

__all__ = ["NICENESS", "main"]

#: How much lower than the server's the workers' CPU priority is.
NICENESS = 5


def _send(out: IO[str], event: str, execution_id: str) -> None:
    out.write(json.dumps({"event": event, "id": execution_id}) + "\n")
    out.flush()


_parsed: dict[tuple[str, int | None, str], Any] = {}


def _flow(job: dict[str, Any]) -> Any:
    """The parsed flow of ``job``, parsed once per flow revision (the last 256 kept)."""
    from ..flow import parse_flow

    key = (job["path"], job["revision"], job["source"])
    flow = _parsed.get(key)
    if flow is None:
        flow = replace(parse_flow(job["source"], job["path"]), revision=job["revision"])
        if len(_parsed) >= 256:
            _parsed.clear()
        _parsed[key] = flow
    return flow


def _run(job: dict[str, Any], instance: Any, home: Path, secrets_file: Path | None) -> None:
    from ..runner import run_flow
    from ..secrets import SecretMasker, SecretStore

    flow = _flow(job)
    store = SecretStore(environ=os.environ, secrets_file=secrets_file, masker=SecretMasker())
    run_flow(
        flow,
        instance=instance,
        secrets=store,
        inputs=job["inputs"],
        home=home,
        trigger=job["trigger"],
        execution_id=job["id"],
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    home = Path(args[0])
    secrets_file = Path(args[1]) if len(args) > 1 and args[1] else None
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)  # requests and schedules first: executions are background work
    logging.basicConfig(level=logging.WARNING, format="worker %(process)d: %(message)s")
    from ..flow import validate_source
    from ..instance.local import LocalInstance

    with LocalInstance(home, validator=validate_source) as instance:
        for line in sys.stdin:
            job = json.loads(line)
            _send(protocol, "started", job["id"])
            try:
                _run(job, instance, home, secrets_file)
            except KeyboardInterrupt:  # SIGTERM: recorded KILLED by run_flow; stop here
                _send(protocol, "done", job["id"])
                return
            except Exception:
                logging.exception("execution %s ended with an internal error", job["id"])
            _send(protocol, "done", job["id"])


if __name__ == "__main__":
    main()
