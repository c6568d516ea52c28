"""``validate`` checks what ``run`` would refuse: ISO-8601 durations, IANA time zones, and (with
``--local``) a task runner other than Process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kestra_git_tasks.cli import cli
from kestra_git_tasks.flow import validate_source

LOG = "io.kestra.plugin.core.log.Log"


def task_flow(extra: str) -> str:
    return f"id: f\nnamespace: n\ntasks:\n  - id: t\n    type: {LOG}\n    message: hi\n{extra}"


def schedule_flow(timezone: str) -> str:
    return task_flow(
        "triggers:\n  - id: s\n    type: io.kestra.plugin.core.trigger.Schedule\n"
        f"    cron: '0 * * * *'\n    timezone: {timezone!r}\n"
    )


@pytest.mark.parametrize("value", ["PT5M", "P1DT2H", "P1W", "PT0.5S", "{{ vars.timeout }}"])
def test_iso_durations_and_templates_are_accepted(value: str) -> None:
    assert validate_source(task_flow(f"    timeout: {value!r}\n")) == []


@pytest.mark.parametrize("value", ["5m", "1 hour", "P1M", "PT", "", "P" + "9" * 40 + "D"])
def test_a_timeout_that_is_not_iso_8601_is_a_problem_on_its_line(value: str) -> None:
    problems = validate_source(task_flow(f"    timeout: {value!r}\n"))
    assert len(problems) == 1
    assert problems[0].startswith("line 7: task 't': property 'timeout': ")
    assert "PT5M" in problems[0] or "longer than" in problems[0]


def test_retry_durations_are_checked_too() -> None:
    extra = "    retry:\n      type: constant\n      interval: 1s\n      maxAttempts: 2\n"
    assert validate_source(task_flow(extra)) == [
        "line 9: task 't'.retry: property 'interval': '1s' is not an ISO-8601 duration: write "
        "e.g. PT30S, PT5M, PT1H30M, P1DT2H or P1W"
    ]


def test_durations_of_tasks_this_library_does_not_run_are_checked() -> None:
    source = (
        task_flow("")
        .replace(LOG, "io.kestra.plugin.jdbc.postgresql.Query")
        .replace("message: hi", "sql: select 1\n    timeout: 10s")
    )
    assert any("property 'timeout'" in p for p in validate_source(source))


@pytest.mark.parametrize(
    "zone", ["Europe/Paris", "UTC", "Z", "+02:00", "GMT+2", "America/New_York"]
)
def test_iana_time_zones_and_offsets_are_accepted(zone: str) -> None:
    assert validate_source(schedule_flow(zone)) == []


@pytest.mark.parametrize(
    ("zone", "hint"),
    [
        ("Europe/Pariss", "did you mean 'Europe/Paris'?"),
        ("../../etc/passwd", "IANA name"),
        ("/etc/localtime", "IANA name"),
        ("", "IANA name"),
        ("Mars/Olympus", "IANA name"),
    ],
)
def test_an_unknown_time_zone_is_a_problem_with_a_hint(zone: str, hint: str) -> None:
    problems = validate_source(schedule_flow(zone))
    assert len(problems) == 1 and "unknown time zone" in problems[0] and hint in problems[0]


def test_validate_local_fails_on_a_docker_task_runner(tmp_path: Path) -> None:
    path = tmp_path / "docker.yml"
    path.write_text(
        "id: d\nnamespace: n\ntasks:\n  - id: sh\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    commands: [ls]\n    taskRunner:\n      type: io.kestra.plugin.scripts.runner.docker.Docker\n"
    )
    runner = CliRunner()
    env = {"KESTRA_GIT_HOME": str(tmp_path / "home")}
    result = runner.invoke(cli, ["validate", str(path)], env=env)
    assert result.exit_code == 0, result.stderr
    assert "taskRunner (io.kestra.plugin.scripts.runner.docker.Docker) runs on a Kestra" in (
        result.stderr
    )
    result = runner.invoke(cli, ["validate", "--local", str(path)], env=env)
    assert result.exit_code == 1
    assert "docker.yml:8: task 'sh'.taskRunner" in result.stderr
