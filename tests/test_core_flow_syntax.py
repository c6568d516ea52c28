"""Kestra 2.0 and 1.x syntax: task ``when``/``runIf``, checks, flow ``outputs``, pluginDefaults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.instance.base import ExecutionRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

LOG = "io.kestra.plugin.core.log.Log"
HEAD = "id: f\nnamespace: company.team\n"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as opened:
        yield opened


def run(instance: LocalInstance, tmp_path: Path, body: str, **kwargs: object) -> ExecutionRecord:
    path = tmp_path / "flow.yml"
    path.write_text(HEAD + body)
    return run_flow(path, instance=instance, home=tmp_path / "home", **kwargs)  # type: ignore[arg-type]


def logged(execution: ExecutionRecord) -> list[tuple[str | None, str, str]]:
    return [(log.task_id, log.level, log.message) for log in execution.logs]


# -- when / runIf -------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["when", "runIf"])
def test_when_and_run_if_skip_a_task_on_a_false_value(
    instance: LocalInstance, tmp_path: Path, key: str
) -> None:
    body = f"""\
inputs:
  - id: go
    type: BOOLEAN
tasks:
  - id: maybe
    type: {LOG}
    {key}: "{{{{ inputs.go }}}}"
    message: ran
"""
    ran = run(instance, tmp_path, body, inputs={"go": "true"})
    skipped = run(instance, tmp_path, body, inputs={"go": "false"})
    assert ("maybe", "INFO", "ran") in logged(ran)
    assert ("maybe", "INFO", "ran") not in logged(skipped)


@pytest.mark.parametrize("key", ["when", "runIf"])
def test_when_and_run_if_take_yaml_booleans(
    instance: LocalInstance, tmp_path: Path, key: str
) -> None:
    body = f"""\
tasks:
  - id: skipped
    type: {LOG}
    {key}: false
    message: no
  - id: kept
    type: {LOG}
    {key}: true
    message: yes
"""
    assert logged(run(instance, tmp_path, body)) == [
        ("skipped", "INFO", "runIf/when is 'false': task skipped"),
        ("kept", "INFO", "yes"),
    ]


def test_when_and_run_if_together_are_refused(tmp_path: Path) -> None:
    source = HEAD + f"tasks:\n  - id: t\n    type: {LOG}\n    message: x\n"
    source += "    when: 'true'\n    runIf: 'true'\n"
    with pytest.raises(FlowFileError, match=r"f.yml:7: .*'when' \(Kestra 2.0\) or 'runIf'"):
        parse_flow(source, "f.yml")


# -- checks -------------------------------------------------------------------------------------
CHECKS = f"""\
inputs:
  - id: env
    type: STRING
checks:
  - KEY: "{{{{ inputs.env == 'prod' }}}}"
    message: "only in prod, not {{{{ inputs.env }}}}"
    behavior: BEHAVIOR
tasks:
  - id: work
    type: {LOG}
    message: working
"""


@pytest.mark.parametrize("key", ["when", "condition"])
def test_a_false_check_blocks_the_run_before_any_task(
    instance: LocalInstance, tmp_path: Path, key: str
) -> None:
    body = CHECKS.replace("KEY", key).replace("BEHAVIOR", "BLOCK_EXECUTION")
    blocked = run(instance, tmp_path, body, inputs={"env": "dev"})
    assert blocked.state == "FAILED"
    assert "only in prod, not dev" in (blocked.error or "")
    assert not [log for log in blocked.logs if log.task_id == "work"]
    assert run(instance, tmp_path, body, inputs={"env": "prod"}).state == "SUCCESS"


def test_a_false_check_with_create_execution_only_warns(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = CHECKS.replace("KEY", "when").replace("BEHAVIOR", "CREATE_EXECUTION")
    execution = run(instance, tmp_path, body, inputs={"env": "dev"})
    assert execution.state == "SUCCESS"
    assert (None, "WARN", "check failed: only in prod, not dev") in logged(execution)


def test_checks_with_both_names_or_a_bad_behavior_are_refused(tmp_path: Path) -> None:
    source = HEAD + "checks:\n  - when: 'true'\n    condition: 'true'\n    message: m\n"
    source += "  - when: 'true'\n    message: m\n    behavior: EXPLODE\n"
    source += f"tasks:\n  - id: t\n    type: {LOG}\n    message: x\n"
    with pytest.raises(FlowFileError) as caught:
        parse_flow(source, "f.yml")
    text = "\n".join(str(problem) for problem in caught.value.problems)
    assert "f.yml:5: checks[0]: give 'when' (Kestra 2.0) or 'condition'" in text
    assert "f.yml:9: checks[1]: 'behavior' must be one of" in text


# -- flow outputs -------------------------------------------------------------------------------
def test_flow_outputs_are_rendered_typed_and_stored(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = """\
tasks:
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      count: "3"
outputs:
  - id: count
    type: INT
    value: "{{ outputs['values']['values'].count }}"
  - id: flow_name
    type: STRING
    value: "{{ flow.id }}"
"""
    execution = run(instance, tmp_path, body)
    assert execution.flow_outputs == {"count": 3, "flow_name": "f"}
    assert instance.get_execution(execution.id).flow_outputs == {"count": 3, "flow_name": "f"}
    assert execution.to_dict()["flowOutputs"] == {"count": 3, "flow_name": "f"}


def test_a_flow_output_that_fails_to_render_fails_the_execution(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: t
    type: {LOG}
    message: x
outputs:
  - id: bad
    type: INT
    value: "not a number"
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "FAILED"
    assert "Failed to render output values: output 'bad'" in (execution.error or "")


def test_flow_outputs_hold_no_secret(instance: LocalInstance, tmp_path: Path) -> None:
    body = f"""\
tasks:
  - id: t
    type: {LOG}
    message: x
outputs:
  - id: leak
    type: STRING
    value: "token={{{{ secret('TOKEN') }}}}"
"""
    execution = run(instance, tmp_path, body, secrets={"TOKEN": "hunter2-secret"})
    assert execution.flow_outputs == {"leak": "token=******"}
    assert "hunter2" not in str(instance.get_execution(execution.id).flow_outputs)


def test_duplicate_or_invalid_flow_outputs_are_refused(tmp_path: Path) -> None:
    source = HEAD + f"tasks:\n  - id: t\n    type: {LOG}\n    message: x\noutputs:\n"
    source += "  - id: a\n    type: STRING\n    value: x\n"
    source += "  - id: a\n    type: STRING\n    value: y\n"
    source += "  - id: b\n    type: NUMBERISH\n    value: y\n"
    with pytest.raises(FlowFileError) as caught:
        parse_flow(source, "f.yml")
    text = "\n".join(str(problem) for problem in caught.value.problems)
    assert "f.yml:11: Duplicate output with name [a]" in text
    assert "output 'b': 'type' must be one of" in text


# -- pluginDefaults -----------------------------------------------------------------------------
def test_plugin_defaults_apply_by_type_prefix_and_the_task_wins(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
pluginDefaults:
  - type: io.kestra.plugin.core.log
    values:
      level: WARN
      message: from defaults
tasks:
  - id: defaulted
    type: {LOG}
  - id: own
    type: {LOG}
    level: ERROR
    message: mine
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: nested
        type: io.kestra.plugin.core.log.Log
"""
    execution = run(instance, tmp_path, body)
    assert logged(execution) == [
        ("defaulted", "WARN", "from defaults"),
        ("own", "ERROR", "mine"),
        ("nested", "WARN", "from defaults"),
    ]


def test_forced_plugin_defaults_win_over_the_task_and_apply_to_aliases(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
taskDefaults:
  - type: io.kestra.core.tasks.log.Log
    forced: true
    values:
      level: ERROR
tasks:
  - id: own
    type: {LOG}
    level: INFO
    message: mine
"""
    assert logged(run(instance, tmp_path, body)) == [("own", "ERROR", "mine")]


def test_plugin_defaults_lists_are_concatenated_as_in_kestra(tmp_path: Path) -> None:
    source = (
        HEAD
        + """\
pluginDefaults:
  - type: io.kestra.plugin.scripts.shell.Commands
    values:
      commands: [echo first]
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo second]
"""
    )
    flow = parse_flow(source, "f.yml")
    assert flow.tasks[0].properties["commands"] == ["echo first", "echo second"]


def test_a_dry_run_plugin_default_applies_to_sync_flows(
    remote: MakeRemote, instance: LocalInstance, tmp_path: Path
) -> None:
    repo = remote(
        files={
            "_flows/a.yml": "id: a\nnamespace: x\ntasks:\n  - id: l\n"
            f"    type: {LOG}\n    message: hi\n"
        }
    )
    body = f"""\
pluginDefaults:
  - type: io.kestra.plugin.git
    values:
      username: git_user
      password: s3cr3t-token
      dryRun: true
tasks:
  - id: sync
    type: io.kestra.plugin.git.SyncFlows
    url: {repo.url}
    targetNamespace: prod
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "SUCCESS", execution.error
    assert instance.get_flow("prod", "a") is None  # dryRun applied: nothing written
    assert [row["syncState"] for row in execution.outputs["sync"]["flows"]] == ["ADDED"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("  - type: io.kestra.plugin.core.log.Log\n", "No 'values' provided"),
        ("  - values: {level: WARN}\n", "No 'type' provided"),
        (
            "  - type: io.kestra.plugin.core.log.Log\n    values: {levle: WARN}\n",
            "No property 'levle' exists in plugin 'io.kestra.plugin.core.log.Log' "
            "(did you mean 'level'?)",
        ),
        ("  - type: io.kestra.plugin.core.log\n    values: {level: null}\n", "No value provided"),
        ("  - type: x\n    values: {}\n    forced: maybe\n", "'forced' must be true or false"),
    ],
)
def test_invalid_plugin_defaults_are_refused_with_kestras_words(
    tmp_path: Path, entry: str, expected: str
) -> None:
    source = HEAD + "pluginDefaults:\n" + entry
    source += f"tasks:\n  - id: t\n    type: {LOG}\n    message: x\n"
    with pytest.raises(FlowFileError, match="Invalid Plugin Default") as caught:
        parse_flow(source, "f.yml")
    assert expected in str(caught.value)
    assert "f.yml:4:" in str(caught.value)


def test_a_plugin_default_that_makes_a_task_invalid_names_the_task(tmp_path: Path) -> None:
    source = (
        HEAD
        + """\
pluginDefaults:
  - type: io.kestra.plugin.core
    values:
      unknownProperty: 1
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: x
"""
    )
    with pytest.raises(FlowFileError, match=r"task 't'.*unknown property 'unknownProperty'"):
        parse_flow(source, "f.yml")


def test_every_example_flow_of_the_flows_page_is_valid() -> None:
    page = Path(__file__).resolve().parent.parent / "docs" / "flows.md"
    blocks = re.findall(r"```yaml\n(.*?)```", page.read_text(), re.DOTALL)
    assert len(blocks) >= 5
    for block in blocks:
        parse_flow(block, "docs/flows.md")
