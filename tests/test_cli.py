"""The command line: exit codes, one-line errors, JSON output, no secret ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "validate"
LOG = "io.kestra.plugin.core.log.Log"


def kestra_git(*args: str, home: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a separate process."""
    env = {**os.environ, "KESTRA_GIT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "kestra_git_tasks", *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args], env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_every_command() -> None:
    code, out, _ = invoke(Path("."), "--help")
    assert code == 0
    for command in ("run", "validate", "flows", "files", "executions", "tasks", "docs"):
        assert f"  {command} " in out or f"  {command}\n" in out


def test_run_hello_example_never_shows_the_secret(home: Path) -> None:
    result = kestra_git(
        "run",
        "flows/hello.yml",
        "--secret",
        "GITHUB_ACCESS_TOKEN=s3cr3t-value",
        "--json",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    execution = json.loads(result.stdout)
    assert execution["state"] == "SUCCESS"
    assert set(execution) >= {"id", "state", "outputs", "logs"}
    assert set(execution["outputs"]) == {"greet", "token"}
    assert "The token is ******, and logs never show it." in result.stderr
    assert "s3cr3t-value" not in result.stdout + result.stderr
    for file in home.rglob("*"):
        if file.is_file():
            assert b"s3cr3t-value" not in file.read_bytes(), file


def test_run_failure_prints_one_line_and_exits_1(home: Path, tmp_path: Path) -> None:
    flow = tmp_path / "f.yml"
    flow.write_text(
        f"id: f\nnamespace: n\ntasks:\n  - id: needs\n    type: {LOG}\n"
        "    message: \"{{ secret('NOT_SET') }}\"\n"
    )
    result = kestra_git("run", str(flow), "--quiet", home=home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"Error: task 'needs' ({LOG}) failed: property 'message': Cannot find secret for key"
    )
    assert "Traceback" not in result.stderr


def test_run_undefined_variable_one_line_naming_task_and_variable(
    home: Path, tmp_path: Path
) -> None:
    flow = tmp_path / "f.yml"
    flow.write_text(
        f"id: f\nnamespace: n\ntasks:\n  - id: greet\n    type: {LOG}\n"
        '    message: "{{ inputs.who }}"\n'
    )
    code, _, err = invoke(home, "run", str(flow), "--quiet")
    assert code == 1
    assert err.count("\n") == 1
    assert "task 'greet'" in err and "inputs.who" in err


def test_validate_mixed_directory_reports_each_bad_flow(home: Path) -> None:
    result = kestra_git("validate", str(DATA), home=home)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    bad_files = sorted(p.name for p in DATA.glob("bad_*"))
    assert len(bad_files) >= 10
    for name in bad_files:
        assert any(
            line.startswith(f"{DATA / name}:") and ":" in line.split(name, 1)[1][1:]
            for line in result.stderr.splitlines()
        ), name
    assert f"2 valid, {len(bad_files)} invalid" in result.stderr


def test_validate_json_and_good_files_exit_0(home: Path) -> None:
    code, out, _ = invoke(home, "validate", str(DATA / "good_hello.yml"), "--json")
    assert code == 0
    assert json.loads(out) == [
        {
            "file": str(DATA / "good_hello.yml"),
            "valid": True,
            "flow": "company.team/good_hello",
            "problems": [],
        }
    ]


def test_usage_errors_exit_2(home: Path) -> None:
    assert invoke(home, "run")[0] == 2
    assert invoke(home, "run", "flows/hello.yml", "--secret", "no-equals-sign")[0] == 2
    assert invoke(home, "nope")[0] == 2


def test_flows_deploy_list_show_delete(home: Path) -> None:
    code, out, _ = invoke(home, "flows", "deploy", str(DATA / "good_hello.yml"))
    assert (code, out) == (0, "company.team/good_hello: created, revision 1\n")
    assert invoke(home, "flows", "deploy", str(DATA / "good_hello.yml"))[1].endswith(
        "unchanged, revision 1\n"
    )
    code, out, _ = invoke(home, "flows", "list", "--json")
    assert [(f["namespace"], f["id"], f["revision"]) for f in json.loads(out)] == [
        ("company.team", "good_hello", 1)
    ]
    assert "good_hello" in invoke(home, "flows", "list")[1]
    code, out, _ = invoke(home, "flows", "show", "company.team/good_hello")
    assert out == (DATA / "good_hello.yml").read_text()
    assert invoke(home, "flows", "delete", "company.team/good_hello", "--yes")[0] == 0
    code, _, err = invoke(home, "flows", "show", "company.team/good_hello")
    assert code == 1 and err.startswith("Error: flow company.team/good_hello not found")


def test_flows_deploy_is_all_or_nothing(home: Path) -> None:
    home.mkdir()  # `flows list` only reads: it needs an existing home
    code, _, err = invoke(
        home, "flows", "deploy", str(DATA / "good_hello.yml"), str(DATA / "bad_namespace.yml")
    )
    assert code == 1 and "bad_namespace.yml:2" in err
    assert invoke(home, "flows", "list", "--json")[1].strip() == "[]"


def test_files_list_and_show(home: Path) -> None:
    from kestra_git_tasks import LocalInstance

    with LocalInstance(home) as instance:
        instance.write_file("prod", "/scripts/a.py", b"print('hi')\n")
    code, out, _ = invoke(home, "files", "list", "prod", "--json")
    assert [f["path"] for f in json.loads(out)] == ["/scripts/a.py"]
    assert invoke(home, "files", "show", "prod", "/scripts/a.py")[1] == "print('hi')\n"
    code, _, err = invoke(home, "files", "show", "prod", "/missing.txt")
    assert code == 1 and err.count("\n") == 1


def test_executions_list_and_show(home: Path) -> None:
    code, out, _ = invoke(
        home, "run", "flows/hello.yml", "--secret", "GITHUB_ACCESS_TOKEN=x", "--json", "--quiet"
    )
    assert code == 0, out
    execution_id = json.loads(out)["id"]
    code, out, _ = invoke(home, "executions", "list", "--json")
    assert [e["id"] for e in json.loads(out)] == [execution_id]
    code, out, _ = invoke(home, "executions", "show", execution_id, "--json")
    assert json.loads(out)["logs"][0]["taskId"] == "greet"
    assert "SUCCESS" in invoke(home, "executions", "show", execution_id)[1]
    assert invoke(home, "executions", "show", "nope")[0] == 1


def test_tasks_lists_known_types(home: Path) -> None:
    code, out, _ = invoke(home, "tasks", "--json")
    assert code == 0
    types = {row["type"] for row in json.loads(out)}
    assert {
        LOG,
        "io.kestra.plugin.core.trigger.Schedule",
        "io.kestra.plugin.core.trigger.Webhook",
    } <= types


def test_python_dash_m_works(home: Path) -> None:
    result = kestra_git("--help", home=home, check=True)
    assert "Usage: kestra-git" in result.stdout
