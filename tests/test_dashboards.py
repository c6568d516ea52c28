"""Dashboards: stored by both backends, SyncDashboards / PushDashboards against the real git
server, TenantSync's `_global/dashboards`, and `kestra-git dashboards`.

Ported from upstream's SyncDashboardsTest and PushDashboardsTest: adding, updating and deleting
dashboards from Git, dry run, pushing every dashboard (or those matching globs) and deleting
stale files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backends import run_flow_on
from click.testing import CliRunner
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import RunContext
from kestra_git_tasks.cli import cli
from kestra_git_tasks.errors import ConfigError, FlowFileError, InstanceError
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git.push_dashboards import PushDashboards
from kestra_git_tasks.tasks.git.sync_dashboards import SyncDashboards
from kestra_git_tasks.tasks.git.tenant_sync import TenantSync

if TYPE_CHECKING:
    from conftest import MakeRemote


def dashboard(key: str, title: str = "Overview") -> str:
    return (
        f"id: {key}\ntitle: {title}\ncharts:\n  - id: executions\n"
        "    type: io.kestra.plugin.core.dashboard.chart.TimeSeries\n"
    )


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def context(instance: Instance, home: Path) -> RunContext:
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="ops")
    ctx.task_id = "task"
    return ctx


def sync(instance: Instance, home: Path, url: str, **properties: Any) -> SyncDashboards.Output:
    task = SyncDashboards(
        id="task", url=url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, **properties
    )
    output = task.run(context(instance, home))
    assert isinstance(output, SyncDashboards.Output)
    return output


def push(instance: Instance, home: Path, url: str, **properties: Any) -> PushDashboards.Output:
    task = PushDashboards(
        id="task", url=url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, **properties
    )
    output = task.run(context(instance, home))
    assert isinstance(output, PushDashboards.Output)
    return output


def stored(instance: Instance) -> dict[str, str]:
    return {record.id: record.source for record in instance.list_dashboards()}


# -- storage ------------------------------------------------------------------------------------
def test_both_backends_store_dashboards_by_id_with_revisions(instance: Instance) -> None:
    first = instance.put_dashboard(dashboard("overview"))
    assert (first.id, first.revision) == ("overview", 1)
    assert instance.put_dashboard(dashboard("overview")).revision == 1  # identical: kept
    assert instance.put_dashboard(dashboard("overview", "New")).revision == 2
    instance.put_dashboard(dashboard("a"))
    assert [r.id for r in instance.list_dashboards()] == ["a", "overview"]
    got = instance.get_dashboard("overview")
    assert got is not None and got.source == dashboard("overview", "New")
    assert instance.delete_dashboard("a") is True
    assert instance.delete_dashboard("a") is False
    assert instance.get_dashboard("a") is None


@pytest.mark.parametrize("source", ["title: no id\n", "id: [1]\n", "id: ../x\n", ": : :"])
def test_a_dashboard_without_a_valid_id_is_refused(instance: Instance, source: str) -> None:
    with pytest.raises(InstanceError):
        instance.put_dashboard(source)
    assert instance.list_dashboards() == []


# -- SyncDashboards -----------------------------------------------------------------------------
def test_sync_dashboards_adds_updates_keeps_and_deletes(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_dashboard(dashboard("same"))
    instance.put_dashboard(dashboard("changed", "Old"))
    instance.put_dashboard(dashboard("gone"))
    repo = remote(
        files={
            "_dashboards/same.yml": dashboard("same").replace("\n", "\r\n"),
            "_dashboards/changed.yml": dashboard("changed", "New"),
            "_dashboards/team/new.yaml": dashboard("new"),
        }
    )
    plan = sync(instance, home, repo.url, delete=True, dryRun=True)
    assert len(stored(instance)) == 3
    output = sync(instance, home, repo.url, delete=True)
    assert [(r["gitPath"], r["syncState"], r["dashboardId"]) for r in output.dashboards] == [
        (None, "DELETED", "gone"),
        ("_dashboards/changed.yml", "UPDATED", "changed"),
        ("_dashboards/same.yml", "UNCHANGED", "same"),
        ("_dashboards/team/new.yaml", "ADDED", "new"),
    ]
    assert [r["syncState"] for r in plan.dashboards] == [r["syncState"] for r in output.dashboards]
    assert stored(instance) == {
        "changed": dashboard("changed", "New"),
        "new": dashboard("new"),
        "same": dashboard("same"),
    }


def test_sync_dashboards_refuses_bad_files_before_any_write(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(
        files={
            "_dashboards/a.yml": dashboard("a"),
            "_dashboards/b.yml": dashboard("a"),
            "_dashboards/notes.txt": "not yaml: [",
        }
    )
    with pytest.raises(FlowFileError) as raised:
        sync(instance, home, repo.url)
    problems = [f"{p.path}: {p.message}" for p in raised.value.problems]
    assert any("is also in _dashboards/a.yml" in text for text in problems)
    assert any(text.startswith("_dashboards/notes.txt: not a dashboard") for text in problems)
    assert stored(instance) == {}


def test_sync_dashboards_does_not_empty_the_instance_from_an_empty_folder(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_dashboard(dashboard("kept"))
    repo = remote(files={"_dashboards/.gitkeep": ""})
    with pytest.raises(ConfigError, match="allowEmpty"):
        sync(instance, home, repo.url, delete=True)
    assert list(stored(instance)) == ["kept"]


# -- PushDashboards -----------------------------------------------------------------------------
def test_push_dashboards_writes_each_without_updated_and_deletes_stale_ones(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_dashboard(dashboard("a") + "updated: 2026-11-30T10:00:00Z\n")
    instance.put_dashboard(dashboard("b"))
    repo = remote(
        files={"README.md": "r\n", "_dashboards/old.yml": dashboard("old"), "_dashboards/x.md": "x"}
    )
    output = push(instance, home, repo.url)
    assert repo.files("main") == {
        "README.md": b"r\n",
        "_dashboards/a.yml": dashboard("a").encode(),
        "_dashboards/b.yml": dashboard("b").encode(),
        "_dashboards/x.md": b"x",
    }
    assert output.commit_id == repo.head("main")
    assert repo.head_commit("main").message == "Add dashboards from flow: ops"
    assert {row["file"] for row in output.flows} == {
        "_dashboards/a.yml",
        "_dashboards/b.yml",
        "_dashboards/old.yml",
    }


def test_push_dashboards_globs_limit_writes_and_deletions(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_dashboard(dashboard("team-a"))
    instance.put_dashboard(dashboard("ops"))
    repo = remote(files={"_dashboards/ops-old.yml": dashboard("ops-old")})
    push(instance, home, repo.url, dashboards=["team-*"])
    assert set(repo.files("main")) == {"_dashboards/team-a.yml", "_dashboards/ops-old.yml"}


# -- TenantSync ---------------------------------------------------------------------------------
def test_tenant_sync_carries_dashboards_both_ways(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    instance.put_flow(
        "id: f\nnamespace: dev\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
    instance.put_dashboard(dashboard("overview"))
    repo = remote(files={"README.md": "r\n"})
    task = TenantSync(
        id="task", url=repo.url, branch="main", username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD
    )
    output = task.run(context(instance, home))
    assert repo.files("main")["_global/dashboards/overview.yaml"] == dashboard("overview").encode()
    assert output.commit_id == repo.head("main")

    instance.delete_dashboard("overview")
    repo.commit({"_global/dashboards/second.yaml": dashboard("second")})
    back = TenantSync(
        id="task",
        url=repo.url,
        branch="main",
        source_of_truth="GIT",
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
    ).run(context(instance, home))
    assert stored(instance) == {"overview": dashboard("overview"), "second": dashboard("second")}
    assert {(r["key"], r["kind"], r["action"]) for r in back.diff} == {
        ("overview", "DASHBOARD", "ADDED"),
        ("second", "DASHBOARD", "ADDED"),
    }


def test_tenant_sync_refuses_a_dashboard_whose_id_is_not_its_file_name(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(files={"_global/dashboards/a.yaml": dashboard("b")})
    task = TenantSync(
        id="task",
        url=repo.url,
        branch="main",
        source_of_truth="GIT",
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
    )
    with pytest.raises(FlowFileError, match="declares id 'b'"):
        task.run(context(instance, home))
    assert stored(instance) == {}


# -- through a flow, and the CLI ----------------------------------------------------------------
def test_an_example_flow_pushes_then_syncs_dashboards(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    instance.put_dashboard(dashboard("overview"))
    repo = remote(files={"README.md": "r\n"})
    flow = tmp_path / "dashboards.yml"
    flow.write_text(
        f"""id: dashboards
namespace: system
tasks:
  - id: push
    type: io.kestra.plugin.git.PushDashboards
    url: {repo.url}
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT') }}}}"
  - id: sync
    type: io.kestra.plugin.git.SyncDashboards
    url: {repo.url}
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GIT') }}}}"
    delete: true
"""
    )
    execution = run_flow_on(instance, flow, home=home, secrets={"GIT": DEFAULT_PASSWORD})
    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["push"]["commitId"] == repo.head("main")
    assert [r["syncState"] for r in execution.outputs["sync"]["dashboards"]] == ["UNCHANGED"]
    assert DEFAULT_PASSWORD not in json.dumps(execution.outputs)


def test_cli_dashboards_deploy_list_show_delete(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"KESTRA_GIT_HOME": str(home)}
    source = tmp_path / "overview.yml"
    source.write_text(dashboard("overview"))
    runner = CliRunner()
    deployed = runner.invoke(cli, ["dashboards", "deploy", str(source)], env=env)
    assert deployed.exit_code == 0, deployed.output
    assert "overview: revision 1" in deployed.output
    listed = runner.invoke(cli, ["dashboards", "list", "--json"], env=env)
    assert [item["id"] for item in json.loads(listed.output)] == ["overview"]
    shown = runner.invoke(cli, ["dashboards", "show", "overview"], env=env)
    assert shown.output == dashboard("overview")
    assert runner.invoke(cli, ["dashboards", "delete", "overview", "--yes"], env=env).exit_code == 0
    missing = runner.invoke(cli, ["dashboards", "show", "overview"], env=env)
    assert missing.exit_code == 1 and "not found" in missing.output
    bad = tmp_path / "bad.yml"
    bad.write_text("title: no id\n")
    refused = runner.invoke(cli, ["dashboards", "deploy", str(bad)], env=env)
    assert refused.exit_code == 1 and "bad.yml" in refused.output
