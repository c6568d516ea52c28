"""Running flows: order, outputs between tasks, inputs, failures, recording, masking."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.errors import ConfigError, NotFoundError

LOG = "io.kestra.plugin.core.log.Log"


def write_flow(folder: Path, text: str, name: str = "flow.yml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as opened:
        yield opened


def test_tasks_run_in_order_and_see_flow_and_execution(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: ordered
namespace: company.team
variables:
  greeting: hi
tasks:
  - id: first
    type: {LOG}
    message: "{{{{ vars.greeting }}}} {{{{ flow.namespace }}}}/{{{{ flow.id }}}}"
  - id: second
    type: {LOG}
    message: ["a", "b"]
    level: WARN
  - id: third
    type: {LOG}
    message: "{{{{ execution.id }}}}"
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "SUCCESS"
    assert [(log.task_id, log.level, log.message) for log in execution.logs] == [
        ("first", "INFO", "hi company.team/ordered"),
        ("second", "WARN", "a"),
        ("second", "WARN", "b"),
        ("third", "INFO", execution.id),
    ]
    assert execution.end_date is not None and execution.end_date >= execution.start_date


def test_execution_is_recorded_with_outputs_and_logs(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path, f"id: rec\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: m\n"
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    stored = instance.get_execution(execution.id)
    assert stored.state == "SUCCESS"
    assert stored.outputs == {"a": {}}
    assert [log.message for log in stored.logs] == ["m"]
    assert instance.list_executions(namespace="n")[0].id == execution.id


def test_inputs_from_strings_and_defaults(tmp_path: Path, instance: LocalInstance) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: typed
namespace: n
inputs:
  - id: count
    type: INT
  - id: on
    type: BOOLEAN
    defaults: false
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: a
    type: {LOG}
    message: "{{{{ inputs.count + 1 }}}} {{{{ inputs.on }}}} {{{{ inputs.name }}}}"
""",
    )
    execution = run_flow(flow, instance=instance, inputs={"count": "41"}, home=tmp_path / "home")
    assert execution.logs[0].message == "42 false world"
    assert execution.inputs == {"count": 41, "on": False, "name": "world"}


def test_missing_required_input_fails_naming_it(tmp_path: Path, instance: LocalInstance) -> None:
    flow = write_flow(
        tmp_path,
        f"id: req\nnamespace: n\ninputs:\n  - id: who\n    type: STRING\ntasks:\n  - id: a\n    type: {LOG}\n    message: m\n",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert "missing required input 'who'" in (execution.error or "")


def test_unknown_input_is_refused(tmp_path: Path, instance: LocalInstance) -> None:
    flow = write_flow(
        tmp_path, f"id: req\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: m\n"
    )
    execution = run_flow(flow, instance=instance, inputs={"nope": "1"}, home=tmp_path / "home")
    assert execution.state == "FAILED" and "unknown input(s) nope" in (execution.error or "")


def test_undefined_variable_fails_the_execution_naming_task_and_variable(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: undefined
namespace: n
tasks:
  - id: ok
    type: {LOG}
    message: fine
  - id: broken
    type: {LOG}
    message: "{{{{ inputs.missing_var }}}}"
  - id: never
    type: {LOG}
    message: not reached
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert execution.failed_task_id == "broken"
    assert execution.error is not None and "\n" not in execution.error
    assert execution.error.startswith(f"task 'broken' ({LOG}) failed: property 'message'")
    assert "missing_var" in execution.error
    assert [log.task_id for log in execution.logs] == ["ok", "broken"]


def test_missing_secret_fails_with_kestras_text(tmp_path: Path, instance: LocalInstance) -> None:
    flow = write_flow(
        tmp_path,
        f"id: s\nnamespace: n\ntasks:\n  - id: needs\n    type: {LOG}\n    message: \"{{{{ secret('NOT_SET') }}}}\"\n",
    )
    execution = run_flow(flow, instance=instance, environ={}, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert "task 'needs'" in (execution.error or "")
    assert "Cannot find secret for key 'NOT_SET'." in (execution.error or "")


def test_secret_values_are_masked_everywhere_they_are_stored(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = write_flow(
        tmp_path,
        f"""\
id: masked
namespace: n
inputs:
  - id: echo
    type: STRING
tasks:
  - id: a
    type: {LOG}
    message: "token={{{{ secret('TOKEN') }}}} env={{{{ secret('FROM_ENV') }}}}"
  - id: b
    type: {LOG}
    message: "{{{{ inputs.echo }}}} {{{{ nope }}}}"
""",
    )
    environ = {"SECRET_FROM_ENV": base64.b64encode(b"env-secret-123").decode()}
    with LocalInstance(home) as instance:
        execution = run_flow(
            flow,
            instance=instance,
            secrets={"TOKEN": "s3cr3t-value"},
            inputs={"echo": "s3cr3t-value"},
            environ=environ,
            home=home,
        )
    dumped = json.dumps(execution.to_dict())
    assert "s3cr3t-value" not in dumped and "env-secret-123" not in dumped
    assert "token=****** env=******" in dumped
    for file in home.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert b"s3cr3t-value" not in data and b"env-secret-123" not in data, file


def test_allow_failure_gives_warning_and_goes_on(tmp_path: Path, instance: LocalInstance) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: tolerant
namespace: n
tasks:
  - id: broken
    type: {LOG}
    allowFailure: true
    message: "{{{{ nope }}}}"
  - id: after
    type: {LOG}
    message: still here
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "WARNING"
    assert execution.logs[-1].message == "still here"


def test_errors_tasks_run_on_failure_and_finally_always(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: handlers
namespace: n
tasks:
  - id: broken
    type: {LOG}
    message: "{{{{ nope }}}}"
errors:
  - id: on_error
    type: {LOG}
    message: handling
finally:
  - id: cleanup
    type: {LOG}
    message: cleaning
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert [log.task_id for log in execution.logs] == ["broken", "on_error", "cleanup"]


def test_disabled_and_run_if_false_tasks_are_skipped(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: skipping
namespace: n
tasks:
  - id: off
    type: {LOG}
    disabled: true
    message: "{{{{ nope }}}}"
  - id: conditional
    type: {LOG}
    runIf: "{{{{ 1 > 2 }}}}"
    message: never
  - id: on
    type: {LOG}
    message: yes
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "SUCCESS"
    assert [log.message for log in execution.logs if log.task_id == "on"] == ["yes"]
    assert not any(log.message == "never" for log in execution.logs)


def test_run_a_flow_saved_in_the_instance_by_namespace_and_id(
    tmp_path: Path, instance: LocalInstance
) -> None:
    instance.put_flow(
        f'id: saved\nnamespace: company.team\ntasks:\n  - id: a\n    type: {LOG}\n    message: "rev {{{{ flow.revision }}}}"\n'
    )
    execution = run_flow("company.team/saved", instance=instance, home=tmp_path / "home")
    assert execution.state == "SUCCESS"
    assert execution.flow_revision == 1
    assert execution.logs[0].message == "rev 1"


def test_unknown_target_is_not_found(tmp_path: Path, instance: LocalInstance) -> None:
    with pytest.raises(NotFoundError, match=r"company\.team/missing not found"):
        run_flow("company.team/missing", instance=instance, home=tmp_path / "home")
    with pytest.raises(NotFoundError, match="no flow file"):
        run_flow(str(tmp_path / "nope.yml"), instance=instance, home=tmp_path / "home")


def test_runner_opens_the_home_instance_when_none_is_given(tmp_path: Path) -> None:
    flow = write_flow(
        tmp_path, f"id: h\nnamespace: n\ntasks:\n  - id: a\n    type: {LOG}\n    message: m\n"
    )
    execution = run_flow(flow, home=tmp_path / "own-home")
    with LocalInstance(tmp_path / "own-home") as instance:
        assert instance.get_execution(execution.id).state == "SUCCESS"


def test_bad_input_value_is_a_config_error_naming_the_input(tmp_path: Path) -> None:
    from kestra_git_tasks.flow import parse_flow
    from kestra_git_tasks.runner import coerce_inputs

    flow = parse_flow(
        f"id: i\nnamespace: n\ninputs:\n  - id: count\n    type: INT\ntasks:\n  - id: a\n    type: {LOG}\n    message: m\n"
    )
    # Kestra's wording: the input, the type expected and the value received
    with pytest.raises(
        ConfigError, match="Invalid input for `count`, Expected `INT` but received `many`"
    ):
        coerce_inputs(flow, {"count": "many"})


WD = "io.kestra.plugin.core.flow.WorkingDirectory"


def test_a_failing_child_fails_the_execution_naming_the_child(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: nested
namespace: n
tasks:
  - id: wd
    type: {WD}
    tasks:
      - id: ok
        type: {LOG}
        message: fine
      - id: broken
        type: {LOG}
        message: "{{{{ nope }}}}"
  - id: after
    type: {LOG}
    message: not reached
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "FAILED"
    assert execution.failed_task_id == "broken"
    assert (execution.error or "").startswith(f"task 'broken' ({LOG}) failed:")
    assert not any(log.task_id == "after" for log in execution.logs)


def test_a_child_with_allow_failure_makes_the_execution_warning(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: nested_warning
namespace: n
tasks:
  - id: wd
    type: {WD}
    tasks:
      - id: broken
        type: {LOG}
        allowFailure: true
        message: "{{{{ nope }}}}"
      - id: next
        type: {LOG}
        message: still here
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "WARNING"
    assert execution.logs[-1].message == "still here"


def test_allow_failure_on_a_flowable_task_covers_its_children(
    tmp_path: Path, instance: LocalInstance
) -> None:
    flow = write_flow(
        tmp_path,
        f"""\
id: tolerant_parent
namespace: n
tasks:
  - id: wd
    type: {WD}
    allowFailure: true
    tasks:
      - id: broken
        type: {LOG}
        message: "{{{{ nope }}}}"
  - id: after
    type: {LOG}
    message: after the working directory
""",
    )
    execution = run_flow(flow, instance=instance, home=tmp_path / "home")
    assert execution.state == "WARNING"
    assert execution.logs[-1].message == "after the working directory"
