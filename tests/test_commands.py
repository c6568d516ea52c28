"""Shell and Python Commands run as real processes on the host."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kestra_git_tasks import LocalInstance, PythonCommands, RunContext, ShellCommands, run_flow
from kestra_git_tasks.errors import ConfigError, TaskFailedError
from kestra_git_tasks.instance.base import LogRecord
from kestra_git_tasks.tasks.scripts._process import parse_duration

SHELL = "io.kestra.plugin.scripts.shell.Commands"


@pytest.fixture
def logs() -> list[LogRecord]:
    return []


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def ctx(tmp_path: Path, workdir: Path, logs: list[LogRecord]) -> Iterator[RunContext]:
    context = RunContext.create(home=tmp_path / "home", secrets={"TOKEN": "t0p-s3cret-value"})
    context.working_dir = workdir
    context.task_id = "cmd"
    context.sinks.append(logs.append)
    yield context


def shell(ctx: RunContext, *commands: str, **properties: Any) -> ShellCommands.Output:
    output = ShellCommands(id="cmd", commands=list(commands), **properties).run(ctx)
    assert isinstance(output, ShellCommands.Output)
    return output


def lines(logs: list[LogRecord], level: str | None = None) -> list[str]:
    return [log.message for log in logs if level is None or log.level == level]


def is_running(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1]


# -- output, logs and vars ----------------------------------------------------------------------
def test_stdout_is_logged_at_info_and_stderr_at_error(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    output = shell(ctx, "echo out one", "echo err one >&2", "echo out two")
    assert lines(logs, "INFO") == ["out one", "out two"]
    assert lines(logs, "ERROR") == ["err one"]
    assert (output.exit_code, output.std_out_line_count, output.std_err_line_count) == (0, 2, 1)


def test_vars_come_from_outputs_lines_which_are_not_logged(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    output = shell(
        ctx,
        """echo '::{"outputs":{"answer":42,"name":"x"}}::'""",
        """echo '::{"outputs":{"name":"y"},"logs":[{"level":"WARN","message":"careful"}]}::'""",
        "echo '::not json::'",
    )
    assert output.vars == {"answer": 42, "name": "y"}
    assert lines(logs) == ["careful", "::not json::"]
    assert output.to_dict()["vars"] == {"answer": 42, "name": "y"}


def test_secrets_are_masked_in_output_lines(ctx: RunContext, logs: list[LogRecord]) -> None:
    token = ctx.render("{{ secret('TOKEN') }}")
    shell(ctx, 'echo "token=$TOKEN"', 'echo "again $TOKEN" >&2', env={"TOKEN": token})
    assert lines(logs) == ["token=******", "again ******"]


def test_before_commands_env_and_working_directory(ctx: RunContext, workdir: Path) -> None:
    output = shell(
        ctx,
        'echo "::{\\"outputs\\":{\\"pwd\\":\\"$(pwd)\\",\\"v\\":\\"$GREETING-$STEP\\"}}::"',
        before_commands=["STEP=before"],
        env={"GREETING": "hello"},
    )
    assert output.vars == {"pwd": str(workdir), "v": "hello-before"}


def test_secret_environment_variables_are_not_passed_on(ctx: RunContext) -> None:
    # Commands get the context's environment (the one it was created with), less SECRET_*.
    ctx.environ.update(SECRET_DB_PASSWORD="c2VjcmV0", PLAIN_SETTING="kept")
    output = shell(
        ctx,
        """echo "::{\\"outputs\\":{\\"s\\":\\"${SECRET_DB_PASSWORD:-}\\",\\"p\\":\\"$PLAIN_SETTING\\"}}::" """,
    )
    assert output.vars == {"s": "", "p": "kept"}


# -- failures -----------------------------------------------------------------------------------
def test_non_zero_exit_fails_with_the_code_and_the_last_stderr_lines(ctx: RunContext) -> None:
    commands = [f"echo 'problem {n}' >&2" for n in range(15)]
    with pytest.raises(TaskFailedError, match=r"exit code 3") as caught:
        shell(ctx, *commands, "exit 3")
    message = str(caught.value)
    assert "problem 14" in message and "problem 5" in message and "problem 4" not in message


def test_fail_fast_stops_at_the_first_failing_command(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    with pytest.raises(TaskFailedError, match=r"exit code 1"):
        shell(ctx, "echo first", "false", "echo never")
    assert lines(logs) == ["first"]


def test_without_fail_fast_the_last_command_decides(ctx: RunContext, logs: list[LogRecord]) -> None:
    output = shell(ctx, "false", "echo still here", fail_fast=False)
    assert output.exit_code == 0 and lines(logs) == ["still here"]


def test_timeout_kills_the_command_and_its_children(ctx: RunContext, workdir: Path) -> None:
    started = time.monotonic()
    with pytest.raises(TaskFailedError, match=r"timed out after PT1S.*children were killed"):
        shell(ctx, "sleep 30 & echo $! > child.pid", "sleep 30; wait", timeout="PT1S")
    assert time.monotonic() - started < 10
    child = int((workdir / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(child)


def test_background_leftovers_are_killed_when_the_command_ends(
    ctx: RunContext, workdir: Path
) -> None:
    started = time.monotonic()
    shell(ctx, "sleep 30 & echo $! > child.pid", "echo done")
    assert time.monotonic() - started < 10
    child = int((workdir / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while is_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(child)


def wait_gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not is_running(pid)


def test_a_setsid_child_is_killed_at_timeout(ctx: RunContext, workdir: Path) -> None:
    with pytest.raises(TaskFailedError, match=r"timed out after PT1S"):
        shell(ctx, "setsid sleep 300 & echo $! > child.pid", "sleep 30; wait", timeout="PT1S")
    child = int((workdir / "child.pid").read_text())
    assert wait_gone(child)


def test_a_double_forked_daemon_is_killed_when_the_command_ends(
    ctx: RunContext, workdir: Path
) -> None:
    # the daemon's parent exits at once: it is an orphan in another session, not our child
    shell(
        ctx,
        "setsid sh -c 'sleep 300 & echo $! > daemon.pid' &",
        "while [ ! -s daemon.pid ]; do sleep 0.05; done",
        "echo done",
    )
    daemon = int((workdir / "daemon.pid").read_text())
    assert wait_gone(daemon)


def test_processes_outside_the_command_are_left_running(ctx: RunContext, workdir: Path) -> None:
    # A process outside the command (no marker) survives the command's end.
    import subprocess

    outsider = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        shell(ctx, "echo done")
        assert is_running(outsider.pid)
    finally:
        outsider.kill()
        outsider.wait()


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT5S", 5), ("PT1M30S", 90), ("PT0.5S", 0.5), ("P1DT1H", 90000)]
)
def test_iso_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5s", "PT", "P", "PT-1S", "PT0S"])
def test_invalid_timeout_is_a_config_error(ctx: RunContext, text: str) -> None:
    with pytest.raises(ConfigError, match=r"`timeout`"):
        shell(ctx, "true", timeout=text)


def test_missing_interpreter_is_a_config_error(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match=r"'/no/such/shell': not found"):
        shell(ctx, "true", interpreter=["/no/such/shell", "-c"])


# -- runners ------------------------------------------------------------------------------------
def test_process_runner_is_accepted_and_container_image_ignored(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    output = shell(
        ctx,
        "echo ok",
        task_runner={"type": "io.kestra.plugin.core.runner.Process"},
        container_image="ubuntu:22.04",
    )
    assert output.exit_code == 0
    assert any(log.level == "DEBUG" and "ubuntu:22.04" in log.message for log in logs)


@pytest.mark.parametrize(
    "properties",
    [
        {"task_runner": {"type": "io.kestra.plugin.scripts.runner.docker.Docker"}},
        {"task_runner": {"type": "io.kestra.plugin.ee.kubernetes.runner.Kubernetes"}},
        {"runner": "DOCKER"},
    ],
)
def test_container_runners_are_refused(ctx: RunContext, properties: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"does not run containers.*core\.runner\.Process"):
        shell(ctx, "echo never", **properties)


def test_custom_interpreter(ctx: RunContext) -> None:
    output = shell(
        ctx,
        "import json",
        'print("::" + json.dumps({"outputs": {"n": 6 * 7}}) + "::")',
        interpreter=[sys.executable, "-c"],
    )
    assert output.vars == {"n": 42}


# -- files --------------------------------------------------------------------------------------
def test_input_files_and_output_files(ctx: RunContext, workdir: Path) -> None:
    output = shell(
        ctx,
        "mkdir -p out/deep",
        "cat in/data.txt > out/copy.txt",
        "echo x > out/deep/x.json",
        "echo ignored > other.log",
        input_files={"in/data.txt": "hello\n"},
        output_files=["out/*.txt", "out/**/*.json"],
    )
    assert sorted(output.output_files) == ["out/copy.txt", "out/deep/x.json"]
    copy = Path(output.output_files["out/copy.txt"])
    assert copy.read_text() == "hello\n"
    assert copy.is_relative_to(ctx.output_dir / "cmd")


def test_input_files_as_json_text(ctx: RunContext) -> None:
    output = shell(ctx, "cat a.txt", input_files='{"a.txt": "from json"}', output_files=["a.txt"])
    assert Path(output.output_files["a.txt"]).read_text() == "from json"


def test_input_file_outside_the_folder_is_refused(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match=r"`inputFiles` name '../x.txt'"):
        shell(ctx, "true", input_files={"../x.txt": "no"})


def test_without_working_directory_a_temporary_folder_is_used_and_removed(
    tmp_path: Path,
) -> None:
    ctx = RunContext.create(home=tmp_path / "home")
    output = ShellCommands(
        id="cmd", commands=['echo "::{\\"outputs\\":{\\"d\\":\\"$(pwd)\\"}}::"']
    ).run(ctx)
    assert isinstance(output, ShellCommands.Output)
    folder = Path(output.vars["d"])
    assert folder != Path.cwd() and not folder.exists()


def test_namespace_files_are_copied_in(tmp_path: Path, logs: list[LogRecord]) -> None:
    with LocalInstance(tmp_path / "home") as instance:
        instance.write_file("company.team", "/scripts/a.sh", b"echo from namespace\n")
        instance.write_file("company.team", "/notes.md", b"no\n")
        ctx = RunContext.create(home=tmp_path / "home", instance=instance)
        ctx.sinks.append(logs.append)
        ShellCommands(
            id="cmd",
            commands=["sh scripts/a.sh", "test ! -e notes.md"],
            namespace_files={"include": ["scripts/*"]},
        ).run(ctx)
    assert lines(logs) == ["from namespace"]


# -- Python -------------------------------------------------------------------------------------
def test_python_runs_the_interpreter_running_kestra_git(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    output = PythonCommands(
        id="cmd",
        commands=[
            "python -c 'import sys; print(sys.prefix)'",
            "python3 -c 'import kestra_git_tasks; print(\"importable\")'",
        ],
        dependencies=["pandas"],
    ).run(ctx)
    assert isinstance(output, PythonCommands.Output)
    assert lines(logs, "INFO") == [sys.prefix, "importable"]
    assert any(log.level == "WARN" and "pandas" in log.message for log in logs)


def test_python_output_is_unbuffered_and_vars_flow_to_the_next_task(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""\
id: py
namespace: company.team
tasks:
  - id: python
    type: io.kestra.plugin.scripts.python.Commands
    inputFiles:
      main.py: |
        import json, sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        print("::" + json.dumps({{"outputs": {{"answer": 42}}}}) + "::")
    commands:
      - python main.py
  - id: shell
    type: {SHELL}
    commands:
      - echo "got {{{{ outputs.python.vars.answer }}}}"
"""
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    assert [(log.task_id, log.level, log.message) for log in execution.logs] == [
        ("python", "INFO", "to stdout"),
        ("python", "ERROR", "to stderr"),
        ("shell", "INFO", "got 42"),
    ]
    assert execution.outputs["python"]["stdErrLineCount"] == 1


def test_docker_runner_in_a_flow_fails_naming_the_task(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yml"
    flow.write_text(
        f"""\
id: docker
namespace: company.team
tasks:
  - id: containerised
    type: {SHELL}
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    containerImage: ubuntu
    commands:
      - echo hi
"""
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "FAILED" and execution.failed_task_id == "containerised"
    assert "does not run containers" in (execution.error or "")
