"""The deprecated io.kestra.plugin.git.Push, through real flow runs against the real git server.

Ported from upstream's PushTest: cloneThenPush_OnlyNeedsCredentialsForPush,
cloneThenPush_PushBranchContentToAnother, oneTaskPush_ExistingBranch,
oneTaskPush_NonExistingBranch, oneTaskPush_NoChangeShouldNotCommit,
oneTaskPush_WithSpecifiedDirectory, oneTaskPush_WithFlows, oneTaskPush_WithFlowsNoChildNs.
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

NS = "company.team"
CREDS = f"""    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT') }}}}"
"""


def flow(flow_id: str, namespace: str = NS) -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def run(instance: Instance, tmp_path: Path, tasks: str) -> ExecutionRecord:
    flow_file = tmp_path / "push.yml"
    flow_file.write_text(f"id: push\nnamespace: {NS}\ntasks:\n{tasks}")
    return run_flow_on(
        instance, flow_file, home=tmp_path / "home", secrets={"GIT": DEFAULT_PASSWORD}
    )


def one_task(url: str, branch: str, extra: str) -> str:
    return (
        f"  - id: push\n    type: io.kestra.plugin.git.Push\n    url: {url}\n"
        f"    branch: {branch}\n    commitMessage: from kestra\n{CREDS}{extra}"
    )


def test_one_task_push_replaces_the_branch_with_what_it_writes_and_warns(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"old.txt": "previous run\n"})
    extra = (
        "    flows:\n      enabled: false\n"
        "    inputFiles:\n      first.txt: one\n      dir/second.txt: two\n"
    )
    execution = run(instance, tmp_path, one_task(repo.url, "main", extra))
    assert execution.state == "SUCCESS", execution.error
    assert repo.files("main") == {"first.txt": b"one", "dir/second.txt": b"two"}
    assert execution.outputs["push"]["commitId"] == repo.head("main")
    commit = repo.head_commit("main")
    assert commit.message == "from kestra"
    assert any("Push is deprecated" in log.message for log in execution.logs)

    again = run(instance, tmp_path, one_task(repo.url, "main", extra))
    assert again.outputs["push"]["commitId"] is None
    assert any("No changes to commit. Skipping push." in log.message for log in again.logs)


def test_one_task_push_to_a_missing_branch_creates_it(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n"})
    extra = "    flows:\n      enabled: false\n    inputFiles:\n      a.txt: a\n"
    execution = run(instance, tmp_path, one_task(repo.url, "feature", extra))
    assert execution.state == "SUCCESS", execution.error
    assert repo.files("feature") == {"a.txt": b"a"}
    assert repo.files("main") == {"README.md": b"r\n"}


@pytest.mark.parametrize(("children", "expected"), [(True, 2), (False, 1)])
def test_one_task_push_writes_flows_flat_with_revision_stripped(
    remote: MakeRemote, instance: Instance, tmp_path: Path, children: bool, expected: int
) -> None:
    instance.put_flow("revision: 2\n" + flow("a"))
    instance.put_flow(flow("b", f"{NS}.child"))
    instance.write_file(NS, "/scripts/x.py", b"print(1)\n")
    repo = remote(files={"README.md": "r\n"})
    extra = (
        f"    flows:\n      childNamespaces: {str(children).lower()}\n"
        "    namespaceFiles:\n      enabled: true\n"
        "    addFilesPattern:\n      - _flows\n      - scripts\n"
    )
    execution = run(instance, tmp_path, one_task(repo.url, "main", extra))
    assert execution.state == "SUCCESS", execution.error
    files = repo.files("main")
    assert files[f"_flows/{NS}.a.yml"] == flow("a").encode()
    assert len([p for p in files if p.startswith("_flows/")]) == expected
    assert files["scripts/x.py"] == b"print(1)\n"
    assert "README.md" not in files


def test_clone_then_push_commits_the_working_folder_to_another_branch(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n", "src/app.py": "print('v1')\n"})
    tasks = f"""  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: {repo.url}
        branch: main
        directory: repo
        username: {DEFAULT_USERNAME}
        password: "{{{{ secret('GIT') }}}}"
      - id: change
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - printf "print('v2')\\n" > repo/src/app.py
      - id: push
        type: io.kestra.plugin.git.Push
        directory: repo
        branch: feature
        commitMessage: v2
        flows:
          enabled: false
        inputFiles:
          to_commit/avg.txt: "42"
        addFilesPattern:
          - src
          - to_commit
        username: {DEFAULT_USERNAME}
        password: "{{{{ secret('GIT') }}}}"
"""
    execution = run(instance, tmp_path, tasks)
    assert execution.state == "SUCCESS", execution.error
    assert repo.files("feature") == {
        "README.md": b"r\n",
        "src/app.py": b"print('v2')\n",
        "to_commit/avg.txt": b"42",
    }
    assert repo.files("main")["src/app.py"] == b"print('v1')\n"


def test_push_without_url_outside_a_cloned_folder_is_refused(
    instance: Instance, tmp_path: Path
) -> None:
    tasks = (
        "  - id: push\n    type: io.kestra.plugin.git.Push\n    branch: main\n"
        "    commitMessage: x\n"
    )
    execution = run(instance, tmp_path, tasks)
    assert execution.state == "FAILED"
    assert "earlier Clone" in (execution.error or "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    inputFiles:\n      ../escape.txt: x\n", "may not be '..'"),
        ("    addFilesPattern:\n      - ../up\n", "inside the repository"),
        ("    inputFiles:\n      .git/config: x\n", ".git"),
    ],
)
def test_hostile_paths_are_refused_before_any_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path, extra: str, message: str
) -> None:
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    execution = run(instance, tmp_path, one_task(repo.url, "main", extra))
    assert execution.state == "FAILED"
    assert message in (execution.error or "")
    assert repo.head("main") == before


def test_a_namespace_file_under_dot_git_is_refused_before_anything_is_written(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.write_file(NS, "/.git/config", b"[core]\n\thooksPath = /tmp/evil\n")
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    extra = "    flows:\n      enabled: false\n    namespaceFiles:\n      enabled: true\n"
    execution = run(instance, tmp_path, one_task(repo.url, "main", extra))
    assert execution.state == "FAILED"
    assert "namespace file '.git/config'" in (execution.error or "")
    assert repo.head("main") == before


def test_a_run_writing_nothing_does_not_empty_the_branch_without_allow_empty(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "r\n"})
    before = repo.head("main")
    execution = run(instance, tmp_path, one_task(repo.url, "main", ""))
    assert execution.state == "FAILED"
    assert "allowEmpty: true" in (execution.error or "")
    assert repo.head("main") == before
    emptied = run(instance, tmp_path, one_task(repo.url, "main", "    allowEmpty: true\n"))
    assert emptied.state == "SUCCESS", emptied.error
    assert repo.files("main") == {}
