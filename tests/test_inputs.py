"""Flow inputs are checked by type before any task runs, with Kestra's messages; ``defaults``
are checked with the flow; durations accept every ISO-8601 form, for inputs and timeouts alike."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kestra_git_tasks import LocalInstance, run_flow
from kestra_git_tasks.durations import parse_duration
from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.flow import parse_flow
from kestra_git_tasks.runner import coerce_inputs

LOG = "io.kestra.plugin.core.log.Log"


def flow_with_input(input_type: str, extra: str = "") -> str:
    return (
        f"id: typed\nnamespace: n\ninputs:\n  - id: value\n    type: {input_type}\n{extra}"
        f'tasks:\n  - id: first\n    type: {LOG}\n    message: "got {{{{ inputs.value }}}}"\n'
    )


# type, good text, value the flow gets, bad text, fragment of the message
CASES = [
    ("INT", "41", 41, "4.5", "write a whole number"),
    ("INT", "-7", -7, "3000000000", "less than or equal to 2147483647"),
    ("FLOAT", "1.5", 1.5, "one", "write 1.5"),
    ("BOOLEAN", "TRUE", True, "yes", "write true or false"),
    ("BOOL", "false", False, "1", "write true or false"),
    (
        "DATETIME",
        "2024-01-31T12:00:00Z",
        "2024-01-31T12:00:00Z",
        "2024-01-31",
        "write 2024-01-31T12:00:00Z",
    ),
    (
        "DATETIME",
        "2024-01-31T12:00:00+02:00",
        "2024-01-31T12:00:00+02:00",
        "2024-13-31T12:00:00Z",
        "month value",
    ),
    ("DATE", "2024-02-29", "2024-02-29", "2023-02-29", "day value is outside expected range"),
    ("TIME", "13:45:00", "13:45:00", "25:00", "hour value is outside expected range"),
    ("DURATION", "P1W", "P1W", "1 week", "not an ISO-8601 duration"),
    ("DURATION", "PT1H30M", "PT1H30M", "P1Y", "not an ISO-8601 duration"),
    ("JSON", '{"a": [1, 2]}', {"a": [1, 2]}, "{a: 1}", "Expecting property name"),
    ("URI", "https://kestra.io/docs", "https://kestra.io/docs", "not a uri", "write a URI"),
]


@pytest.mark.parametrize(("input_type", "good", "expected", "bad", "fragment"), CASES)
def test_each_input_type_accepts_a_good_value_and_refuses_a_bad_one(
    input_type: str, good: str, expected: object, bad: str, fragment: str
) -> None:
    flow = parse_flow(flow_with_input(input_type))
    assert coerce_inputs(flow, {"value": good}) == {"value": expected}
    with pytest.raises(ConfigError) as caught:
        coerce_inputs(flow, {"value": bad})
    message = str(caught.value)
    assert message.startswith(
        f"Invalid input for `value`, Expected `{input_type}` but received `{bad}`"
    )
    assert fragment in message


def test_select_accepts_its_values_only() -> None:
    flow = parse_flow(flow_with_input("SELECT", "    values: [dev, prod]\n"))
    assert coerce_inputs(flow, {"value": "prod"}) == {"value": "prod"}
    with pytest.raises(
        ConfigError,
        match=r"Invalid input for `value`, it must match the values `\[dev, prod\]`, but received `test`",
    ):
        coerce_inputs(flow, {"value": "test"})


def test_select_without_values_is_a_flow_problem() -> None:
    with pytest.raises(Exception, match=r"<string>:4: input 'value' \(SELECT\): 'values' must be"):
        parse_flow(flow_with_input("SELECT"))


def test_bad_default_is_reported_by_validate_with_its_line() -> None:
    with pytest.raises(Exception) as caught:
        parse_flow(flow_with_input("DURATION", "    defaults: 5 minutes\n"), "f.yml")
    assert "f.yml:6: 'defaults': Invalid input for `value`, Expected `DURATION`" in str(
        caught.value
    )


def test_good_defaults_and_templated_defaults_pass() -> None:
    parse_flow(flow_with_input("DURATION", "    defaults: P1DT2H\n"))
    parse_flow(flow_with_input("INT", "    defaults: 3\n"))
    parse_flow(flow_with_input("DATE", '    defaults: "{{ execution.startDate }}"\n'))


def test_a_bad_input_fails_the_execution_before_any_task_runs(tmp_path: Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(flow_with_input("DATETIME"))
    with LocalInstance(tmp_path / "home") as instance:
        execution = run_flow(path, instance=instance, inputs={"value": "yesterday"})
    assert execution.state == "FAILED"
    assert "Invalid input for `value`, Expected `DATETIME`" in (execution.error or "")
    assert execution.logs == [] and execution.outputs == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1W", timedelta(weeks=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2D", timedelta(days=2)),
        ("PT0.25S", timedelta(milliseconds=250)),
        ("pt5m", timedelta(minutes=5)),
        ("-PT5M", timedelta(minutes=-5)),
        ("PT-1H30M", timedelta(minutes=-30)),
        ("P1W2DT3H4M5.5S", timedelta(days=9, hours=3, minutes=4, seconds=5.5)),
    ],
)
def test_iso_durations_in_every_form(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1Y", "P1M", "PT1.5M", "1h", "P1DT", "P99999999999W"]
)
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than"):
        parse_duration(text)


def test_task_timeout_accepts_weeks_too() -> None:
    from kestra_git_tasks.tasks.scripts._process import parse_duration as timeout_seconds

    assert timeout_seconds("P1W") == 7 * 86400
