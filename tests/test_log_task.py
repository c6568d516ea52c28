"""``Log`` prints maps and lists rendered into its message as one JSON string, like Kestra; a
YAML list of messages is one line per item, like Kestra."""

from __future__ import annotations

from pathlib import Path

from kestra_git_tasks import run_flow


def logged(tmp_path: Path, message_yaml: str, variables: str = "") -> list[str]:
    path = tmp_path / "log.yml"
    path.write_text(
        f"id: log\nnamespace: n\n{variables}tasks:\n  - id: say\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message_yaml}\n"
    )
    execution = run_flow(path, home=tmp_path / "home")
    assert execution.state == "SUCCESS", execution.error
    return [log.message for log in execution.logs if log.task_id == "say"]


VARIABLES = "variables:\n  conf: {a: 1, b: [x, y]}\n  names: [ada, 'grace h']\n"


def test_a_map_logs_one_json_string(tmp_path: Path) -> None:
    assert logged(tmp_path, "'{{ vars.conf }}'", VARIABLES) == ['{"a":1,"b":["x","y"]}']


def test_a_rendered_list_logs_one_json_string(tmp_path: Path) -> None:
    assert logged(tmp_path, "'{{ vars.names }}'", VARIABLES) == ['["ada","grace h"]']


def test_a_yaml_list_logs_one_line_per_item(tmp_path: Path) -> None:
    assert logged(tmp_path, "['{{ vars.names }}', plain]", VARIABLES) == [
        '["ada","grace h"]',
        "plain",
    ]


def test_text_that_looks_like_json_is_logged_as_written(tmp_path: Path) -> None:
    assert logged(tmp_path, "'{\"not\": valid json'") == ['{"not": valid json']
