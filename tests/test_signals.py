"""SIGTERM ends a run like Ctrl-C, and executions left RUNNING by dead processes end KILLED.

These run the real ``kestra-git`` entry point in separate processes and signal them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.instance.base import ExecutionRecord
from kestra_git_tasks.instance.owners import ProcessOwner

ROOT = Path(__file__).resolve().parent.parent
SHELL = "io.kestra.plugin.scripts.shell.Commands"


def is_running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


def wait_for(condition: object, seconds: float = 30) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def long_flow(folder: Path, name: str) -> Path:
    """A flow whose Commands task writes its pid and a child's pid, then sleeps."""
    flow = folder / f"{name}.yml"
    flow.write_text(
        f"""id: {name}
namespace: company.team
tasks:
  - id: sleep
    type: {SHELL}
    commands:
      - sleep 300 &
      - echo $! > {folder / name}.child
      - setsid sleep 300 &
      - echo $! > {folder / name}.setsid
      - echo $$ > {folder / name}.pid
      - wait
"""
    )
    return flow


class Runs:
    """Starts ``kestra-git run`` processes on one home; kills what is left at the end."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.processes: list[subprocess.Popen[str]] = []
        self.pid_files: list[Path] = []

    def start(self, flow: Path) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "kestra_git_tasks", "run", str(flow), "--quiet"],
            env={**os.environ, "KESTRA_GIT_HOME": str(self.home)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        name = flow.stem
        self.pid_files += [flow.parent / f"{name}.{kind}" for kind in ("pid", "child", "setsid")]
        # the command runs once it has written its pid
        wait_for(lambda: (flow.parent / f"{name}.pid").exists() or process.poll() is not None)
        assert process.poll() is None, process.communicate()
        return process

    def executions(self) -> dict[str, ExecutionRecord]:
        with LocalInstance(self.home) as instance:
            return {e.flow_id: e for e in instance.list_executions()}

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
        for pid_file in self.pid_files:
            text = pid_file.read_text().strip() if pid_file.exists() else ""
            if text and is_running(int(text)):
                os.kill(int(text), signal.SIGKILL)


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Runs]:
    started = Runs(tmp_path / "home")
    try:
        yield started
    finally:
        started.close()


def pids(folder: Path, name: str) -> list[int]:
    return [int((folder / f"{name}.{kind}").read_text()) for kind in ("pid", "child", "setsid")]


def test_sigterm_ends_the_execution_killed_and_kills_the_commands_processes(
    tmp_path: Path, runs: Runs
) -> None:
    process = runs.start(long_flow(tmp_path, "long"))
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 143, stderr  # 128 + SIGTERM, as systemd and CI expect
    execution = runs.executions()["long"]
    assert execution.state == "KILLED", stderr
    assert execution.end_date is not None
    assert execution.error is not None and "SIGTERM" in execution.error
    for pid in pids(tmp_path, "long"):
        wait_for(lambda pid=pid: not is_running(pid), 5)


def test_a_run_killed_with_sigkill_is_marked_killed_by_the_next_run_but_a_live_one_is_not(
    tmp_path: Path, runs: Runs
) -> None:
    live = runs.start(long_flow(tmp_path, "live"))
    dead = runs.start(long_flow(tmp_path, "dead"))
    dead.kill()  # SIGKILL: no cleanup at all
    dead.communicate()
    assert {e.state for e in runs.executions().values()} == {"RUNNING"}

    quick = tmp_path / "quick.yml"
    quick.write_text(
        "id: quick\nnamespace: company.team\ntasks:\n"
        "  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    assert run_flow(quick, home=runs.home).state == "SUCCESS"

    executions = runs.executions()
    assert executions["dead"].state == "KILLED"
    assert executions["dead"].error is not None
    assert f"pid {dead.pid} on host" in executions["dead"].error
    assert executions["live"].state == "RUNNING"
    live.send_signal(signal.SIGTERM)
    live.communicate(timeout=30)
    assert runs.executions()["live"].state == "KILLED"


def record_running(home: Path, execution_id: str, owner: ProcessOwner) -> None:
    from datetime import UTC, datetime

    with LocalInstance(home) as instance:
        instance.create_execution(
            ExecutionRecord(execution_id, "company.team", "f", None, "RUNNING", datetime.now(UTC))
        )
        instance.set_execution_owner(execution_id, owner)


def test_only_executions_of_dead_processes_of_this_host_are_marked(tmp_path: Path) -> None:
    me = ProcessOwner.current()
    home = tmp_path / "home"
    record_running(home, "mine", me)
    record_running(home, "reused_pid", ProcessOwner(me.host, me.boot_id, me.pid, -1))
    record_running(home, "rebooted", ProcessOwner(me.host, "another-boot", me.pid, me.start_ticks))
    record_running(home, "other_host", ProcessOwner(socket.gethostname() + "-x", "b", 1, 1))
    with LocalInstance(home) as instance:
        assert sorted(instance.mark_dead_executions()) == ["rebooted", "reused_pid"]
        assert instance.mark_dead_executions() == []
        states = {e.id: e.state for e in instance.list_executions()}
    assert states == {
        "mine": "RUNNING",
        "reused_pid": "KILLED",
        "rebooted": "KILLED",
        "other_host": "RUNNING",
    }


def test_an_execution_without_a_recorded_owner_is_left_alone(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    with LocalInstance(tmp_path / "home") as instance:
        instance.create_execution(
            ExecutionRecord("old", "company.team", "f", None, "RUNNING", datetime.now(UTC))
        )
        assert instance.mark_dead_executions() == []
        assert instance.get_execution("old").state == "RUNNING"
