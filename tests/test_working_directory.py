"""WorkingDirectory, and Kestra's Git Clone pattern end to end (real git server, real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kestra_git_tasks import LocalInstance, RunContext, WorkingDirectory, run_flow
from kestra_git_tasks.errors import FlowFileError, KestraGitError
from kestra_git_tasks.flow import parse_flow

if TYPE_CHECKING:
    from conftest import MakeRemote

ROOT = Path(__file__).resolve().parent.parent
WD = "io.kestra.plugin.core.flow.WorkingDirectory"
SHELL = "io.kestra.plugin.scripts.shell.Commands"
PYTHON = "io.kestra.plugin.scripts.python.Commands"
LOG = "io.kestra.plugin.core.log.Log"
PASSWORD = "s3cr3t-token"

ANSWER_SCRIPT = """\
import json
print("computing the answer")
print("::" + json.dumps({"outputs": {"answer": 42}}) + "::")
"""


def write_flow(folder: Path, text: str) -> Path:
    path = folder / "flow.yml"
    path.write_text(text)
    return path


def pwd_var(task_id: str, indent: int = 0) -> str:
    """A shell task whose ``vars.pwd`` is its working directory, as flow YAML lines."""
    pad = " " * indent
    return (
        f"{pad}  - id: {task_id}\n{pad}    type: {SHELL}\n{pad}    commands:\n"
        f'{pad}      - echo "::{{\\"outputs\\":{{\\"pwd\\":\\"$(pwd)\\"}}}}::"\n'
    )


def clone_pattern_flow(url: str) -> str:
    return f"""\
id: git_python
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    tasks:
      - id: clone_repository
        type: io.kestra.plugin.git.Clone
        url: {url}
        branch: main
        username: git_user
        password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
      - id: python
        type: {PYTHON}
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        containerImage: python:3.13-slim
        commands:
          - python scripts/answer.py
  - id: log
    type: {LOG}
    message: "The answer is {{{{ outputs.python.vars.answer }}}}"
"""


# -- the Clone pattern --------------------------------------------------------------------------
def test_clone_pattern_runs_a_script_from_the_repository_and_passes_its_value_on(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"scripts/answer.py": ANSWER_SCRIPT})
    flow = write_flow(tmp_path, clone_pattern_flow(repo.url))
    home = tmp_path / "home"
    execution = run_flow(flow, home=home, secrets={"GITHUB_ACCESS_TOKEN": PASSWORD})
    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["python"]["vars"] == {"answer": 42}
    assert execution.logs[-1].task_id == "log"
    assert execution.logs[-1].message == "The answer is 42"
    assert ("python", "computing the answer") in [
        (log.task_id, log.message) for log in execution.logs
    ]
    clone_dir = Path(execution.outputs["clone_repository"]["directory"])
    assert not clone_dir.exists()  # the working directory is gone
    for file in home.rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file


def test_clone_pattern_runs_with_the_kestra_git_command(remote: MakeRemote, tmp_path: Path) -> None:
    repo = remote(files={"scripts/answer.py": ANSWER_SCRIPT})
    flow = write_flow(tmp_path, clone_pattern_flow(repo.url))
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "kestra_git_tasks", "run", str(flow), "--json"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "KESTRA_GIT_HOME": str(home),
            "SECRET_GITHUB_ACCESS_TOKEN": "czNjcjN0LXRva2Vu",  # base64 of the token
        },
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    execution = json.loads(result.stdout)
    assert execution["state"] == "SUCCESS"
    assert execution["outputs"]["python"]["vars"] == {"answer": 42}
    assert "The answer is 42" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_clone_pattern_with_a_wrong_password_fails_on_the_clone(
    remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"scripts/answer.py": ANSWER_SCRIPT})
    flow = write_flow(tmp_path, clone_pattern_flow(repo.url))
    execution = run_flow(
        flow, home=tmp_path / "home", secrets={"GITHUB_ACCESS_TOKEN": "wrong-token"}
    )
    assert execution.state == "FAILED"
    assert execution.failed_task_id == "clone_repository"
    assert "rejected the credentials" in (execution.error or "")
    assert "wrong-token" not in (execution.error or "")


# -- the shared folder --------------------------------------------------------------------------
def test_children_share_one_folder_which_is_removed_afterwards(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: shared
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    tasks:
      - id: write
        type: {SHELL}
        commands:
          - echo shared > note.txt
{pwd_var("first", indent=4)}      - id: read
        type: {PYTHON}
        commands:
          - python -c "print(open('note.txt').read().strip())"
{pwd_var("after")}""",
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    assert ("read", "shared") in [(log.task_id, log.message) for log in execution.logs]
    inside = Path(execution.outputs["first"]["vars"]["pwd"])
    after = Path(execution.outputs["after"]["vars"]["pwd"])
    assert inside != after  # the working directory was restored for the next task
    assert not inside.exists() and not after.exists()


def test_a_failing_child_fails_the_execution_runs_errors_and_finally_and_removes_the_folder(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "folder.txt"
    flow = write_flow(
        tmp_path,
        f"""\
id: failing
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    tasks:
      - id: remember
        type: {SHELL}
        commands:
          - pwd > {marker}
          - echo partial > partial.txt
      - id: boom
        type: {SHELL}
        commands:
          - echo "it broke" >&2
          - exit 4
      - id: never
        type: {LOG}
        message: never
    errors:
      - id: on_error
        type: {SHELL}
        commands:
          - cat partial.txt
    finally:
      - id: cleanup
        type: {LOG}
        message: finally ran
  - id: after
    type: {LOG}
    message: never either
""",
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert execution.failed_task_id == "boom"
    assert "exit code 4" in (execution.error or "") and "it broke" in (execution.error or "")
    messages = [(log.task_id, log.message) for log in execution.logs]
    assert ("on_error", "partial") in messages and ("cleanup", "finally ran") in messages
    assert all(task not in ("never", "after") for task, _ in messages)
    assert not Path(marker.read_text().strip()).exists()


def test_input_files_and_output_files(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: files
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    inputFiles:
      config.json: '{{"rows": 3}}'
      sub/data.txt: hello
    outputFiles:
      - "*.csv"
      - sub/*.txt
    tasks:
      - id: report
        type: {SHELL}
        commands:
          - cat config.json
          - echo "id,value" > report.csv
          - echo "not kept" > other.log
""",
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    files = execution.outputs["wdir"]["outputFiles"]
    assert sorted(files) == ["report.csv", "sub/data.txt"]
    assert Path(files["report.csv"]).read_text() == "id,value\n"
    assert Path(files["sub/data.txt"]).read_text() == "hello"
    assert ("report", '{"rows": 3}') in [(log.task_id, log.message) for log in execution.logs]


def test_input_files_as_json_text_rendered_from_a_variable(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: json_files
namespace: company.team
variables:
  files: '{{"a.txt": "from a variable"}}'
tasks:
  - id: wdir
    type: {WD}
    inputFiles: "{{{{ vars.files }}}}"
    tasks:
      - id: show
        type: {SHELL}
        commands:
          - cat a.txt
""",
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    assert execution.logs[-1].message == "from a variable"


def test_namespace_files_are_copied_into_the_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        instance.write_file("company.team", "/etl/job.py", b"print('namespace job')\n")
        flow = write_flow(
            tmp_path,
            f"""\
id: ns_files
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    namespaceFiles:
      enabled: true
      include:
        - etl/*.py
    tasks:
      - id: job
        type: {PYTHON}
        commands:
          - python etl/job.py
""",
        )
        execution = run_flow(flow, instance=instance, home=home)
    assert execution.state == "SUCCESS", execution.error
    assert execution.logs[-1].message == "namespace job"


# -- validation ---------------------------------------------------------------------------------
def test_empty_tasks_is_refused_when_the_flow_is_parsed() -> None:
    source = f"id: f\nnamespace: n\ntasks:\n  - id: wdir\n    type: {WD}\n    tasks: []\n"
    with pytest.raises(FlowFileError, match=r":6: .*The 'tasks' property cannot be empty"):
        parse_flow(source, "f.yml")


def test_missing_tasks_is_refused() -> None:
    source = f"id: f\nnamespace: n\ntasks:\n  - id: wdir\n    type: {WD}\n"
    with pytest.raises(FlowFileError, match=r"missing required property 'tasks'"):
        parse_flow(source, "f.yml")


def test_a_flowable_child_is_refused() -> None:
    source = (
        f"id: f\nnamespace: n\ntasks:\n  - id: outer\n    type: {WD}\n    tasks:\n"
        f"      - id: inner\n        type: {WD}\n        tasks:\n"
        f"          - id: log\n            type: {LOG}\n            message: hi\n"
    )
    with pytest.raises(FlowFileError, match=r"Only runnable tasks are allowed as children"):
        parse_flow(source, "f.yml")


def test_children_ids_are_checked_like_any_task() -> None:
    source = (
        f"id: f\nnamespace: n\ntasks:\n  - id: wdir\n    type: {WD}\n    tasks:\n"
        f"      - id: wdir\n        type: {LOG}\n        message: hi\n"
    )
    with pytest.raises(FlowFileError, match=r"Duplicate task id with name \[wdir\]"):
        parse_flow(source, "f.yml")


def test_outside_a_flow_run_it_fails_clearly_and_leaves_no_folder(tmp_path: Path) -> None:
    ctx = RunContext.create(home=tmp_path / "home")
    task = WorkingDirectory.model_validate(
        {"id": "wdir", "tasks": [{"id": "log", "type": LOG, "message": "hi"}]}
    )
    with pytest.raises(KestraGitError, match=r"only run inside a flow run"):
        task.run(ctx)
    assert ctx.working_dir is None


@pytest.mark.parametrize(
    "name", [".git/config", "sub/.GIT/hooks/pre-commit", ".git./config", "git~1/config"]
)
def test_input_files_may_not_write_into_a_git_folder(tmp_path: Path, name: str) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: files
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    inputFiles:
      "{name}": "[core]\\n\\tfsmonitor = touch {tmp_path}/pwned\\n"
    tasks:
      - id: git
        type: {SHELL}
        commands:
          - git init -q . && git status
""",
    )
    execution = run_flow(flow, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert execution.error is not None and ".git" in execution.error and name in execution.error
    assert not (tmp_path / "pwned").exists()
    assert not list(tmp_path.rglob("fsmonitor*"))


def test_namespace_files_with_a_git_component_are_not_written_to_the_working_folder(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        instance.write_file("company.team", "/.git/config", b"[core]\n\tfsmonitor = touch x\n")
        instance.write_file("company.team", "/ok.txt", b"ok\n")
    flow = write_flow(
        tmp_path,
        f"""\
id: nsfiles
namespace: company.team
tasks:
  - id: wdir
    type: {WD}
    namespaceFiles:
      enabled: true
    tasks:
      - id: ls
        type: {SHELL}
        commands:
          - ls -a
""",
    )
    execution = run_flow(flow, home=home)
    assert execution.state == "FAILED"
    assert execution.error is not None and "'.git/config' is refused" in execution.error
