"""A flow from Git is stored inside the target namespace whatever YAML form names its namespace.

A file whose ``namespace`` is written in a form a text rewrite misses (value on the next line,
quoted or explicit key, flow style, anchors, aliases, tags, merge keys, a decoy line inside a
multi-line scalar) must never land in the namespace it names: here ``system``, overwriting the
flow running the sync. Each form runs through SyncFlows, SyncFlow and ``kestra-git deploy``, on
both backends; the flow is either rewritten into the target (its parsed namespace is the target)
or refused as invalid, naming the file and the namespace it declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks.context import RunContext
from kestra_git_tasks.deploy import deploy_folder
from kestra_git_tasks.errors import FlowValidationError
from kestra_git_tasks.flowfile import flow_identity
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git.sync_flow import SyncFlow
from kestra_git_tasks.tasks.git.sync_flows import SyncFlows

if TYPE_CHECKING:
    from conftest import MakeRemote

SYNC_FLOW = (
    "id: sync\nnamespace: system\ntasks:\n  - id: git\n"
    "    type: io.kestra.plugin.core.log.Log\n    message: the real sync flow\n"
)
TASKS = "tasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: pwned\n"
FLOW_TASKS = "tasks: [{id: log, type: io.kestra.plugin.core.log.Log, message: pwned}]"

#: form -> flow source naming ``system`` (id ``sync``: it would replace the running flow).
FORMS = {
    "value_on_next_line": f"id: sync\nnamespace:\n  system\n{TASKS}",
    "double_quoted_key": f'id: sync\n"namespace": system\n{TASKS}',
    "single_quoted_key": f"id: sync\n'namespace': system\n{TASKS}",
    "flow_style": f"{{id: sync, namespace: system, {FLOW_TASKS}}}\n",
    "flow_style_over_lines": f"{{id: sync,\nnamespace: system,\n{FLOW_TASKS}}}\n",
    "explicit_key": f"id: sync\n? namespace\n: system\n{TASKS}",
    "anchored_key": f"id: sync\n&k namespace: system\n{TASKS}",
    "aliased_key": f"id: sync\nlabels:\n  &k namespace: x\n*k : system\n{TASKS}",
    "tagged_key": f"id: sync\n!!str namespace: system\n{TASKS}",
    "tagged_value_on_next_line": f"id: sync\nnamespace: !!str\n  system\n{TASKS}",
    "merge_key": f"id: sync\n<<: {{namespace: system}}\n{TASKS}",
    "aliased_value": f"id: sync\nlabels:\n  team: &ns system\nnamespace: *ns\n{TASKS}",
    "decoy_in_quoted_scalar": (
        f"id: sync\ndescription: 'x\nnamespace: decoy\n  '\n\"namespace\": system\n{TASKS}"
    ),
    "decoy_in_flow_sequence": f"id: sync\nlabels: {{\nnamespace: decoy}}\n'namespace': system\n{TASKS}",
}


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    any_instance.put_flow(SYNC_FLOW)
    return any_instance


def assert_contained(instance: Instance) -> None:
    """The system namespace still holds only the untouched sync flow, and whatever was saved
    sits in ``prod`` with a source whose parsed namespace is ``prod``."""
    system = instance.list_flows("system", include_children=True)
    assert [(r.id, r.revision, r.source) for r in system] == [("sync", 1, SYNC_FLOW)]
    assert instance.list_flows("decoy", include_children=True) == []
    for record in instance.list_flows("prod", include_children=True):
        assert flow_identity(record.source) == (record.namespace, record.id)


def run_sync_flows(instance: Instance, home: Path, url: str, **properties: object) -> None:
    task = SyncFlows(
        id="git",
        url=url,
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        target_namespace="prod",
        **properties,
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    ctx.task_id = "git"
    task.run(ctx)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_sync_flows_keeps_every_namespace_form_inside_the_target(
    form: str, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/evil.yml": FORMS[form]})
    try:
        run_sync_flows(instance, tmp_path / "home", repo.url)
    except FlowValidationError as exc:
        assert "_flows/evil.yml" in str(exc)
    assert_contained(instance)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_sync_flows_with_child_namespaces_keeps_forms_inside_the_child(
    form: str, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/team/evil.yml": FORMS[form]})
    try:
        run_sync_flows(instance, tmp_path / "home", repo.url, include_child_namespaces=True)
    except FlowValidationError as exc:
        assert "_flows/team/evil.yml" in str(exc)
    assert_contained(instance)
    for record in instance.list_flows("prod", include_children=True):
        assert record.namespace == "prod.team"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_sync_flow_keeps_every_namespace_form_inside_the_target(
    form: str, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"flows/evil.yml": FORMS[form]})
    task = SyncFlow(
        id="one",
        url=repo.url,
        username=DEFAULT_USERNAME,
        password=DEFAULT_PASSWORD,
        flow_path="flows/evil.yml",
        target_namespace="prod",
    )
    ctx = RunContext.create(
        instance=instance, home=tmp_path / "home", namespace="system", flow_id="sync"
    )
    try:
        output = task.run(ctx)
    except FlowValidationError as exc:
        assert "flows/evil.yml" in str(exc)
    else:
        assert isinstance(output, SyncFlow.Output) and output.namespace == "prod"
    assert_contained(instance)


@pytest.mark.parametrize("form", sorted(FORMS))
def test_deploy_keeps_every_namespace_form_inside_the_target(
    form: str, instance: Instance, tmp_path: Path
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "evil.yml").write_text(FORMS[form], encoding="utf-8")
    try:
        deploy_folder(folder, "prod", instance, home=tmp_path / "home")
    except FlowValidationError as exc:
        assert "evil.yml" in str(exc)
    assert_contained(instance)


@pytest.mark.parametrize("form", ["merge_key", "aliased_value"])
def test_a_namespace_that_cannot_be_set_is_an_invalid_flow_naming_file_and_namespace(
    form: str, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/evil.yml": FORMS[form]})
    with pytest.raises(FlowValidationError) as caught:
        run_sync_flows(instance, tmp_path / "home", repo.url)
    message = str(caught.value)
    assert "_flows/evil.yml" in message and "'system'" in message and "prod" in message
    assert_contained(instance)


def test_ignore_invalid_flows_skips_a_flow_whose_namespace_cannot_be_set(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    good = "id: good\nnamespace: dev\n" + TASKS
    repo = remote(files={"_flows/evil.yml": FORMS["merge_key"], "_flows/good.yml": good})
    run_sync_flows(instance, tmp_path / "home", repo.url, ignore_invalid_flows=True)
    assert [r.id for r in instance.list_flows("prod")] == ["good"]
    assert_contained(instance)


@pytest.mark.parametrize("form", ["value_on_next_line", "double_quoted_key", "flow_style"])
def test_rewritable_forms_are_saved_into_the_target(
    form: str, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/evil.yml": FORMS[form]})
    run_sync_flows(instance, tmp_path / "home", repo.url)
    saved = instance.get_flow("prod", "sync")
    assert saved is not None and "system" not in saved.source
    assert_contained(instance)
