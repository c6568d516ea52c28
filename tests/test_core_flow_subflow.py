"""Subflow: another flow of the instance run as its own execution, on both backends; recursion
refused; upstream's "sync several namespaces with ForEach" recipe against the git server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from backends import run_flow_on, stored_execution

from kestra_git_tasks import LocalInstance
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.runner import MAX_SUBFLOW_DEPTH

if TYPE_CHECKING:
    from conftest import MakeRemote

LOG = "io.kestra.plugin.core.log.Log"
SUBFLOW = "io.kestra.plugin.core.flow.Subflow"

CHILD = f"""\
id: child
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: hello
    type: {LOG}
    message: "hello {{{{ inputs.name }}}}"
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{{{ inputs.name == 'bad' }}}}"
outputs:
  - id: greeting
    type: STRING
    value: "hi {{{{ inputs.name }}}}"
"""


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    """The embedded instance, then the fake Kestra server (see conftest.any_instance)."""
    any_instance.put_flow(CHILD)
    return any_instance


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "parent.yml"
    path.write_text(text)
    return path


def test_for_each_runs_a_subflow_per_value_each_its_own_execution(
    instance: Instance, tmp_path: Path
) -> None:
    parent = write(
        tmp_path,
        f"""\
id: parent
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["ann", "bob", "cy"]
    tasks:
      - id: call
        type: {SUBFLOW}
        namespace: company.team
        flowId: child
        inputs:
          name: "{{{{ taskrun.value }}}}"
  - id: read
    type: {LOG}
    message: "{{{{ outputs.call.bob.outputs.greeting }}}}"
outputs:
  - id: first
    type: STRING
    value: "{{{{ outputs.call['ann'].outputs.greeting }}}}"
""",
    )
    home = tmp_path / "home"
    execution = run_flow_on(instance, parent, home=home)
    assert execution.state == "SUCCESS", execution.error
    calls = execution.outputs["call"]
    assert sorted(calls) == ["ann", "bob", "cy"]
    assert ("read", "hi bob") in [(log.task_id, log.message) for log in execution.logs]
    assert execution.flow_outputs == {"first": "hi ann"}
    ids = {calls[name]["executionId"] for name in calls}
    assert len(ids) == 3 and execution.id not in ids
    for name in calls:
        child = stored_execution(instance, home, calls[name]["executionId"])
        assert (child.namespace, child.flow_id, child.state) == ("company.team", "child", "SUCCESS")
        assert [log.message for log in child.logs] == [f"hello {name}"]
        assert child.flow_outputs == {"greeting": f"hi {name}"}


def test_a_failed_subflow_fails_the_task_unless_transmit_failed_is_false(
    instance: Instance, tmp_path: Path
) -> None:
    text = """\
id: parent
namespace: company.team
tasks:
  - id: call
    type: io.kestra.core.tasks.flows.Flow
    namespace: company.team
    flowId: child
    transmitFailed: TRANSMIT
    inputs:
      name: bad
"""
    failed = run_flow_on(
        instance, write(tmp_path, text.replace("TRANSMIT", "true")), home=tmp_path / "h"
    )
    assert failed.state == "FAILED"
    assert "subflow company.team/child ended FAILED" in (failed.error or "")
    assert "caused by: task 'maybe_fail'" in (failed.error or "")
    kept = run_flow_on(
        instance, write(tmp_path, text.replace("TRANSMIT", "false")), home=tmp_path / "h"
    )
    assert kept.state == "SUCCESS" and kept.outputs["call"]["state"] == "FAILED"


def test_a_missing_subflow_fails_naming_it(instance: Instance, tmp_path: Path) -> None:
    parent = write(
        tmp_path,
        f"id: parent\nnamespace: company.team\ntasks:\n  - id: call\n    type: {SUBFLOW}\n"
        "    namespace: company.team\n    flowId: nowhere\n",
    )
    execution = run_flow_on(instance, parent, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert "subflow company.team/nowhere not found in the instance" in (execution.error or "")


def test_a_flow_calling_itself_through_a_template_stops_at_the_depth_limit(
    tmp_path: Path,
) -> None:
    looping = f"""\
id: looping
namespace: company.team
tasks:
  - id: again
    type: {SUBFLOW}
    namespace: company.team
    flowId: "{{{{ flow.id }}}}"
"""
    with LocalInstance(tmp_path / "home") as instance:
        instance.put_flow(looping)
        started = time.monotonic()
        execution = run_flow_on(instance, "company.team/looping", home=tmp_path / "home")
        assert time.monotonic() - started < 30
        assert execution.state == "FAILED"
        assert f"nested {MAX_SUBFLOW_DEPTH} deep" in (execution.error or "")
        executions = instance.list_executions(namespace="company.team", flow_id="looping")
        assert len(executions) == MAX_SUBFLOW_DEPTH + 1
        assert {record.state for record in executions} == {"FAILED"}


def test_two_flows_calling_each_other_stop_at_the_depth_limit(tmp_path: Path) -> None:
    def calling(flow_id: str, other: str) -> str:
        return (
            f"id: {flow_id}\nnamespace: company.team\ntasks:\n  - id: call\n"
            f"    type: {SUBFLOW}\n    namespace: company.team\n    flowId: {other}\n"
        )

    with LocalInstance(tmp_path / "home") as instance:
        instance.put_flow(calling("ping", "pong"))
        instance.put_flow(calling("pong", "ping"))
        execution = run_flow_on(instance, "company.team/ping", home=tmp_path / "home")
        assert execution.state == "FAILED"
        assert "a flow calling itself?" in (execution.error or "")


def test_a_subflow_naming_its_own_flow_is_refused_when_checked() -> None:
    source = (
        f"id: me\nnamespace: company.team\ntasks:\n  - id: call\n    type: {SUBFLOW}\n"
        "    namespace: company.team\n    flowId: me\n"
    )
    with pytest.raises(
        FlowFileError, match=r"me.yml:4: .*Recursive call to flow \[company.team.me\]"
    ):
        parse_flow(source, "me.yml")


def test_deprecated_subflow_outputs_are_refused_not_ignored() -> None:
    source = (
        f"id: p\nnamespace: company.team\ntasks:\n  - id: call\n    type: {SUBFLOW}\n"
        "    namespace: company.team\n    flowId: child\n    outputs:\n      x: y\n"
    )
    with pytest.raises(FlowFileError, match=r"'outputs' is refused: deprecated since Kestra 0\.15"):
        parse_flow(source, "p.yml")


# -- upstream's recipe: sync several namespaces with ForEach --------------------------------------
def test_sync_several_namespaces_with_for_each_recipe(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    def flow(flow_id: str) -> str:
        return (
            f"id: {flow_id}\nnamespace: any\ntasks:\n  - id: l\n    type: {LOG}\n    message: hi\n"
        )

    repo = remote(
        files={
            "flows/company.team/a.yml": flow("a"),
            "flows/company.data/b.yml": flow("b"),
            "flows/company.data/c.yml": flow("c"),
        }
    )
    recipe = write(
        tmp_path,
        f"""\
id: sync_namespaces
namespace: system
tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["company.team", "company.data"]
    tasks:
      - id: sync
        type: io.kestra.plugin.git.SyncFlows
        url: {repo.url}
        branch: main
        username: git_user
        password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
        targetNamespace: "{{{{ taskrun.value }}}}"
        gitDirectory: "flows/{{{{ taskrun.value }}}}"
""",
    )
    parse_flow(recipe.read_text(), str(recipe))
    execution = run_flow_on(
        instance, recipe, home=tmp_path / "home", secrets={"GITHUB_ACCESS_TOKEN": "s3cr3t-token"}
    )
    assert execution.state == "SUCCESS", execution.error
    assert instance.get_flow("company.team", "a") is not None
    assert instance.get_flow("company.data", "b") is not None
    assert instance.get_flow("company.data", "c") is not None
    assert instance.get_flow("company.team", "b") is None
    rows = execution.outputs["sync"]
    assert [row["flowId"] for row in rows["company.data"]["flows"]] == ["b", "c"]


@pytest.mark.parametrize(
    ("namespace", "flow_id"),
    [("../../executions", "x"), ("company.team", "child/../../x"), ("Company", "child")],
)
def test_a_subflow_reference_that_is_not_an_id_is_refused_before_any_lookup(
    instance: Instance, tmp_path: Path, namespace: str, flow_id: str
) -> None:
    parent = write(
        tmp_path,
        f"id: parent\nnamespace: company.team\ninputs:\n  - id: ns\n    type: STRING\n"
        f"  - id: fid\n    type: STRING\ntasks:\n  - id: call\n    type: {SUBFLOW}\n"
        "    namespace: '{{ inputs.ns }}'\n    flowId: '{{ inputs.fid }}'\n",
    )
    execution = run_flow_on(
        instance, parent, home=tmp_path / "home", inputs={"ns": namespace, "fid": flow_id}
    )
    assert execution.state == "FAILED"
    assert "not a valid namespace and flow id" in (execution.error or "")


def test_finally_of_a_group_runs_after_success_and_can_fail_it(
    instance: Instance, tmp_path: Path
) -> None:
    parent = write(
        tmp_path,
        f"""\
id: parent
namespace: company.team
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: fine
        type: {LOG}
        message: fine
    finally:
      - id: cleanup_fails
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: cleanup broke
""",
    )
    execution = run_flow_on(instance, parent, home=tmp_path / "home")
    assert execution.state == "FAILED" and "cleanup broke" in (execution.error or "")
    assert [log.task_id for log in execution.logs][:1] == ["fine"]
