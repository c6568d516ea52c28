"""Kestra's `Loop` (io.kestra.plugin.core.flow.Loop): `item.value`/`index`/`key`, nested
`item.parent`/`parents`, one context per iteration, and what it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.instance.base import ExecutionRecord

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
LOOP = "io.kestra.plugin.core.flow.Loop"
HEAD = "id: f\nnamespace: company.team\n"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home") as opened:
        yield opened


def run(instance: LocalInstance, tmp_path: Path, body: str) -> ExecutionRecord:
    path = tmp_path / "flow.yml"
    path.write_text(HEAD + body)
    return run_flow(path, instance=instance, home=tmp_path / "home")


def logged(execution: ExecutionRecord, task_id: str) -> list[str]:
    return [log.message for log in execution.logs if log.task_id == task_id]


def test_loop_gives_each_value_and_index_as_item(instance: LocalInstance, tmp_path: Path) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: ["a", 2, {{"k": 1}}]
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ item.index }}}}={{{{ item.value }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "log") == ["0=a", "1=2", '2={"k":1}']


def test_loop_over_a_map_or_json_text_gives_keys(instance: LocalInstance, tmp_path: Path) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: map
    type: {LOOP}
    values: {{"x": 1, "y": "two"}}
    tasks:
      - id: from_map
        type: {LOG}
        message: "{{{{ item.key }}}}:{{{{ item.value }}}}"
  - id: text
    type: {LOOP}
    values: '["p", "q"]'
    tasks:
      - id: from_text
        type: {LOG}
        message: "{{{{ item.value }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "from_map") == ["x:1", "y:two"]
    assert logged(execution, "from_text") == ["p", "q"]


def test_nested_loops_read_the_enclosing_items_as_parent_and_parents(
    instance: LocalInstance, tmp_path: Path
) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: buckets
    type: {LOOP}
    values: ["b1", "b2"]
    tasks:
      - id: years
        type: {LOOP}
        values: [2025]
        tasks:
          - id: months
            type: {LOOP}
            values: ["March"]
            tasks:
              - id: name
                type: {LOG}
                message: "{{{{ item.parents[1].value }}}}_{{{{ item.parent.value }}}}_{{{{ item.value }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "name") == ["b1_2025_March", "b2_2025_March"]


def test_each_iteration_reads_its_own_outputs_and_they_are_kept_by_value(
    instance: LocalInstance, tmp_path: Path
) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: before
    type: {RETURN}
    format: start
  - id: loop
    type: {LOOP}
    values: ["a", "b"]
    tasks:
      - id: ret
        type: {RETURN}
        format: "{{{{ outputs.before.value }}}}-{{{{ item.value }}}}"
      - id: log
        type: {LOG}
        message: "{{{{ outputs.ret.value }}}}"
  - id: after
    type: {LOG}
    message: "{{{{ outputs.ret['b'].value }}}} {{{{ item is defined }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "log") == ["start-a", "start-b"]
    assert logged(execution, "after") == ["start-b false"]
    assert execution.outputs["ret"] == {"a": {"value": "start-a"}, "b": {"value": "start-b"}}
    assert execution.outputs["loop"] == {
        "iterationCount": 2,
        "runningIterations": 0,
        "terminatedIterations": 2,
    }


def test_a_failed_iteration_stops_the_loop_and_runs_its_errors(
    instance: LocalInstance, tmp_path: Path
) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: ["ok", "bad", "never"]
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{{{ item.value == 'bad' }}}}"
      - id: log
        type: {LOG}
        message: "{{{{ item.value }}}}"
    errors:
      - id: handler
        type: {LOG}
        message: handled
""",
    )
    assert execution.state == "FAILED"
    assert logged(execution, "log") == ["ok"]
    assert logged(execution, "handler") == ["handled"]


@pytest.mark.parametrize(
    ("values", "message"),
    [("[a, null]", "null value"), ('"not json"', "not a list, a map nor JSON"), ('"3"', "must be")],
)
def test_bad_values_fail_the_loop_before_any_iteration(
    instance: LocalInstance, tmp_path: Path, values: str, message: str
) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: {values}
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ item.value }}}}"
""",
    )
    assert execution.state == "FAILED"
    assert message in (execution.error or "")
    assert logged(execution, "log") == []


def test_more_than_a_thousand_values_are_refused_before_any_iteration(
    instance: LocalInstance, tmp_path: Path
) -> None:
    values = "[" + ", ".join(str(n) for n in range(1001)) + "]"
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: {values}
    tasks:
      - id: log
        type: {LOG}
        message: x
""",
    )
    assert execution.state == "FAILED"
    assert "1,001 values" in (execution.error or "")
    assert logged(execution, "log") == []


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("    transmitFailed: false\n", "transmitFailed"),
        ("    outputs:\n      - id: o\n        type: STRING\n        value: x\n", "outputs"),
        ("    concurrencyLimit: -1\n", "concurrencyLimit"),
    ],
)
def test_what_the_loop_does_not_do_is_refused_naming_the_key(extra: str, key: str) -> None:
    source = (
        HEAD + f"tasks:\n  - id: loop\n    type: {LOOP}\n    values: [a]\n{extra}"
        f"    tasks:\n      - id: log\n        type: {LOG}\n        message: x\n"
    )
    with pytest.raises(FlowFileError, match=key):
        parse_flow(source, "flow.yml")


def test_concurrency_limit_is_accepted(instance: LocalInstance, tmp_path: Path) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: [1, 2]
    concurrencyLimit: 0
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ item.value }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "log") == ["1", "2"]


def test_a_value_holding_template_syntax_is_used_as_text_never_rendered_again(
    instance: LocalInstance, tmp_path: Path
) -> None:
    execution = run(
        instance,
        tmp_path,
        f"""tasks:
  - id: loop
    type: {LOOP}
    values: ["{{% raw %}}{{{{ 7 * 7 }}}}{{% endraw %}}"]
    tasks:
      - id: log
        type: {LOG}
        message: "{{{{ item.value }}}}"
""",
    )
    assert execution.state == "SUCCESS", execution.error
    assert logged(execution, "log") == ["{{ 7 * 7 }}"]
