"""One way to name things: NAMESPACE/ID, unique execution id prefixes, --json on every command
that prints data, a confirmation before `flows delete`, and each error printed once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli
from kestra_git_tasks.instance.base import ExecutionRecord
from kestra_git_tasks.instance.local import LocalInstance

LOG = "io.kestra.plugin.core.log.Log"
ROOT = Path(__file__).resolve().parent.parent


def invoke(home: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args], env={"KESTRA_GIT_HOME": str(home)}, input=input)
    return result.exit_code, result.stdout, result.stderr


def flow_file(tmp_path: Path, flow_id: str = "hello", namespace: str = "dev") -> Path:
    path = tmp_path / f"{flow_id}.yml"
    path.write_text(
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: say\n    type: {LOG}\n"
        "    message: hi\n"
    )
    return path


def record(instance: LocalInstance, execution_id: str, flow_id: str = "hello") -> None:
    from datetime import UTC, datetime

    instance.create_execution(
        ExecutionRecord(execution_id, "dev", flow_id, 1, "SUCCESS", datetime.now(UTC))
    )


def test_executions_list_takes_the_flow_as_namespace_slash_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        record(instance, "aaa1", "hello")
        record(instance, "bbb1", "other")
        from datetime import UTC, datetime

        instance.create_execution(
            ExecutionRecord("ccc1", "prod", "hello", 1, "SUCCESS", datetime.now(UTC))
        )
    code, out, err = invoke(home, "executions", "list", "--flow", "dev/hello", "--json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == ["aaa1"]
    code, _, err = invoke(home, "executions", "list", "--flow", "hello")
    assert code == 2 and "NAMESPACE/ID" in err and "--flow" in err
    code, _, err = invoke(home, "executions", "list", "--flow", "dev/hello", "-n", "prod")
    assert code == 2 and "not in namespace 'prod'" in err


def test_a_unique_prefix_names_an_execution(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        record(instance, "4xJ2aaaa")
        record(instance, "4xJ2bbbb")
        record(instance, "7Qzz")
    code, out, err = invoke(home, "executions", "show", "7Q", "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == "7Qzz"
    code, out, _ = invoke(home, "executions", "show", "4xJ2a")
    assert code == 0 and "4xJ2aaaa" in out


def test_an_ambiguous_prefix_lists_the_candidates(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        record(instance, "4xJ2aaaa")
        record(instance, "4xJ2bbbb")
    code, out, err = invoke(home, "executions", "show", "4xJ2")
    assert code == 2 and out == ""
    assert "4xJ2aaaa, 4xJ2bbbb" in err and "give more characters" in err


@pytest.mark.parametrize("prefix", ["%", "_", "4x%", "' OR 1=1 --", "zz"])
def test_wildcards_in_a_prefix_match_nothing(tmp_path: Path, prefix: str) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        record(instance, "4xJ2aaaa")
    code, _, err = invoke(home, "executions", "show", prefix)
    assert code == 1
    assert err.count("Error:") == 1 and f"no execution id starts with {prefix!r}" in err


def test_flows_show_deploy_and_delete_print_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = flow_file(tmp_path)
    code, out, err = invoke(home, "flows", "deploy", str(file), "--json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "namespace": "dev",
            "id": "hello",
            "revision": 1,
            "updated": json.loads(out)[0]["updated"],
            "state": "created",
            "file": str(file),
        }
    ]
    code, out, _ = invoke(home, "flows", "show", "dev/hello", "--json")
    assert code == 0 and json.loads(out)["source"] == file.read_text()
    code, out, _ = invoke(home, "flows", "delete", "dev/hello", "--yes", "--json")
    assert code == 0 and json.loads(out) == {"namespace": "dev", "id": "hello", "deleted": True}


def test_flows_deploy_says_unchanged_for_an_identical_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    file = flow_file(tmp_path)
    code, out, _ = invoke(home, "flows", "deploy", str(file))
    assert code == 0 and out == "dev/hello: created, revision 1\n"
    code, out, _ = invoke(home, "flows", "deploy", str(file))
    assert code == 0 and out == "dev/hello: unchanged, revision 1\n"
    file.write_text(file.read_text().replace("hi", "hello"))
    code, out, _ = invoke(home, "flows", "deploy", str(file))
    assert code == 0 and out == "dev/hello: updated, revision 2\n"


def test_flows_delete_asks_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "flows", "deploy", str(flow_file(tmp_path)))
    code, _, err = invoke(home, "flows", "delete", "dev/hello", input="n\n")
    assert code == 1 and "add --yes" in err
    code, _, err = invoke(home, "flows", "delete", "dev/hello")  # no answer, as in a script
    assert code == 1 and "add --yes" in err
    with LocalInstance(home) as instance:
        assert instance.get_flow("dev", "hello") is not None
    code, out, err = invoke(home, "flows", "delete", "dev/hello", input="y\n")
    assert code == 0 and "Delete flow dev/hello?" in err and "Deleted dev/hello" in out
    with LocalInstance(home) as instance:
        assert instance.get_flow("dev", "hello") is None


def test_deleting_a_missing_flow_does_not_ask(tmp_path: Path) -> None:
    home = tmp_path / "home"
    invoke(home, "flows", "deploy", str(flow_file(tmp_path)))
    code, _, err = invoke(home, "flows", "delete", "dev/nope")
    assert code == 1 and "Delete flow" not in err and "dev/nope not found" in err


@pytest.mark.parametrize("uid", ["hello", "/hello", "dev/", ""])
def test_a_flow_not_named_namespace_slash_id_is_a_usage_error(tmp_path: Path, uid: str) -> None:
    for command in (["show"], ["revisions"], ["delete", "--yes"], ["restore", "-r", "1"]):
        code, _, err = invoke(tmp_path / "home", "flows", command[0], uid, *command[1:])
        assert code == 2 and "expected NAMESPACE/ID" in err, (command, err)


def test_a_failed_run_prints_its_error_once(tmp_path: Path) -> None:
    flow = tmp_path / "f.yml"
    flow.write_text(
        f"id: f\nnamespace: n\ntasks:\n  - id: needs\n    type: {LOG}\n"
        "    message: \"{{ secret('NOT_SET') }}\"\n"
    )
    env = {**os.environ, "KESTRA_GIT_HOME": str(tmp_path / "home")}
    for quiet in ([], ["--quiet"]):
        result = subprocess.run(
            [sys.executable, "-m", "kestra_git_tasks", "run", str(flow), *quiet],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        assert result.returncode == 1
        assert result.stderr.count("Cannot find secret for key 'NOT_SET'") == 1, result.stderr


#: Commands without --json, and why: they print no records.
NO_JSON = {
    "docs": "writes pages",
    "schema": "prints JSON already",
    "completion": "prints a shell script",
    "files show": "prints the file's own bytes",
    "server": "runs until stopped; its data is served over HTTP (JSON API)",
    "known-hosts add": "interactive: shows a host key's fingerprint and asks before writing",
}


def test_every_command_that_prints_data_takes_json() -> None:
    import click

    def leaves(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += leaves(command, f"{prefix}{name} ")
            else:
                found.append((f"{prefix}{name}", command))
        return found

    missing = [
        name
        for name, command in leaves(cli)
        if name not in NO_JSON and "--json" not in {o for p in command.params for o in p.opts}
    ]
    assert missing == []
