"""TenantSync: every namespace at once, both ways, on both backends, against the real git server.

Ported from upstream's TenantSyncTest where it applies (Kestra -> Git writes every namespace's
flows and files; Git -> Kestra creates what Git has); the dashboards part waits for dashboards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backends import run_flow_on
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import RunContext
from kestra_git_tasks.errors import ConfigError, FlowFileError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.instance.local import LocalInstance
from kestra_git_tasks.tasks.git.tenant_sync import TenantSync

if TYPE_CHECKING:
    from conftest import MakeRemote

README = b"# tenant\n"


def flow(flow_id: str, namespace: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def sync(instance: Instance, home: Path, url: str, **properties: Any) -> TenantSync.Output:
    properties.setdefault("branch", "main")
    task = TenantSync(
        id="sync", url=url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, **properties
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="ops")
    ctx.task_id = "sync"
    output = task.run(ctx)
    assert isinstance(output, TenantSync.Output)
    return output


def state(instance: Instance) -> dict[str, tuple[dict[str, str], dict[str, bytes]]]:
    return {
        namespace: (
            {r.id: r.source for r in instance.list_flows(namespace)},
            {r.path: instance.read_file(namespace, r.path) for r in instance.list_files(namespace)},
        )
        for namespace in instance.list_namespaces()
    }


def seed(instance: Instance) -> None:
    instance.put_flow(flow("a", "dev"))
    instance.put_flow(flow("b", "dev.team"))
    instance.put_flow(flow("c", "prod"))
    instance.put_flow(flow("ops", "system"))
    instance.write_file("dev", "/conf/app.json", b"{}\n")
    instance.write_file("prod", "/bin.dat", bytes(range(256)))


def test_kestra_to_git_writes_every_namespace_in_one_commit_and_leaves_the_rest(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README, "t/old/flows/x.yaml": flow("x", "old")})
    before = repo.head("main")

    output = sync(instance, home, repo.url, gitDirectory="t")

    assert repo.files("main") == {
        "README.md": README,
        "t/old/flows/x.yaml": flow("x", "old").encode(),  # not a namespace of the instance
        "t/dev/flows/a.yaml": flow("a", "dev").encode(),
        "t/dev/files/conf/app.json": b"{}\n",
        "t/dev.team/flows/b.yaml": flow("b", "dev.team").encode(),
        "t/prod/flows/c.yaml": flow("c", "prod").encode(),
        "t/prod/files/bin.dat": bytes(range(256)),
        "t/system/flows/ops.yaml": flow("ops", "system").encode(),
    }
    commit = repo.head_commit("main")
    assert [str(p) for p in commit.parent_ids] == [before]
    assert commit.message == "Tenant sync from Kestra"
    assert output.commit_id == repo.head("main")
    assert sync(instance, home, repo.url, gitDirectory="t").commit_id is None


def test_git_to_instance_creates_namespaces_and_deletes_all_but_protected_ones(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("gone", "stale"))
    instance.put_flow(flow("ops", "system"))
    repo = remote(
        files={
            "README.md": README,
            "new/flows/n.yaml": flow("n", "new"),
            "new.team/files/f.txt": "f\n",
            ".github/flows/ci.yaml": "not a namespace folder\n",
        }
    )
    output = sync(instance, home, repo.url, source_of_truth="GIT")

    assert {(row["key"], row["action"]) for row in output.diff} == {
        ("new:n", "ADDED"),
        ("new.team:f.txt", "ADDED"),
        ("stale:gone", "DELETED_KES"),
    }
    assert [r.id for r in instance.list_flows("new")] == ["n"]
    assert instance.read_file("new.team", "/f.txt") == b"f\n"
    assert instance.list_flows("stale") == []
    assert [r.id for r in instance.list_flows("system")] == ["ops"]


def test_round_trip_through_git_restores_a_fresh_instance_byte_for_byte(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README})
    sync(instance, home, repo.url)
    with LocalInstance(tmp_path / "fresh", validator=validate_source) as fresh:
        sync(fresh, tmp_path / "fresh-home", repo.url, source_of_truth="GIT")
        assert state(fresh) == state(instance)


def test_a_flow_in_the_folder_of_another_namespace_is_refused(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(
        files={"dev/flows/a.yaml": flow("a", "dev"), "prod/flows/evil.yaml": flow("evil", "dev")}
    )
    with pytest.raises(FlowFileError, match=r"prod/flows/evil\.yaml"):
        sync(instance, home, repo.url, source_of_truth="GIT")
    assert instance.list_namespaces() == []


def test_an_empty_git_side_deletes_nothing_without_allow_empty(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README})
    with pytest.raises(ConfigError, match="allowEmpty"):
        sync(instance, home, repo.url, source_of_truth="GIT")
    assert len(instance.list_flows("dev")) == 1


def test_an_example_flow_runs_against_the_git_server(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README})
    flow_file = tmp_path / "tenant.yml"
    flow_file.write_text(
        f"""id: tenant_sync
namespace: system
tasks:
  - id: sync
    type: io.kestra.plugin.git.TenantSync
    url: {repo.url}
    branch: main
    gitDirectory: tenant
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
"""
    )
    execution = run_flow_on(
        instance, flow_file, home=home, secrets={"GITHUB_ACCESS_TOKEN": DEFAULT_PASSWORD}
    )
    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["sync"]["commitId"] == repo.head("main")
    assert "tenant/dev/flows/a.yaml" in repo.files("main")
    assert DEFAULT_PASSWORD not in json.dumps(execution.outputs)
