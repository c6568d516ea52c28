"""Shell and Python `Script` tasks (an inline script) run as real processes on the host."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, PythonScript, RunContext, ShellScript, run_flow
from kestra_git_tasks.errors import ConfigError, FlowFileError, TaskFailedError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.instance.base import LogRecord


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
    context.task_id = "script"
    context.sinks.append(logs.append)
    yield context


def lines(logs: list[LogRecord], level: str | None = None) -> list[str]:
    return [log.message for log in logs if level is None or log.level == level]


def test_shell_script_runs_after_before_commands_and_sets_vars_and_files(
    ctx: RunContext, workdir: Path, logs: list[LogRecord]
) -> None:
    script = 'echo "$GREETING" > out.txt\necho line\necho \'::{"outputs":{"n":3}}::\'\n'
    output = ShellScript(
        id="script",
        script=script,
        before_commands=["export GREETING=hello"],
        output_files=["out.txt"],
    ).run(ctx)
    assert isinstance(output, ShellScript.Output)
    assert output.exit_code == 0 and output.vars == {"n": 3}
    assert Path(output.output_files["out.txt"]).read_text() == "hello\n"
    assert lines(logs, "INFO") == ["line"]


def test_shell_script_fails_fast_at_its_first_failing_line(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    with pytest.raises(TaskFailedError, match="exit code 3"):
        ShellScript(id="script", script="echo one\n(exit 3)\necho never\n").run(ctx)
    assert lines(logs, "INFO") == ["one"]


def test_python_script_runs_kestras_prelude_with_the_running_interpreter(
    ctx: RunContext, workdir: Path, logs: list[LogRecord]
) -> None:
    script = (
        "import sys\nprint(sys.executable)\nprint(true, false, null)\n"
        "open('report.txt', 'w').write('done')\n"
    )
    output = PythonScript(id="script", script=script, output_files=["*.txt"]).run(ctx)
    assert isinstance(output, PythonScript.Output)
    assert lines(logs, "INFO") == [sys.executable, "True False None"]
    assert Path(output.output_files["report.txt"]).read_text() == "done"
    assert sorted(path.name for path in workdir.iterdir()) == ["report.txt"]  # no script left


def test_python_script_warns_about_dependencies_and_fails_on_an_exception(
    ctx: RunContext, logs: list[LogRecord]
) -> None:
    with pytest.raises(TaskFailedError, match="ZeroDivisionError"):
        PythonScript(id="script", script="1 / 0\n", dependencies=["pandas"]).run(ctx)
    assert any("pandas" in line for line in lines(logs, "WARN"))


def test_a_secret_printed_by_a_script_is_masked(ctx: RunContext, logs: list[LogRecord]) -> None:
    ctx.render("{{ secret('TOKEN') }}")
    ShellScript(id="script", script="echo t0p-s3cret-value").run(ctx)
    assert lines(logs, "INFO") == ["******"]


def test_a_docker_task_runner_is_refused(ctx: RunContext) -> None:
    with pytest.raises(ConfigError, match="does not run containers"):
        PythonScript(
            id="script",
            script="print(1)",
            task_runner={"type": "io.kestra.plugin.scripts.runner.docker.Docker"},
        ).run(ctx)


@pytest.mark.parametrize(
    ("task_type", "body", "key"),
    [
        ("shell.Script", "    script: ''\n", "script"),
        ("python.Script", "    commands: [x]\n    script: print(1)\n", "commands"),
        ("shell.Script", "    interpreter: []\n    script: echo\n", "interpreter"),
    ],
)
def test_bad_script_properties_are_refused_naming_the_key(
    task_type: str, body: str, key: str
) -> None:
    source = (
        "id: f\nnamespace: company.team\ntasks:\n  - id: s\n"
        f"    type: io.kestra.plugin.scripts.{task_type}\n{body}"
    )
    with pytest.raises(FlowFileError, match=key):
        parse_flow(source, "flow.yml")


def test_a_python_script_in_a_flow_passes_a_value_to_the_next_task(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(
        """id: f
namespace: company.team
tasks:
  - id: py
    type: io.kestra.plugin.scripts.python.Script
    script: |
      import json
      print("::" + json.dumps({"outputs": {"rows": {{ 6 * 7 }}}}) + "::")
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.py.vars.rows }} rows"
"""
    )
    with LocalInstance(tmp_path / "home") as instance:
        execution = run_flow(path, instance=instance, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    assert [log.message for log in execution.logs if log.task_id == "log"] == ["42 rows"]
