"""Kestra's core flow tasks run by the runner: branches, groups, loops, values, waits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.instance.base import ExecutionRecord
from kestra_git_tasks.taskruns import MAX_TASK_RUNS

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
HEAD = "id: f\nnamespace: company.team\n"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as opened:
        yield opened


def run(instance: LocalInstance, tmp_path: Path, body: str, **kwargs: object) -> ExecutionRecord:
    path = tmp_path / "flow.yml"
    path.write_text(HEAD + body)
    return run_flow(path, instance=instance, home=tmp_path / "home", **kwargs)  # type: ignore[arg-type]


def messages(execution: ExecutionRecord) -> list[tuple[str | None, str]]:
    return [(log.task_id, log.message) for log in execution.logs if log.level != "DEBUG"]


# -- If and Switch ------------------------------------------------------------------------------
IF_FLOW = f"""\
inputs:
  - id: s
    type: STRING
tasks:
  - id: if
    type: io.kestra.core.tasks.flows.If
    condition: "{{{{ inputs.s }}}}"
    then:
      - id: yes
        type: {LOG}
        message: "then {{{{ parent.outputs.evaluationResult }}}}"
    else:
      - id: no
        type: {LOG}
        message: else
"""


@pytest.mark.parametrize(
    ("value", "branch", "result"),
    [("x", "yes", True), ("false", "no", False), ("0", "no", False), ("-0", "no", False)],
)
def test_if_runs_the_branch_of_kestras_truth_rule(
    instance: LocalInstance, tmp_path: Path, value: str, branch: str, result: bool
) -> None:
    execution = run(instance, tmp_path, IF_FLOW, inputs={"s": value})
    assert execution.state == "SUCCESS"
    assert [task for task, _ in messages(execution)] == [branch]
    assert execution.outputs["if"] == {"evaluationResult": result}


def test_if_without_else_and_a_false_condition_does_nothing(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: ""
    then:
      - id: yes
        type: {LOG}
        message: then
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "SUCCESS" and messages(execution) == []


def test_if_with_empty_then_is_refused_naming_the_line(tmp_path: Path) -> None:
    source = HEAD + "tasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n"
    source += "    condition: x\n    then: []\n"
    with pytest.raises(FlowFileError, match=r"f.yml:7: .*'then' must not be empty"):
        parse_flow(source, "f.yml")


SWITCH = f"""\
inputs:
  - id: v
    type: STRING
tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.v }}}}"
    cases:
      a:
        - id: case_a
          type: {LOG}
          message: A
      "1":
        - id: case_1
          type: {LOG}
          message: one
    defaults:
      - id: other
        type: {LOG}
        message: "default {{{{ parent.outputs.value }}}}"
"""


@pytest.mark.parametrize(
    ("value", "ran", "defaults"),
    [("a", "case_a", False), ("1", "case_1", False), ("zz", "other", True)],
)
def test_switch_runs_the_matching_case_or_defaults(
    instance: LocalInstance, tmp_path: Path, value: str, ran: str, defaults: bool
) -> None:
    execution = run(instance, tmp_path, SWITCH, inputs={"v": value})
    assert [task for task, _ in messages(execution)] == [ran]
    assert execution.outputs["switch"] == {"value": value, "defaults": defaults}


def test_switch_without_any_task_is_refused(tmp_path: Path) -> None:
    source = HEAD + "tasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Switch\n"
    source += "    value: x\n"
    with pytest.raises(FlowFileError, match="neither cases or default have any tasks"):
        parse_flow(source, "f.yml")


def test_task_ids_inside_switch_cases_are_checked_for_duplicates(tmp_path: Path) -> None:
    source = SWITCH.replace("id: case_1", "id: case_a")
    with pytest.raises(FlowFileError, match=r"Duplicate task id with name \[case_a\]"):
        parse_flow(HEAD + source, "f.yml")


# -- errors and finally inside flowable tasks ---------------------------------------------------
def test_errors_and_finally_of_a_group_run_and_the_flow_fails(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: broken
      - id: never
        type: {LOG}
        message: never
    errors:
      - id: on_error
        type: {LOG}
        message: handled
    finally:
      - id: always
        type: {LOG}
        message: cleanup
  - id: after
    type: {LOG}
    message: not reached
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "FAILED" and execution.failed_task_id == "boom"
    assert "broken" in (execution.error or "")
    assert [task for task, _ in messages(execution)] == ["boom", "on_error", "always"]


def test_allow_failure_on_a_group_keeps_the_flow_going_as_warning(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.Parallel
    allowFailure: true
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
  - id: after
    type: {LOG}
    message: reached
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "WARNING"
    assert ("after", "reached") in messages(execution)


# -- ForEach ------------------------------------------------------------------------------------
def test_for_each_keys_outputs_by_value_and_gives_parents(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "a", 3, {{"k": "v"}}]
    tasks:
      - id: ret
        type: {RETURN}
        format: "{{{{ taskrun.value }}}}"
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ taskrun.value == 'b' }}}}"
        then:
          - id: nested
            type: {RETURN}
            format: "{{{{ parent.taskrun.value }}}}-{{{{ parents[0].outputs.evaluationResult }}}}"
  - id: read
    type: {LOG}
    message: "{{{{ outputs.ret['a'].value }}}} {{{{ outputs.nested.b.value }}}}"
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "SUCCESS"
    assert execution.outputs["ret"] == {
        "a": {"value": "a"},
        "b": {"value": "b"},
        "3": {"value": "3"},
        '{"k":"v"}': {"value": '{"k":"v"}'},
    }
    assert execution.outputs["nested"] == {"b": {"value": "b-true"}}
    assert ("read", "a b-true") in messages(execution)


def test_nested_for_each_keys_outputs_by_both_values(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = f"""\
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["x", "y"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: "[1, 2]"
        tasks:
          - id: ret
            type: {RETURN}
            format: "{{{{ parent.taskrun.value }}}}{{{{ taskrun.value }}}}"
"""
    execution = run(instance, tmp_path, body)
    assert execution.outputs["ret"] == {
        "x": {"1": {"value": "x1"}, "2": {"value": "x2"}},
        "y": {"1": {"value": "y1"}, "2": {"value": "y2"}},
    }


def test_for_each_values_from_an_earlier_output(instance: LocalInstance, tmp_path: Path) -> None:
    body = f"""\
tasks:
  - id: list
    type: io.kestra.plugin.core.output.OutputValues
    values:
      items: ["p", "q"]
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ outputs.list.values['items'] }}}}"
    concurrencyLimit: 0
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ taskrun.value }}}}"
"""
    execution = run(instance, tmp_path, body)
    assert messages(execution) == [("log", "p"), ("log", "q")]


def test_for_each_over_ten_thousand_values_is_refused_before_any_iteration(
    instance: LocalInstance, tmp_path: Path
) -> None:
    values = "[" + ", ".join(str(i) for i in range(10_000)) + "]"
    body = f"""\
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {values}
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ taskrun.value }}}}"
"""
    started = time.monotonic()
    execution = run(instance, tmp_path, body)
    assert execution.state == "FAILED"
    assert "10,000 values, more than the 1,000" in (execution.error or "")
    assert not [log for log in execution.logs if log.task_id == "log"]
    assert time.monotonic() - started < 10


def test_nested_loops_are_bounded_by_the_task_run_budget(
    instance: LocalInstance, tmp_path: Path
) -> None:
    values = "[" + ", ".join(str(i) for i in range(200)) + "]"
    body = f"""\
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: {values}
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: {values}
        tasks:
          - id: ret
            type: io.kestra.plugin.core.output.OutputValues
"""
    execution = run(instance, tmp_path, body)
    assert execution.state == "FAILED"
    assert f"more than {MAX_TASK_RUNS:,} task runs" in (execution.error or "")


def test_for_each_refuses_null_values_and_text_that_is_not_a_list(
    instance: LocalInstance, tmp_path: Path
) -> None:
    for values, expected in (("[null, 'a']", "null values"), ('"a,b"', "not a list")):
        body = f"""\
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: {values}
    tasks:
      - id: log
        type: {LOG}
        message: x
"""
        execution = run(instance, tmp_path, body)
        assert execution.state == "FAILED" and expected in (execution.error or "")


# -- values, fail, waits ------------------------------------------------------------------------
def test_fail_on_a_condition_only_when_true(instance: LocalInstance, tmp_path: Path) -> None:
    body = """\
inputs:
  - id: p
    type: STRING
tasks:
  - id: fail
    type: io.kestra.core.tasks.executions.Fail
    condition: '{{ inputs.p == "fail" }}'
    errorMessage: "p was {{ inputs.p }}"
"""
    assert run(instance, tmp_path, body, inputs={"p": "ok"}).state == "SUCCESS"
    failed = run(instance, tmp_path, body, inputs={"p": "fail"})
    assert failed.state == "FAILED" and "p was fail" in (failed.error or "")


def test_return_and_output_values_render_their_values(
    instance: LocalInstance, tmp_path: Path
) -> None:
    body = """\
tasks:
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: 42
      s: "{{ flow.id }}"
      nested: {a: ["{{ task.id }}"]}
  - id: ret
    type: io.kestra.core.tasks.debugs.Return
    format: "{{ outputs['values']['values'].s }}"
"""
    execution = run(instance, tmp_path, body)
    assert execution.outputs["values"] == {
        "values": {"n": 42, "s": "f", "nested": {"a": ["values"]}}
    }
    assert execution.outputs["ret"] == {"value": "f"}


def test_sleep_and_pause_wait_their_duration(instance: LocalInstance, tmp_path: Path) -> None:
    body = """\
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
    onResume:
      - id: approved
        type: BOOLEAN
        defaults: true
"""
    started = time.monotonic()
    execution = run(instance, tmp_path, body)
    assert execution.state == "SUCCESS"
    assert time.monotonic() - started >= 0.4
    assert execution.outputs["pause"] == {"onResume": {"approved": True}}


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("type: io.kestra.plugin.core.flow.Sleep\n    duration: P2D", "between 0 and 1 day"),
        ("type: io.kestra.plugin.core.flow.Sleep\n    duration: -PT1S", "between 0 and 1 day"),
        ("type: io.kestra.plugin.core.flow.Sleep\n    duration: 5m", "not an ISO-8601"),
        ("type: io.kestra.plugin.core.flow.Pause\n    delay: P30D", "between 0 and 1 day"),
        ("type: io.kestra.plugin.core.flow.Pause", "manual resume"),
    ],
)
def test_waits_beyond_the_maximum_or_forever_are_refused_at_once(
    instance: LocalInstance, tmp_path: Path, task: str, expected: str
) -> None:
    started = time.monotonic()
    execution = run(instance, tmp_path, f"tasks:\n  - id: wait\n    {task}\n")
    assert execution.state == "FAILED" and expected in (execution.error or "")
    assert time.monotonic() - started < 5
