"""Schedule triggers on ``kestra-git server``: firing, no overlap, recovery after a restart."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from serverproc import ServerProcess, deploy, executions

from kestra_git_tasks.instance.local import LocalInstance
from kestra_git_tasks.instance.trigger_state import TriggerStates


def _flow(flow_id: str, cron: str, *, sleep: float = 0, extra: str = "") -> str:
    task = (
        f"  - id: work\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        f"    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"
        f"    commands:\n      - sleep {sleep}\n"
        if sleep
        else "  - id: work\n    type: io.kestra.plugin.core.log.Log\n    message: tick\n"
    )
    return (
        f"id: {flow_id}\nnamespace: company.team\ninputs:\n  - id: who\n    type: STRING\n"
        f"    defaults: nobody\ntasks:\n{task}"
        "  - id: dates\n    type: io.kestra.plugin.core.log.Log\n"
        '    message: "{{ trigger.date }} {{ trigger.previous }} {{ trigger.next }} {{ inputs.who }}"\n'
        f"triggers:\n  - id: every\n    type: io.kestra.plugin.core.trigger.Schedule\n"
        f'    cron: "{cron}"\n    withSeconds: true\n{extra}'
    )


def _wait_for(predicate: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_a_with_seconds_schedule_fires_with_trigger_dates_and_inputs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, _flow("ticker", "*/1 * * * * *", extra="    inputs:\n      who: cron\n"))
    with ServerProcess(home):
        _wait_for(lambda: len([e for e in executions(home) if e.state == "SUCCESS"]) >= 2)
    with LocalInstance(home) as instance:
        record = instance.get_execution(executions(home)[-1].id)
    assert record.trigger is not None and record.trigger["id"] == "every"
    date, previous, following, who = record.logs[-1].message.split()
    assert datetime.fromisoformat(previous) < datetime.fromisoformat(date)
    assert datetime.fromisoformat(date) < datetime.fromisoformat(following)
    assert who == "cron"


def test_executions_of_one_schedule_never_overlap(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, _flow("slow", "* * * * * *", sleep=2))
    with ServerProcess(home, "--workers", "4"):
        _wait_for(lambda: len([e for e in executions(home) if e.end_date]) >= 2)
    runs = sorted((e for e in executions(home) if e.end_date), key=lambda e: e.start_date)
    for before, after in itertools.pairwise(runs):
        assert before.end_date is not None and before.end_date <= after.start_date


def _restart_after_a_pause(home: Path, mode: str) -> tuple[datetime, datetime, list[datetime]]:
    """Run a 1-second schedule briefly, stop for 4 s, restart for a while: the last date fired
    before the stop, the restart time, and the dates fired after the restart."""
    extra = f"    recoverMissedSchedules: {mode}\n"
    deploy(home, _flow("recover", "* * * * * *", extra=extra))
    with ServerProcess(home):
        _wait_for(lambda: len(executions(home)) >= 1)
    _wait_for(lambda: all(e.end_date for e in executions(home)))
    with LocalInstance(home) as instance:
        last = TriggerStates(instance).last_date("company.team", "recover", "every")
    assert last is not None
    before = {e.id for e in executions(home)}
    time.sleep(4)
    restart = datetime.now(UTC)
    with ServerProcess(home):
        if mode == "ALL":
            _wait_for(lambda: len(executions(home)) - len(before) >= 5)
        time.sleep(2)
    fired = []
    for record in executions(home):
        if record.id not in before:
            assert record.trigger is not None
            fired.append(datetime.fromisoformat(record.trigger["variables"]["date"]))
    fired.sort()
    assert len(set(fired)) == len(fired), "a date fired twice"
    assert all(moment > last for moment in fired), "a date before the stop fired again"
    return last, restart, fired


def test_recover_all_fires_every_missed_date_after_a_restart(tmp_path: Path) -> None:
    last, restart, fired = _restart_after_a_pause(tmp_path / "home", "ALL")
    missed = [moment for moment in fired if moment <= restart]
    assert len(missed) >= 3
    assert missed[0] == last + timedelta(seconds=1)  # from the first missed date, none skipped
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(missed))


def test_recover_last_fires_only_the_latest_missed_date(tmp_path: Path) -> None:
    _last, restart, fired = _restart_after_a_pause(tmp_path / "home", "LAST")
    missed = [moment for moment in fired if moment <= restart]
    assert len(missed) <= 1
    assert fired and fired[0] >= restart - timedelta(seconds=1)


def test_recover_none_fires_no_missed_date(tmp_path: Path) -> None:
    _last, restart, fired = _restart_after_a_pause(tmp_path / "home", "NONE")
    assert fired and all(moment > restart for moment in fired)


def test_disabled_schedules_and_flows_do_not_fire(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, _flow("off", "* * * * * *", extra="    disabled: true\n"))
    deploy(home, _flow("flow_off", "* * * * * *") + "disabled: true\n")
    with ServerProcess(home):
        time.sleep(3)
    assert executions(home) == []


def test_stop_after_disables_the_schedule(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = _flow("stopper", "* * * * * *", extra="    stopAfter:\n      - FAILED\n")
    deploy(home, flow.replace("defaults: nobody", "required: true"))  # no input: FAILED
    with ServerProcess(home):
        _wait_for(lambda: len(executions(home)) >= 1)
        time.sleep(3)
    assert [e.state for e in executions(home)] == ["FAILED"]


def test_a_flow_deployed_while_the_server_runs_is_served(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ServerProcess(home) as server, server.client() as client:
        time.sleep(1)
        deploy(home, _flow("late", "* * * * * *"))
        _wait_for(lambda: len(executions(home)) >= 1, timeout=30)
        hook = (
            "id: hooked\nnamespace: company.team\ntasks:\n  - id: l\n"
            "    type: io.kestra.plugin.core.log.Log\n    message: m\ntriggers:\n"
            "  - id: h\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: late-key-1\n"
        )
        deploy(home, hook)
        url = "/api/v1/executions/webhook/company.team/hooked/late-key-1"
        _wait_for(lambda: client.post(url).status_code == 200, timeout=30)
        with LocalInstance(home) as instance:
            instance.delete_flow("company.team", "late")
            instance.delete_flow("company.team", "hooked")
        _wait_for(lambda: client.post(url).status_code == 404, timeout=30)
        time.sleep(2)
        count = len([e for e in executions(home) if e.flow_id == "late"])
        time.sleep(2)
        assert len([e for e in executions(home) if e.flow_id == "late"]) == count


def test_a_flow_changed_or_disabled_while_the_server_runs_is_served_as_it_now_is(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    hook = (
        "id: hooked\nnamespace: company.team\ntasks:\n  - id: l\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: KEYWORD\ntriggers:\n"
        "  - id: h\n    type: io.kestra.plugin.core.trigger.Webhook\n    key: first-key-1\n"
    )
    deploy(home, hook)
    with ServerProcess(home) as server, server.client() as client:
        url = "/api/v1/executions/webhook/company.team/hooked/"
        assert client.post(url + "first-key-1").status_code == 200
        deploy(home, hook.replace("first-key-1", "second-key-2").replace("KEYWORD", "changed"))
        _wait_for(lambda: client.post(url + "first-key-1").status_code == 404, timeout=30)
        response = client.post(url + "second-key-2?wait=true")
        assert response.status_code == 200
        deploy(home, hook.replace("first-key-1", "second-key-2") + "disabled: true\n")
        _wait_for(lambda: client.post(url + "second-key-2").status_code == 409, timeout=30)
    done = [e for e in executions(home) if e.end_date]
    assert len(done) >= 2
    with LocalInstance(home) as instance:
        last = instance.get_execution(response.json()["id"])
    assert last.flow_revision == 2 and last.logs[0].message == "changed"
