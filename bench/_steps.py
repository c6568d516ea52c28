"""One measured step and one sequence of steps, the same for every benchmark.

A step runs the flow ``FLOW.yml`` as a whole ``python -m kestra_git_tasks run`` process (what a
user pays; the execution stored in the home gives the outcome) or, in-process, through
``bench/_worker.py`` (``task.run(ctx)`` alone). Every child goes through ``_launch.py``
(:func:`bench._common.run_measured`): wall time, peak RSS, and the requests the test server
answered meanwhile. A :class:`Sequence` runs first -> no-change -> one-change in a fresh home and
checks each step's :class:`Outcome`.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.gitserver import GitHttpServer

from ._common import run_measured
from ._worker import summarise_output

__all__ = [
    "STEPS",
    "STEP_LABELS",
    "USERNAME",
    "Bench",
    "Family",
    "Outcome",
    "Sample",
    "Sequence",
    "Target",
    "check_exit",
    "measure_command",
    "run_sequence",
    "run_worker",
]

WORKER = Path(__file__).resolve().with_name("_worker.py")
USERNAME = "bench"
STEPS = ("first", "nochange", "onechange")
STEP_LABELS = {"first": "first", "nochange": "no-change", "onechange": "one-change"}

Sample = dict[str, Any]  # one measurement: wall_s, rss_mb, http_requests, ...


@dataclass(frozen=True)
class Family:
    """One task under test, as the flow the CLI runs declares it."""

    key: str  # case keys are "<key>_<step>"
    label: str  # "SyncFlows"
    type: str  # "io.kestra.plugin.git.SyncFlows"
    task_id: str  # the task's id in the flow (its outputs are stored under it)
    flow_id: str
    rows_key: str  # the output holding the diff rows
    properties: Mapping[str, str | bool]  # after url, branch and credentials


@dataclass(frozen=True)
class Target:
    """A step's goal: median wall time <= ``ratio`` x the baseline's (None: no goal, info)."""

    baseline: str
    ratio: float | None


@dataclass(frozen=True)
class Outcome:
    """What one step of a sequence produced, from the CLI's stored execution or the worker."""

    state: str | None  # the execution's state (CLI); None in-process
    commit: str | None
    row_count: int
    counts: dict[str, int]  # rows by syncState
    rows_head: list[dict[str, Any]]


@dataclass
class Bench:
    """Everything a measurement needs: folders, environment, server, options."""

    tmp: Path
    env: dict[str, str]
    server: GitHttpServer
    password: str
    inprocess: bool
    cwd: Path  # working directory of every child (not the checkout when measuring a commit)
    package: Path  # the kestra_git_tasks folder the children must import
    record_requests: bool = False  # keep each request (method endpoint status) in the samples
    problems: list[str] = field(default_factory=list)

    @property
    def git(self) -> str:
        return shutil.which("git") or "git"

    def requests_seen(self) -> list[str]:
        """The requests the server answered since the last reset, one short line each."""
        return [
            f"{r.method} {r.endpoint}"
            + (f" ({r.service})" if r.service and r.service not in r.endpoint else "")
            + f" {r.status}"
            for r in self.server.requests
        ]


class Sequence(ABC):
    """One first -> no-change -> one-change sequence of one family, in a fresh home
    (``<tmp>/homes/<tag>``), against the repository the server serves as ``repo``."""

    def __init__(self, bench: Bench, tag: str, repo: str) -> None:
        self.bench, self.tag, self.repo = bench, tag, repo
        self.home = bench.tmp / "homes" / tag

    @abstractmethod
    def before(self, step: str) -> None:
        """Untimed preparation of ``step`` (e.g. commit one change before one-change)."""

    @abstractmethod
    def check(self, step: str, outcome: Outcome) -> None:
        """Verify what ``step`` did; add to ``bench.problems`` what is wrong."""

    def close(self) -> None:
        """Remove what the sequence made."""
        shutil.rmtree(self.home, ignore_errors=True)


# -- one child -----------------------------------------------------------------------------------


def check_exit(returncode: int, log: Path, what: str) -> None:
    if returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{what} failed (exit {returncode}); end of its output:\n{tail}")


def measure_command(
    bench: Bench,
    args: list[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Sample:
    """Run one git CLI command, measured (wall time, RSS, requests the server answered)."""
    sample = _measured(bench, args, log, env or bench.env, cwd)
    del sample["outer_s"]
    return sample


def run_worker(bench: Bench, mode: str, log: Path, *args: str) -> dict[str, Any]:
    """Run ``_worker.py MODE`` untimed (instance set-up and changes); its JSON result."""
    out = log.with_suffix(".json")
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(WORKER), mode, "--out", str(out), *args]
    with log.open("wb") as sink:
        done = subprocess.run(
            command, stdout=sink, stderr=subprocess.STDOUT, env=bench.env, cwd=bench.cwd
        )
    check_exit(done.returncode, log, f"worker {mode}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


# -- one step ------------------------------------------------------------------------------------


def flow_file(bench: Bench, family: Family, repo: str) -> Path:
    """The flow the CLI runs for ``family`` against ``repo`` (written once)."""
    path = bench.tmp / "flows" / f"{family.key}-{repo.removesuffix('.git')}.yml"
    if not path.exists():
        lines = [
            f"id: {family.flow_id}",
            "namespace: system",
            "tasks:",
            f"  - id: {family.task_id}",
            f"    type: {family.type}",
            f"    url: {bench.server.url_for(repo)}",
            "    branch: main",
            f"    username: {USERNAME}",
            "    password: \"{{ secret('GIT_PASSWORD') }}\"",
        ]
        for key, value in family.properties.items():
            lines.append(f"    {key}: {str(value).lower() if isinstance(value, bool) else value}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_execution(home: Path, family: Family) -> tuple[float, Outcome]:
    """Duration (RunContext created -> execution recorded) and outcome of the latest execution
    recorded in ``home``."""
    conn = sqlite3.connect(home / "instance.db")
    try:
        state, start, end, outputs = conn.execute(
            "SELECT state, start_date, end_date, outputs FROM executions "
            "ORDER BY start_date DESC LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    summary = summarise_output(json.loads(outputs).get(family.task_id, {}), family.rows_key)
    return seconds, Outcome(state=state, **summary)


def run_sequence(
    bench: Bench,
    seq: Sequence,
    family: Family,
    *,
    inprocess: bool,
    tag: str,
    profile: Mapping[str, Path] | None = None,
) -> dict[str, Sample]:
    """first -> no-change -> (``seq.before``) -> one-change, each checked by ``seq.check``.

    Whole CLI processes, or (``inprocess``) the worker timing ``task.run(ctx)``; ``profile``
    maps steps to the cProfile file of that step (worker only)."""
    logs = bench.tmp / "logs"
    samples: dict[str, Sample] = {}
    try:
        for step in STEPS:
            seq.before(step)
            log = logs / f"{tag}-{step}.log"
            if inprocess:
                sample, outcome = _worker_step(bench, seq, family, log, (profile or {}).get(step))
            else:
                sample, outcome = _cli_step(bench, seq, family, log)
            if outcome.state not in (None, "SUCCESS"):
                bench.problems.append(f"{tag} {step}: execution ended {outcome.state}")
            seq.check(step, outcome)
            samples[step] = sample
    finally:
        seq.close()
    return samples


def _measured(
    bench: Bench, args: list[str], log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> Sample:
    """``args`` through the launcher: wall time, peak RSS, the requests the server answered
    (and their list, with ``record_requests``), the driver's view of the time (``outer_s``)."""
    bench.server.requests.reset()
    result = run_measured(args, env=env, log=log, cwd=cwd or bench.cwd)
    requests = bench.requests_seen()
    check_exit(result.returncode, log, log.stem)
    sample: Sample = {
        "wall_s": result.seconds,
        "rss_mb": result.max_rss_mb,
        "http_requests": len(requests),
    }
    if bench.record_requests:
        sample["requests"] = requests
    sample["outer_s"] = result.outer_seconds
    return sample


def _cli_step(bench: Bench, seq: Sequence, family: Family, log: Path) -> tuple[Sample, Outcome]:
    args = [sys.executable, "-m", "kestra_git_tasks", "run"]
    args += [str(flow_file(bench, family, seq.repo)), "--home", str(seq.home)]
    args += ["--secret", f"GIT_PASSWORD={bench.password}"]
    sample = _measured(bench, args, log, bench.env)
    exec_s, outcome = last_execution(seq.home, family)
    outer = sample.pop("outer_s")
    sample.update(exec_s=exec_s, startup_s=sample["wall_s"] - exec_s, outer_s=outer)
    return sample, outcome


def _worker_step(
    bench: Bench, seq: Sequence, family: Family, log: Path, profile: Path | None
) -> tuple[Sample, Outcome]:
    out = log.with_suffix(".json")
    args = [sys.executable, str(WORKER), "run", "--home", str(seq.home), "--out", str(out)]
    args += ["--type", family.type, "--properties", json.dumps(dict(family.properties))]
    args += ["--task-id", family.task_id, "--flow-id", family.flow_id]
    args += ["--url", bench.server.url_for(seq.repo), "--username", USERNAME]
    args += ["--rows-key", family.rows_key]
    if profile is not None:
        args += ["--profile", str(profile)]
    sample = _measured(bench, args, log, {**bench.env, "BENCH_GIT_PASSWORD": bench.password})
    del sample["outer_s"]
    data = json.loads(out.read_text(encoding="utf-8"))
    outcome = Outcome(
        None, data.pop("commit"), data.pop("row_count"), data.pop("counts"), data.pop("rows_head")
    )
    imported = Path(data.pop("library_file")).parent
    if imported != bench.package:
        bench.problems.append(f"{log.stem}: imported {imported}, not {bench.package}")
    sample.update(data)
    return sample, outcome
