"""Kestra's executions API on ``kestra-git server``; concurrency limits; shutdown."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from serverproc import ServerProcess, deploy, executions, wait_execution

INPUT_FLOW = """
id: greet
namespace: company.team
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }} x{{ inputs.times }}"
"""


def test_a_secret_input_never_comes_back_in_a_response(tmp_path: Path) -> None:
    home = tmp_path / "home"
    flow = _sleeper("secretive", 1, "inputs:\n  - id: token\n    type: SECRET\n")
    deploy(home, flow.replace("sleep 1", "echo {{ inputs.token }}; sleep 1"))
    with ServerProcess(home, "--workers", "1") as server, server.client() as client:
        url = "/api/v1/main/executions/company.team/secretive"
        first = client.post(url, data={"token": "hunter2-secret-value"})
        second = client.post(url, data={"token": "hunter2-secret-value"})  # waits for a worker
        got = client.get(f"/api/v1/main/executions/{second.json()['id']}")
        done = client.post(url + "?wait=true", data={"token": "hunter2-secret-value"})
        page = client.get(f"/executions/{done.json()['id']}")
        for response in (first, second, got, done, page):
            assert "hunter2-secret-value" not in response.text
        assert done.json()["inputs"]["token"] == "******"
    assert "hunter2-secret-value" not in server.stderr()


def _sleeper(flow_id: str, seconds: float, extra: str = "") -> str:
    return (
        f"id: {flow_id}\nnamespace: company.team\n{extra}tasks:\n"
        "  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    taskRunner:\n      type: io.kestra.plugin.core.runner.Process\n"
        f"    commands:\n      - sleep {seconds}\n"
    )


def test_start_an_execution_with_form_inputs_then_get_and_search_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, INPUT_FLOW)
    with ServerProcess(home) as server, server.client() as client:
        started = client.post(
            "/api/v1/main/executions/company.team/greet", data={"name": "ada", "times": "3"}
        )
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["flowId"] == "greet" and body["state"]["current"] in (
            "CREATED",
            "RUNNING",
            "SUCCESS",
        )
        wait_execution(home, body["id"])
        got = client.get(f"/api/v1/main/executions/{body['id']}").json()
        assert got["state"]["current"] == "SUCCESS" and got["inputs"] == {"name": "ada", "times": 3}
        waited = client.post(
            "/api/v1/executions/company.team/greet?wait=true",
            files={"name": (None, "bob")},
        )
        assert waited.json()["state"]["current"] == "SUCCESS"
        found = client.get("/api/v1/main/executions/search", params={"flowId": "greet"}).json()
        assert found["total"] == 2
        assert {r["inputs"]["name"] for r in found["results"]} == {"ada", "bob"}
        assert (
            client.get("/api/v1/executions/search", params={"state": "FAILED"}).json()["total"] == 0
        )
        flows = client.get("/api/v1/main/flows/search", params={"namespace": "company"}).json()
        assert [f["id"] for f in flows["results"]] == ["greet"]
        assert "source" not in flows["results"][0]


def test_api_refuses_bad_inputs_unknown_flows_and_ids_without_running_anything(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deploy(home, INPUT_FLOW)
    with ServerProcess(home) as server, server.client() as client:
        missing = client.post("/api/v1/main/executions/company.team/greet", data={})
        assert missing.status_code == 422 and "missing required input 'name'" in missing.text
        bad_type = client.post(
            "/api/v1/main/executions/company.team/greet", data={"name": "x", "times": "many"}
        )
        assert bad_type.status_code == 422
        unknown = client.post(
            "/api/v1/main/executions/company.team/greet", data={"name": "x", "rm": "1"}
        )
        assert unknown.status_code == 422 and "unknown input" in unknown.text
        upload = client.post(
            "/api/v1/main/executions/company.team/greet", files={"name": ("a.txt", b"x")}
        )
        assert upload.status_code == 422
        assert client.post("/api/v1/main/executions/company.team/nope").status_code == 404
        assert (
            client.post(
                "/api/v1/other/executions/company.team/greet", data={"name": "x"}
            ).status_code
            == 404
        )
        assert client.get("/api/v1/main/executions/doesnotexist").status_code == 404
        assert client.get("/api/v1/main/executions/search", params={"size": "0"}).status_code == 400
    assert executions(home) == []


def test_concurrency_limit_queues_cancels_or_fails(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for behavior in ("QUEUE", "CANCEL", "FAIL"):
        extra = f"concurrency:\n  limit: 1\n  behavior: {behavior}\n"
        deploy(home, _sleeper(f"limited_{behavior.lower()}", 1.5, extra))
    with ServerProcess(home, "--workers", "4") as server, server.client() as client:
        ids: dict[str, list[str]] = {}
        for behavior in ("queue", "cancel", "fail"):
            url = f"/api/v1/main/executions/company.team/limited_{behavior}"
            ids[behavior] = [client.post(url).json()["id"] for _ in range(2)]
        queued = client.get(f"/api/v1/main/executions/{ids['queue'][1]}").json()
        assert queued["state"]["current"] == "QUEUED"
        records = {i: wait_execution(home, i) for group in ids.values() for i in group}
    assert [records[i].state for i in ids["queue"]] == ["SUCCESS", "SUCCESS"]
    first, second = (records[i] for i in ids["queue"])
    assert first.end_date is not None and first.end_date <= second.start_date
    assert [records[i].state for i in ids["cancel"]] == ["SUCCESS", "CANCELLED"]
    assert [records[i].state for i in ids["fail"]] == ["SUCCESS", "FAILED"]
    assert "concurrency limit" in (records[ids["fail"][1]].error or "")


def test_sigterm_lets_a_running_execution_finish_within_the_grace_period(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, _sleeper("short", 1.5))
    server = ServerProcess(home, "--grace", "30")
    with server.client() as client:
        execution_id = client.post("/api/v1/main/executions/company.team/short").json()["id"]
    time.sleep(0.5)
    assert server.stop(signal.SIGTERM) == 0, server.stderr()
    assert wait_execution(home, execution_id, timeout=1).state == "SUCCESS"


def _processes_running(needle: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if needle.encode() in file.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_sigterm_kills_what_outlives_the_grace_period_and_exits_0(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, _sleeper("long", 41.7331) + "      - echo never\n")
    deploy(home, _sleeper("queued", 1, "concurrency:\n  limit: 1\n"))
    server = ServerProcess(home, "--grace", "1")
    with server.client() as client:
        execution_id = client.post("/api/v1/main/executions/company.team/long").json()["id"]
        queued = [
            client.post("/api/v1/main/executions/company.team/queued").json()["id"]
            for _ in range(2)
        ]
        deadline = time.monotonic() + 30
        while not _processes_running("41.7331"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0, server.stderr()
    assert time.monotonic() - started < 20
    record = wait_execution(home, execution_id, timeout=1)
    assert record.state == "KILLED" and "SIGTERM" in (record.error or ""), record.error
    assert _processes_running("41.7331") == []
    states = [wait_execution(home, i, timeout=1).state for i in queued]
    assert states[1] == "KILLED" or states == ["SUCCESS", "SUCCESS"]


def _workers_of(server: ServerProcess) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                cmdline = file.read()
            with open(f"/proc/{pid}/stat") as file:
                ppid = int(file.read().rpartition(")")[2].split()[1])
        except OSError:
            continue
        if ppid == server.process.pid and b"kestra_git_tasks.server.worker" in cmdline:
            found.append(int(pid))
    return found


def test_a_worker_killed_mid_run_leaves_its_execution_killed_and_is_replaced(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deploy(home, _sleeper("victim", 53.9137))
    deploy(home, INPUT_FLOW)
    with ServerProcess(home, "--workers", "1") as server, server.client() as client:
        execution_id = client.post("/api/v1/main/executions/company.team/victim").json()["id"]
        deadline = time.monotonic() + 30
        while not _processes_running("53.9137"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        workers = _workers_of(server)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        record = wait_execution(home, execution_id)
        assert record.state == "KILLED" and "ended without finishing it" in (record.error or "")
        after = client.post(
            "/api/v1/main/executions/company.team/greet?wait=true", data={"name": "z"}
        )
        assert after.json()["state"]["current"] == "SUCCESS"
    for pid in _processes_running("53.9137"):  # the orphaned sleep: not ours to keep
        os.kill(pid, signal.SIGKILL)


def test_workers_ignore_sigint_so_a_terminal_ctrl_c_waits_for_the_grace_period(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deploy(home, _sleeper("short", 1.5))
    with ServerProcess(home, "--workers", "1") as server, server.client() as client:
        execution_id = client.post("/api/v1/main/executions/company.team/short").json()["id"]
        time.sleep(0.5)
        for pid in _workers_of(server):
            os.kill(pid, signal.SIGINT)
        assert wait_execution(home, execution_id).state == "SUCCESS"
        assert server.stop(signal.SIGINT) == 0
