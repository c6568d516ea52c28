"""The deprecated io.kestra.plugin.git.Sync, on both backends, against the real git server.

Ported from upstream's SyncTest: reconcileNsFilesAndFlows, reconcile_MinimumSetup,
reconcile_DryRun_ShouldDoNothing (their `+`/`~`/`-` log lines).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from backends import run_flow_on
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks.instance.base import ExecutionRecord, Instance

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

NS = "company.team"


def flow(flow_id: str, namespace: str = NS, message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def run(instance: Instance, tmp_path: Path, repo: BareRemote, extra: str = "") -> ExecutionRecord:
    flow_file = tmp_path / "sync.yml"
    flow_file.write_text(
        f"""id: sync
namespace: {NS}
tasks:
  - id: git
    type: io.kestra.plugin.git.Sync
    url: {repo.url}
    branch: main
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT') }}}}"
{extra}"""
    )
    return run_flow_on(
        instance, flow_file, home=tmp_path / "home", secrets={"GIT": DEFAULT_PASSWORD}
    )


def files(instance: Instance) -> dict[str, bytes]:
    return {r.path: instance.read_file(NS, r.path) for r in instance.list_files(NS)}


def test_sync_reconciles_flows_and_files_and_warns_it_is_deprecated(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("first", message="old"))
    instance.put_flow(flow("gone"))
    instance.put_flow(flow("sync"))  # the running flow is never deleted
    instance.write_file(NS, "/ns/stale.txt", b"x")
    instance.write_file(NS, "/elsewhere.txt", b"kept: outside namespaceFilesDirectory")
    repo = remote(
        files={
            "git/_flows/first.yml": flow("first", "anything"),
            "git/_flows/second.yml": flow("second", NS),
            "git/_flows/deeper/ignored.yml": flow("ignored"),
            "git/README.md": "readme\n",
            "git/conf/app.json": "{}\n",
            "git/.kestraignore": "secret.txt\n",
            "git/secret.txt": "no\n",
            "outside.txt": "not in gitDirectory\n",
        }
    )
    execution = run(
        instance, tmp_path, repo, "    gitDirectory: git\n    namespaceFilesDirectory: ns\n"
    )
    assert execution.state == "SUCCESS", execution.error
    assert {r.id: r.source for r in instance.list_flows(NS)} == {
        "first": flow("first"),
        "second": flow("second"),
        "sync": flow("sync"),
    }
    assert files(instance) == {
        "/elsewhere.txt": b"kept: outside namespaceFilesDirectory",
        "/ns/README.md": b"readme\n",
        "/ns/conf/app.json": b"{}\n",
    }
    messages = [log.message for log in execution.logs]
    assert any(
        "io.kestra.plugin.git.Sync is deprecated" in m and "SyncFlows" in m for m in messages
    )
    assert "+ /_flows/second.yml" in messages
    assert "~ /_flows/first.yml" in messages
    assert "- /_flows/gone.yml" in messages
    assert "- /ns/stale.txt" in messages
    assert execution.outputs["git"] == {}


def test_sync_dry_run_only_logs(remote: MakeRemote, instance: Instance, tmp_path: Path) -> None:
    instance.put_flow(flow("gone"))
    instance.write_file(NS, "/stale.txt", b"x")
    repo = remote(files={"_flows/new.yml": flow("new"), "f.txt": "f\n"})
    execution = run(instance, tmp_path, repo, "    dryRun: true\n")
    assert execution.state == "SUCCESS", execution.error
    assert [r.id for r in instance.list_flows(NS)] == ["gone"]
    assert files(instance) == {"/stale.txt": b"x"}
    messages = [log.message for log in execution.logs]
    assert (
        "Dry run is enabled, not performing following actions (- for deletions, + for "
        "creations, ~ for update or no modification):" in messages
    )
    assert {"+ /_flows/new.yml", "- /_flows/gone.yml", "+ /f.txt", "- /stale.txt"} <= set(messages)


def test_sync_without_a_flows_folder_leaves_the_flows_alone(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("kept"))
    instance.write_file(NS, "/a.txt", b"a")
    repo = remote(files={"other/x.txt": "x\n"})
    execution = run(instance, tmp_path, repo, "    gitDirectory: missing\n")
    assert execution.state == "FAILED"
    assert "was not found in the git repository" in (execution.error or "")
    execution = run(instance, tmp_path, repo, "    gitDirectory: other\n")
    assert execution.state == "SUCCESS", execution.error
    assert [r.id for r in instance.list_flows(NS)] == ["kept"]
    assert files(instance) == {"/x.txt": b"x\n"}


def test_sync_refuses_an_invalid_flow_before_any_write(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/bad.yml": "id: bad\nnamespace: x\ntasks: []\n", "f.txt": "f\n"})
    execution = run(instance, tmp_path, repo)
    assert execution.state == "FAILED"
    assert "_flows/bad.yml" in (execution.error or "")
    assert instance.list_flows(NS) == [] and files(instance) == {}
