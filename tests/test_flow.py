"""The flow model: Kestra's rules, each problem reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kestra_git_tasks.errors import FlowFileError
from kestra_git_tasks.flow import load_flow_file, parse_flow, validate_source

DATA = Path(__file__).parent / "data" / "validate"

# file -> (line, a fragment of the message) for the first problem
BAD_FLOWS = {
    "bad_yaml.yml": (7, "invalid YAML"),
    "bad_duplicate_key.yml": (7, "duplicate key 'message' (first at line 6)"),
    "bad_flow_id.yml": (1, "invalid flow id '-starts-with-dash'"),
    "bad_namespace.yml": (2, "invalid namespace (lower-case) 'Company.Team'"),
    "bad_task_type.yml": (5, "unknown task type 'io.kestra.plugin.core.log.Logg'"),
    "bad_trigger_type.yml": (9, "unknown trigger type 'io.kestra.plugin.core.trigger.Cron'"),
    "bad_misspelt_property.yml": (6, "unknown property 'mesage'; did you mean 'message'?"),
    "bad_property_type.yml": (7, "property 'disabled'"),
    "bad_duplicate_task_id.yml": (8, "Duplicate task id with name [hello]"),
    "bad_empty_tasks.yml": (3, "'tasks' must be a non-empty list"),
    "bad_cron.yml": (10, "invalid cron expression '99 * * * *'"),
    "bad_task_id.yml": (4, "invalid task id 'has.dot'"),
    "bad_top_level_key.yml": (3, "Unrecognized field 'task'"),
    "bad_system_label.yml": (4, "System labels can only be set by Kestra itself"),
    "bad_webhook_missing_key.yml": (8, "missing required property 'key'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FLOWS))
def test_bad_flow_reports_problem_with_file_and_line(name: str) -> None:
    line, fragment = BAD_FLOWS[name]
    with pytest.raises(FlowFileError) as caught:
        load_flow_file(DATA / name)
    matching = [p for p in caught.value.problems if fragment in p.message]
    assert matching, [str(p) for p in caught.value.problems]
    assert matching[0].path == str(DATA / name)
    assert matching[0].line == line, str(matching[0])
    first = caught.value.problems[0]
    assert str(caught.value).startswith(f"{DATA / name}:{first.line}: ")


def test_every_bad_flow_in_the_data_folder_is_covered() -> None:
    bad = {path.name for path in DATA.glob("bad_*")}
    assert bad == set(BAD_FLOWS)


def test_good_flows_parse() -> None:
    flow = load_flow_file(DATA / "good_hello.yml")
    assert (flow.id, flow.namespace, flow.uid) == (
        "good_hello",
        "company.team",
        "company.team/good_hello",
    )
    assert [task.id for task in flow.tasks] == ["hello"]


def test_old_type_aliases_resolve_to_the_same_classes() -> None:
    flow = load_flow_file(DATA / "good_alias.yaml")
    from kestra_git_tasks.tasks.core.log import Log
    from kestra_git_tasks.triggers import Schedule

    assert flow.tasks[0].cls is Log
    assert flow.triggers[0].cls is Schedule


def test_unknown_task_type_lists_known_types_and_names_task() -> None:
    with pytest.raises(FlowFileError) as caught:
        load_flow_file(DATA / "bad_task_type.yml")
    message = caught.value.problems[0].message
    assert "task 'hello'" in message
    assert "did you mean 'io.kestra.plugin.core.log.Log'?" in message
    assert "known types: " in message


def test_all_problems_are_reported_not_only_the_first() -> None:
    source = """\
id: many
namespace: Bad
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    messag: x
  - id: a
    type: nope.Nope
"""
    problems = validate_source(source, "many.yml", known_types_only=True)
    assert len(problems) == 5
    assert problems[0].startswith("many.yml:2:")
    assert any("many.yml:7: Duplicate task id" in p for p in problems)


def test_flow_id_and_namespace_size_limits() -> None:
    long_id = "a" * 101
    problems = validate_source(
        f"id: {long_id}\nnamespace: {'n' * 151}\ntasks:\n  - id: t\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: m\n"
    )
    assert any("longer than 100" in p for p in problems)
    assert any("longer than 150" in p for p in problems)


def test_templated_values_are_not_type_checked_before_rendering() -> None:
    flow = parse_flow(
        "id: t\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
        '    message: hi\n    disabled: "{{ inputs.off }}"\n'
    )
    assert flow.tasks[0].properties["disabled"] == "{{ inputs.off }}"


def test_task_ids_are_unique_across_errors_and_finally() -> None:
    problems = validate_source(
        "id: t\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: m\nfinally:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: m\n"
    )
    assert problems == [
        "line 8: Duplicate task id with name [a] (first declared at line 4); "
        "task ids must be unique across the whole flow"
    ]


def test_inputs_are_checked() -> None:
    problems = validate_source(
        "id: t\nnamespace: n\ninputs:\n  - id: a\n    type: NUMBER\n  - id: a\n"
        "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
    )
    assert any("unknown type 'NUMBER'" in p for p in problems)
    assert any("Duplicate input with name [a]" in p for p in problems)


def test_a_flow_must_be_a_mapping() -> None:
    with pytest.raises(FlowFileError, match="a flow must be a YAML mapping"):
        parse_flow("- just\n- a list\n", "list.yml")


def test_seed_trigger_crons_are_valid() -> None:
    for cron in ("*/1 * * * *", "* */1 * * *", "*/15 * * * *"):
        parse_flow(
            "id: t\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
            f"    message: m\ntriggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
            f'    cron: "{cron}"\n'
        )


def test_flows_of_other_plugins_are_valid_for_storage_but_not_for_running() -> None:
    source = """\
id: other_plugins
namespace: company.team
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: query
        type: io.kestra.plugin.jdbc.postgresql.Query
        sql: select 1
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: hi
triggers:
  - id: on_flow
    type: io.kestra.plugin.core.trigger.Flow
"""
    assert validate_source(source) == []
    with pytest.raises(
        FlowFileError, match=r"unknown task type 'io\.kestra\.plugin\.jdbc\.postgresql\.Query'"
    ):
        parse_flow(source)


def test_lenient_check_still_finds_duplicate_ids_inside_unknown_flowable_tasks() -> None:
    source = """\
id: dup
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.core.flow.If
    condition: "true"
    then:
      - id: a
        type: io.kestra.plugin.Other
    else:
      - id: b
        type: "not a type!"
"""
    problems = validate_source(source, "dup.yml")
    assert any("dup.yml:8: Duplicate task id with name [a]" in p for p in problems)
    assert any("dup.yml:12:" in p and "Invalid type: not a type!" in p for p in problems)
