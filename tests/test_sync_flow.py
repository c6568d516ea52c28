"""SyncFlow: one flow file from Git into the instance, through a real smart-HTTP server and SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backends import run_flow_on, stored_execution
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import LocalInstance
from kestra_git_tasks.context import RunContext
from kestra_git_tasks.errors import (
    ConfigError,
    FlowValidationError,
    GitAuthError,
    GitRefNotFoundError,
    NotFoundError,
)
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git.sync_flow import SyncFlow

if TYPE_CHECKING:
    from conftest import MakeRemote

TYPE = "io.kestra.plugin.git.SyncFlow"

ETL = """\
id: etl
namespace: dev
description: extract, transform, load
tasks:
  - id: extract
    type: io.kestra.plugin.core.log.Log
    message: extracting
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: dev.child
    flowId: load
"""
ETL_IN_PROD = ETL.replace("namespace: dev\ndescription", "namespace: prod\ndescription")
ETL_CHANGED = ETL.replace("message: extracting", "message: extracting v2")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    """The embedded instance, then the fake Kestra server (see conftest.any_instance)."""
    return any_instance


@pytest.fixture
def ctx(instance: LocalInstance, home: Path) -> RunContext:
    return RunContext.create(instance=instance, home=home, flow_id="deploy", namespace="system")


def sync_flow(ctx: RunContext, url: str, **properties: Any) -> SyncFlow.Output:
    defaults = {
        "username": DEFAULT_USERNAME,
        "password": DEFAULT_PASSWORD,
        "flow_path": "flows/etl.yml",
        "target_namespace": "prod",
    }
    output = SyncFlow(id="sync", url=url, **{**defaults, **properties}).run(ctx)
    assert isinstance(output, SyncFlow.Output)
    return output


def revisions(instance: LocalInstance, namespace: str, flow_id: str) -> list[tuple[int, bool]]:
    return [(r.revision, r.deleted) for r in instance.flow_revisions(namespace, flow_id)]


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------


def test_flow_path_and_target_namespace_are_required_and_branch_defaults_to_main() -> None:
    with pytest.raises(
        ConfigError, match=r"missing required property 'flowPath'.*'targetNamespace'"
    ):
        SyncFlow.from_properties({"id": "sync", "url": "https://example.com/r.git"})
    task = SyncFlow.from_properties(
        {"id": "sync", "url": "u", "flowPath": "flows/etl.yml", "targetNamespace": "prod"}
    )
    assert isinstance(task, SyncFlow)
    assert (task.flow_path, task.target_namespace, task.branch, task.dry_run) == (
        "flows/etl.yml",
        "prod",
        "main",
        False,
    )


# ---------------------------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------------------------


def test_saves_the_flow_into_target_namespace_with_its_namespace_rewritten(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    output = sync_flow(ctx, bare.url)

    assert output.to_dict() == {"flowId": "etl", "namespace": "prod", "revision": 1}
    saved = instance.get_flow("prod", "etl")
    assert saved is not None
    assert saved.source == ETL_IN_PROD
    assert "    namespace: dev.child\n" in saved.source  # the subflow task's key is untouched
    assert instance.get_flow("dev", "etl") is None
    assert instance.list_flows("dev", include_children=True) == []


def test_indented_namespace_before_the_top_level_one_is_left_alone(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    # Kestra rewrites the first `^\s*namespace:` line, which here would be the subflow's.
    source = """\
id: etl
tasks:
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: dev.child
    flowId: load
namespace: dev  # owned by the data team
"""
    bare = remote(files={"flows/etl.yml": source})

    sync_flow(ctx, bare.url)

    saved = instance.get_flow("prod", "etl")
    assert saved is not None
    assert saved.source == source.replace("namespace: dev  # owned", "namespace: prod  # owned")


def test_flow_at_the_repository_root_and_a_leading_slash_are_accepted(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"etl.yml": ETL, "flows/etl.yml": ETL})

    assert sync_flow(ctx, bare.url, flow_path="etl.yml").revision == 1
    assert sync_flow(ctx, bare.url, flow_path="/flows/etl.yml").revision == 1
    assert revisions(instance, "prod", "etl") == [(1, False)]


def test_first_sync_is_revision_1_and_an_identical_source_keeps_it(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    first = sync_flow(ctx, bare.url)
    bare.commit({"README.md": "the flow file itself did not change"})
    second = sync_flow(ctx, bare.url)

    assert (first.revision, second.revision) == (1, 1)
    assert revisions(instance, "prod", "etl") == [(1, False)]


def test_changed_source_bumps_the_revision_keeping_the_old_one(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    sync_flow(ctx, bare.url)
    bare.commit({"flows/etl.yml": ETL_CHANGED})

    output = sync_flow(ctx, bare.url)

    assert output.revision == 2
    history = instance.flow_revisions("prod", "etl")
    assert [(r.revision, r.source) for r in history] == [
        (1, ETL_IN_PROD),
        (2, ETL_CHANGED.replace("namespace: dev\ndescription", "namespace: prod\ndescription")),
    ]


def test_branch_property_reads_another_branch(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    bare.commit({"flows/etl.yml": ETL_CHANGED}, branch="dev")

    sync_flow(ctx, bare.url, branch="dev")

    saved = instance.get_flow("prod", "etl")
    assert saved is not None and "extracting v2" in saved.source


# ---------------------------------------------------------------------------------------------
# dryRun
# ---------------------------------------------------------------------------------------------


def test_dry_run_projects_revision_1_for_a_new_flow_and_saves_nothing(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    output = sync_flow(ctx, bare.url, dry_run=True)

    assert output.to_dict() == {"flowId": "etl", "namespace": "prod", "revision": 1}
    assert instance.flow_revisions("prod", "etl") == []


def test_dry_run_projects_the_same_revision_for_an_identical_source(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    sync_flow(ctx, bare.url)

    output = sync_flow(ctx, bare.url, dry_run=True)

    assert output.revision == 1
    assert revisions(instance, "prod", "etl") == [(1, False)]


def test_dry_run_projects_the_next_revision_for_a_changed_source_and_saves_nothing(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    sync_flow(ctx, bare.url)
    bare.commit({"flows/etl.yml": ETL_CHANGED})

    planned = sync_flow(ctx, bare.url, dry_run=True)

    assert planned.revision == 2
    assert revisions(instance, "prod", "etl") == [(1, False)]
    saved = instance.get_flow("prod", "etl")
    assert saved is not None and saved.source == ETL_IN_PROD
    assert sync_flow(ctx, bare.url).revision == planned.revision


def test_dry_run_projects_the_revision_a_deleted_flow_gets_when_saved_again(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    sync_flow(ctx, bare.url)
    instance.delete_flow("prod", "etl")  # revision 2, deleted

    planned = sync_flow(ctx, bare.url, dry_run=True)
    saved = sync_flow(ctx, bare.url)

    assert saved.revision == 3
    assert planned.revision == saved.revision


def test_dry_run_still_validates_the_flow(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": "id: etl\nnamespace: dev\ntasks: []\n"})

    with pytest.raises(FlowValidationError, match=r"^Flow validation failed: "):
        sync_flow(ctx, bare.url, dry_run=True)

    assert instance.list_flows("prod") == []


# ---------------------------------------------------------------------------------------------
# failures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow_path", ["flows/missing.yml", "nowhere/etl.yml", "flows"])
def test_missing_flow_file_raises_not_found_naming_the_path(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext, flow_path: str
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    with pytest.raises(NotFoundError) as caught:
        sync_flow(ctx, bare.url, flow_path=flow_path)

    assert str(caught.value).startswith(f"Flow file not found at path: {flow_path}")
    assert instance.list_namespaces() == []


def test_flow_path_below_a_file_raises_not_found(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    with pytest.raises(NotFoundError, match=r"^Flow file not found at path: flows/etl\.yml/x\.yml"):
        sync_flow(ctx, bare.url, flow_path="flows/etl.yml/x.yml")


def test_invalid_flow_raises_flow_validation_error_and_saves_nothing(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    source = "id: etl\nnamespace: dev\ntasks:\n  - id: bad id\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
    bare = remote(files={"flows/etl.yml": source})

    with pytest.raises(FlowValidationError) as caught:
        sync_flow(ctx, bare.url)

    assert str(caught.value).startswith("Flow validation failed:")
    assert caught.value.constraints
    assert "bad id" in str(caught.value)
    assert instance.list_flows("prod") == [] and instance.list_flows("dev") == []


def test_file_without_an_id_raises_cannot_parse_flow_id(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(
        files={
            "flows/etl.yml": "namespace: dev\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
        }
    )

    with pytest.raises(FlowValidationError) as caught:
        sync_flow(ctx, bare.url)

    assert str(caught.value).startswith("Cannot parse flow id from YAML at path: flows/etl.yml")
    assert instance.list_namespaces() == []


def test_file_without_a_namespace_fails_validation_naming_the_namespace(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(
        files={
            "flows/etl.yml": "id: etl\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
        }
    )

    with pytest.raises(FlowValidationError) as caught:
        sync_flow(ctx, bare.url)

    assert str(caught.value).startswith("Flow validation failed:")
    assert "namespace" in str(caught.value)


def test_missing_branch_and_wrong_password_fail_and_save_nothing(
    remote: MakeRemote, instance: LocalInstance, ctx: RunContext
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})

    with pytest.raises(GitRefNotFoundError, match="release"):
        sync_flow(ctx, bare.url, branch="release")
    with pytest.raises(GitAuthError) as caught:
        sync_flow(ctx, bare.url, password="not-the-token")

    assert "not-the-token" not in str(caught.value)
    assert instance.list_namespaces() == []


# ---------------------------------------------------------------------------------------------
# through a flow
# ---------------------------------------------------------------------------------------------


def test_outputs_flow_id_namespace_and_revision_through_run_flow(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    flow = tmp_path / "deploy.yml"
    flow.write_text(
        f"""\
id: deploy_one_flow
namespace: system
tasks:
  - id: sync
    type: {TYPE}
    url: {bare.url}
    branch: main
    flowPath: flows/etl.yml
    targetNamespace: prod
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
  - id: plan
    type: {TYPE}
    url: {bare.url}
    flowPath: flows/etl.yml
    targetNamespace: prod
    dryRun: true
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
  - id: report
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.sync.namespace }}}}/{{{{ outputs.sync.flowId }}}} r{{{{ outputs.sync.revision }}}}"
"""
    )
    secrets = {"GITHUB_ACCESS_TOKEN": DEFAULT_PASSWORD}

    execution = run_flow_on(instance, flow, home=home, secrets=secrets)

    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["sync"] == {"flowId": "etl", "namespace": "prod", "revision": 1}
    assert execution.outputs["plan"] == {"flowId": "etl", "namespace": "prod", "revision": 1}
    assert execution.logs[-1].message == "prod/etl r1"
    assert stored_execution(instance, home, execution.id).outputs["sync"]["revision"] == 1
    assert revisions(instance, "prod", "etl") == [(1, False)]

    bare.commit({"flows/etl.yml": ETL_CHANGED})
    again = run_flow_on(instance, flow, home=home, secrets=secrets)

    assert again.outputs["sync"]["revision"] == 2
    assert again.outputs["plan"]["revision"] == 2  # saved just before: identical now
    assert DEFAULT_PASSWORD not in str(again.outputs) + "".join(log.message for log in again.logs)


def test_failure_through_run_flow_fails_the_execution_with_the_message(
    remote: MakeRemote, instance: LocalInstance, home: Path, tmp_path: Path
) -> None:
    bare = remote(files={"flows/etl.yml": ETL})
    flow = tmp_path / "deploy.yml"
    flow.write_text(
        f"""\
id: deploy_one_flow
namespace: system
tasks:
  - id: sync
    type: {TYPE}
    url: {bare.url}
    flowPath: flows/nope.yml
    targetNamespace: prod
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
"""
    )

    execution = run_flow_on(
        instance, flow, home=home, secrets={"GITHUB_ACCESS_TOKEN": DEFAULT_PASSWORD}
    )

    assert execution.state == "FAILED"
    assert execution.failed_task_id == "sync"
    assert execution.error is not None
    assert (
        f"task 'sync' ({TYPE}) failed: Flow file not found at path: flows/nope.yml"
        in execution.error
    )
    assert instance.list_flows("prod") == []
