"""`kestra-git deploy`: the CI/CD pattern, on the embedded instance (and a server elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from kestra_git_tasks import LocalInstance
from kestra_git_tasks.cli import cli

if TYPE_CHECKING:
    from conftest import MakeRemote
    from fakekestra import FakeKestra

LOG = "io.kestra.plugin.core.log.Log"


def flow(flow_id: str, namespace: str = "anything", message: str = "hi") -> str:
    return f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n    type: {LOG}\n    message: {message}\n"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "flows"
    (root / "team").mkdir(parents=True)
    (root / "a.yml").write_text(flow("a"))
    (root / "b.yaml").write_text(flow("b"))
    (root / "team" / "c.yml").write_text(flow("c"))
    (root / "README.md").write_text("not a flow\n")
    return root


def live(home: Path, namespace: str = "prod") -> dict[str, int]:
    with LocalInstance(home) as instance:
        return {
            f"{r.namespace}/{r.id}": r.revision
            for r in instance.list_flows(namespace, include_children=True)
        }


def test_deploy_adds_flows_and_prints_the_plan(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    code, out, err = invoke(home, "deploy", str(folder), "--namespace", "prod")
    assert code == 0, err
    assert live(home) == {"prod/a": 1, "prod/b": 1}
    assert f"{folder.as_posix()}/a.yml" in out and "ADDED" in out
    assert "2 flow(s), 2 changed" in err


def test_deploy_with_child_namespaces_json_and_rerun_unchanged(
    tmp_path: Path, folder: Path
) -> None:
    home = tmp_path / "home"
    invoke(home, "deploy", str(folder), "-n", "prod", "--include-child-namespaces")
    code, out, _ = invoke(
        home, "deploy", str(folder), "-n", "prod", "--include-child-namespaces", "--json"
    )
    assert code == 0
    rows = json.loads(out)
    assert {(r["namespace"], r["flowId"], r["syncState"]) for r in rows} == {
        ("prod", "a", "UNCHANGED"),
        ("prod", "b", "UNCHANGED"),
        ("prod.team", "c", "UNCHANGED"),
    }


def test_deploy_dry_run_changes_nothing(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    code, out, err = invoke(home, "deploy", str(folder), "-n", "prod", "--dry-run")
    assert code == 0 and "ADDED" in out and "would change" in err
    assert live(home) == {}


def test_deploy_delete_removes_what_the_folder_no_longer_has(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    with LocalInstance(home) as instance:
        instance.put_flow(flow("old", "prod"))
    code, out, _ = invoke(home, "deploy", str(folder), "-n", "prod")
    assert "prod/old" in live(home)
    code, out, _ = invoke(home, "deploy", str(folder), "-n", "prod", "--delete")
    assert code == 0 and "DELETED" in out
    assert live(home) == {"prod/a": 1, "prod/b": 1}


def test_deploy_delete_of_an_empty_folder_is_refused_unless_allowed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = tmp_path / "empty"
    empty.mkdir()
    with LocalInstance(home) as instance:
        instance.put_flow(flow("precious", "prod"))
    code, _, err = invoke(home, "deploy", str(empty), "-n", "prod", "--delete")
    assert code == 1 and "allowEmpty" in err and err.count("\n") == 1
    assert live(home) == {"prod/precious": 1}
    code, _, _ = invoke(home, "deploy", str(empty), "-n", "prod", "--delete", "--allow-empty")
    assert code == 0 and live(home) == {}


def test_deploy_with_an_invalid_flow_fails_before_any_write(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    (folder / "broken.yml").write_text("id: broken\nnamespace: x\ntasks: []\n")
    code, _, err = invoke(home, "deploy", str(folder), "-n", "prod")
    assert code == 1
    assert err.startswith(
        f"Error: Invalid flow imported from Git ({folder.as_posix()}/broken.yml):"
    )
    assert "Traceback" not in err
    assert live(home) == {}


def test_validate_then_deploy_is_the_ci_pattern(tmp_path: Path, folder: Path) -> None:
    home = tmp_path / "home"
    assert invoke(home, "validate", str(folder))[0] == 0
    assert invoke(home, "deploy", str(folder), "-n", "prod")[0] == 0


# -- against a Kestra server (the stateful fake) ------------------------------------------------
def server_args(fake: FakeKestra) -> list[str]:
    assert fake.username is not None and fake.password is not None
    return [
        "--server",
        fake.url,
        "--server-user",
        fake.username,
        "--server-password",
        fake.password,
    ]


def test_deploy_to_a_server_with_and_without_delete(
    tmp_path: Path, folder: Path, fake_kestra: FakeKestra
) -> None:
    home = tmp_path / "home"
    code, out, err = invoke(home, "deploy", str(folder), "-n", "prod", *server_args(fake_kestra))
    assert code == 0, err
    assert set(fake_kestra.live_flows()) == {("prod", "a"), ("prod", "b")}
    (folder / "b.yaml").unlink()
    invoke(home, "deploy", str(folder), "-n", "prod", *server_args(fake_kestra))
    assert set(fake_kestra.live_flows()) == {("prod", "a"), ("prod", "b")}
    code, out, _ = invoke(
        home, "deploy", str(folder), "-n", "prod", "--delete", *server_args(fake_kestra)
    )
    assert code == 0 and "DELETED" in out
    assert set(fake_kestra.live_flows()) == {("prod", "a")}


def test_deploy_dry_run_on_a_server_changes_nothing(
    tmp_path: Path, folder: Path, fake_kestra: FakeKestra
) -> None:
    code, out, _ = invoke(
        tmp_path / "home",
        "deploy",
        str(folder),
        "-n",
        "prod",
        "--dry-run",
        *server_args(fake_kestra),
    )
    assert code == 0 and "ADDED" in out
    assert fake_kestra.live_flows() == {}


def test_server_credentials_come_from_the_environment_and_bad_ones_fail_in_one_line(
    tmp_path: Path, folder: Path, fake_kestra: FakeKestra
) -> None:
    env = {
        "KESTRA_GIT_HOME": str(tmp_path / "home"),
        "KESTRA_URL": fake_kestra.url,
        "KESTRA_USERNAME": fake_kestra.username,
        "KESTRA_PASSWORD": fake_kestra.password,
    }
    result = CliRunner().invoke(cli, ["deploy", str(folder), "-n", "prod"], env=env)
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(cli, ["flows", "list", "--json"], env=env)
    assert {(f["namespace"], f["id"]) for f in json.loads(result.stdout)} == {
        ("prod", "a"),
        ("prod", "b"),
    }
    env["KESTRA_PASSWORD"] = "wrong-password"
    result = CliRunner().invoke(cli, ["flows", "list"], env=env)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "wrong-password" not in result.stderr


def test_run_with_server_syncs_git_into_the_server(
    tmp_path: Path, fake_kestra: FakeKestra, remote: MakeRemote
) -> None:
    repo = remote(files={"_flows/hello.yml": flow("hello")})
    flow_file = tmp_path / "sync.yml"
    flow_file.write_text(
        "id: sync\nnamespace: system\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {repo.url}\n    username: git_user\n    password: \"{{{{ secret('TOKEN') }}}}\"\n"
        "    targetNamespace: prod\n"
    )
    code, out, err = invoke(
        tmp_path / "home",
        "run",
        str(flow_file),
        "--secret",
        "TOKEN=s3cr3t-token",
        "--json",
        "--quiet",
        *server_args(fake_kestra),
    )
    assert code == 0, err
    assert json.loads(out)["state"] == "SUCCESS"
    assert set(fake_kestra.live_flows()) == {("prod", "hello")}
    with LocalInstance(tmp_path / "home") as local:
        assert local.list_flows("prod") == []  # the embedded instance only recorded the run
        assert local.list_executions()[0].state == "SUCCESS"


def test_task_level_kestra_url_and_auth(
    tmp_path: Path, fake_kestra: FakeKestra, remote: MakeRemote
) -> None:
    from kestra_git_tasks import run_flow

    repo = remote(files={"_flows/hello.yml": flow("hello")})
    flow_file = tmp_path / "sync.yml"
    flow_file.write_text(
        "id: sync\nnamespace: system\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {repo.url}\n    username: git_user\n    password: s3cr3t-token\n"
        f"    targetNamespace: prod\n    kestraUrl: {fake_kestra.url}\n    auth:\n"
        f"      username: {fake_kestra.username}\n      password: \"{{{{ secret('KESTRA_PASSWORD') }}}}\"\n"
    )
    assert fake_kestra.password is not None
    execution = run_flow(
        flow_file, home=tmp_path / "home", secrets={"KESTRA_PASSWORD": fake_kestra.password}
    )
    assert execution.state == "SUCCESS", execution.error
    assert set(fake_kestra.live_flows()) == {("prod", "hello")}
    flow_file.write_text(
        flow_file.read_text().replace("      username:", "      apiToken: tok\n      username:")
    )
    execution = run_flow(
        flow_file, home=tmp_path / "home", secrets={"KESTRA_PASSWORD": fake_kestra.password}
    )
    assert execution.state == "FAILED"
    assert "Cannot use both API Token authentication and HTTP Basic authentication" in (
        execution.error or ""
    )


def test_validate_accepts_kestra_plugin_types_and_local_refuses_them(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "etl.yml").write_text(
        "id: etl\nnamespace: prod\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.postgresql.Query\n    sql: select 1\n"
    )
    code, out, err = invoke(tmp_path / "home", "validate", str(folder))
    assert code == 0 and "ok (prod/etl)" in out
    assert "runs on a Kestra server, not locally" in err
    code, out, _ = invoke(tmp_path / "home", "validate", str(folder), "--allow-unknown-types")
    assert code == 0 and "ok (prod/etl)" in out
    code, _, err = invoke(tmp_path / "home", "validate", str(folder), "--local")
    assert code == 1
    assert "task 'q' (io.kestra.plugin.jdbc.postgresql.Query) runs on a Kestra server" in err


def test_deploy_folder_reports_its_log_through_the_sinks_it_is_given(
    tmp_path: Path, folder: Path
) -> None:
    from kestra_git_tasks.deploy import deploy_folder
    from kestra_git_tasks.instance.base import LogRecord

    records: list[LogRecord] = []
    with LocalInstance(tmp_path / "home") as instance:
        rows = deploy_folder(
            folder, "prod", instance, home=tmp_path / "home", log_sinks=[records.append]
        )
    assert {row["flowId"] for row in rows} == {"a", "b"}
    assert any(
        r.level == "DEBUG" and "README.md" in r.message and r.task_id == "deploy" for r in records
    )


@pytest.mark.parametrize("namespace", ["BAD NS", "Prod", "-x", "", "a" * 151, "ns/../system"])
def test_deploy_refuses_a_namespace_kestra_would_refuse_as_a_usage_error(
    tmp_path: Path, namespace: str
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yml").write_text(
        "id: a\nnamespace: x\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    home = tmp_path / "home"

    result = CliRunner().invoke(
        cli, ["deploy", str(folder), "--namespace", namespace, "--home", str(home)]
    )

    assert result.exit_code == 2, result.output
    assert "'--namespace'" in result.output and "is not a Kestra namespace" in result.output
    assert "Traceback" not in result.output
    assert not home.exists()  # nothing created for a command that could not start


def test_deploy_accepts_a_dotted_namespace(tmp_path: Path) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "a.yml").write_text(
        "id: a\nnamespace: x\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )

    result = CliRunner().invoke(
        cli,
        [
            "deploy",
            str(folder),
            "--namespace",
            "company.team_1-a",
            "--dry-run",
            "--home",
            str(tmp_path / "h"),
        ],
    )

    assert result.exit_code == 0, result.output
