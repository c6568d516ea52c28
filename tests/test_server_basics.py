"""``kestra-git server``: start-up, health, Basic auth, the bind rule, body limits, SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from serverproc import ServerProcess, deploy, executions, wait_execution

LOG_FLOW = """
id: logger
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello from {{ trigger.body }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: the-key-1234
"""


def test_server_prints_its_url_and_answers_health(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "home") as server, server.client() as client:
        assert server.url.startswith("http://127.0.0.1:")
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json()["status"] == "UP"


def test_sigterm_stops_the_server_with_exit_0(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "home")
    assert server.stop(signal.SIGTERM) == 0, server.stderr()


def test_sigint_stops_the_server_with_exit_0(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "home")
    assert server.stop(signal.SIGINT) == 0, server.stderr()


def test_non_loopback_bind_without_auth_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kestra_git_tasks",
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--home",
            str(tmp_path / "home"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "refusing to serve 0.0.0.0 without authentication" in result.stderr
    assert "--basic-auth" in result.stderr and "--insecure-no-auth" in result.stderr


def test_non_loopback_bind_is_allowed_with_basic_auth(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "home", "--host", "0.0.0.0", "--basic-auth", "ops:pw-123456"):
        pass


def test_malformed_basic_auth_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kestra_git_tasks",
            "server",
            "--port",
            "0",
            "--home",
            str(tmp_path / "home"),
            "--basic-auth",
            "no-colon",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--basic-auth must be USER:PASSWORD" in result.stderr
    assert "no-colon" not in result.stderr


def test_basic_auth_protects_everything_but_keyed_webhooks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, LOG_FLOW)
    env = {"KESTRA_GIT_SERVER_BASIC_AUTH": "ops:pw-123456"}
    with ServerProcess(home, env=env) as server, server.client() as client:
        assert client.get("/health").status_code == 401
        assert client.get("/health", auth=("ops", "wrong")).status_code == 401
        assert client.get("/health", headers={"Authorization": "Basic !!!"}).status_code == 401
        assert client.get("/health", auth=("ops", "pw-123456")).status_code == 200
        response = client.post("/api/v1/main/executions/webhook/company.team/logger/the-key-1234")
        assert response.status_code == 200
        wait_execution(home, response.json()["id"])
    assert "pw-123456" not in server.stderr()


def test_a_body_over_the_limit_is_refused_and_starts_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, LOG_FLOW)
    with ServerProcess(home) as server, server.client() as client:
        url = "/api/v1/executions/webhook/company.team/logger/the-key-1234"
        response = client.post(url, content=b"x" * (10 * 1024 * 1024 + 1))
        assert response.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            for _ in range(11):
                yield b"y" * (1024 * 1024)

        assert client.post(url, content=chunks()).status_code == 413
    assert executions(home) == []


def test_an_execution_is_recorded_as_run_records_it_with_its_trigger(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, LOG_FLOW)
    with ServerProcess(home) as server, server.client() as client:
        response = client.post(
            "/api/v1/executions/webhook/company.team/logger/the-key-1234", content=b"world"
        )
        execution = wait_execution(home, response.json()["id"])
    assert execution.state == "SUCCESS"
    assert execution.trigger is not None and execution.trigger["id"] == "hook"
    assert execution.trigger["type"] == "io.kestra.plugin.core.trigger.Webhook"
    assert [log.message for log in execution.logs] == ["hello from world"]
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "kestra_git_tasks",
            "executions",
            "show",
            execution.id,
            "--home",
            str(home),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert '"id": "hook"' in shown.stdout


def test_a_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "home") as server:
        port = server.url.rsplit(":", 1)[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kestra_git_tasks",
                "server",
                "--port",
                port,
                "--home",
                str(tmp_path / "other"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr
