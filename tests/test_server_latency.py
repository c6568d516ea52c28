"""``kestra-git server``: requests are answered while executions burn CPU; the benchmark's trace.

The event loop never runs an execution (workers are processes, see ``server/worker.py``): while
CPU-bound commands run on every worker, ``/health`` and a webhook still answer (checked with a
generous bound, not a timing goal). ``KESTRA_GIT_SERVER_TRACE`` (bench only) writes one timing
line per request and the event loop's late wake-ups, and never the webhook key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serverproc import ServerProcess, deploy

BUSY_FLOW = """
id: busy
namespace: company.team
tasks:
  - id: spin
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - "end=$(( $(date +%s) + 8 )); while [ $(date +%s) -lt $end ]; do :; done"
"""
HOOK_FLOW = """
id: hooked
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: trace-key-5b1e9c
"""


def _wait_active(client: httpx.Client, count: int) -> None:
    deadline = time.monotonic() + 30
    while client.get("/health").json()["active"] < count:
        assert time.monotonic() < deadline, "the busy executions did not start"
        time.sleep(0.1)


def test_health_and_webhooks_answer_while_cpu_bound_executions_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, BUSY_FLOW)
    deploy(home, HOOK_FLOW)
    with ServerProcess(home, "--workers", "2", "--grace", "0") as server:
        with server.client() as client:
            for _ in range(2):
                response = client.post("/api/v1/main/executions/company.team/busy")
                assert response.status_code == 200, response.text
            _wait_active(client, 2)
            for number in range(5):
                health = client.get("/health")
                assert health.status_code == 200
                assert health.json()["active"] >= 2  # both workers are still spinning
                hook = client.post(
                    "/api/v1/main/executions/webhook/company.team/hooked/trace-key-5b1e9c",
                    content=str(number),
                )
                assert hook.status_code == 200
                assert hook.json()["state"]["current"] in ("CREATED", "QUEUED")
        assert server.stop() == 0, server.stderr()


def test_trace_file_times_each_request_without_the_webhook_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    trace = tmp_path / "trace.jsonl"
    deploy(home, HOOK_FLOW)
    env = {"KESTRA_GIT_SERVER_TRACE": str(trace)}
    with ServerProcess(home, env=env) as server, server.client() as client:
        assert client.get("/health", headers={"X-Bench-Seq": "7"}).status_code == 200
        url = "/api/v1/main/executions/webhook/company.team/hooked/trace-key-5b1e9c"
        assert client.post(url, content="x", headers={"X-Bench-Seq": "8" * 100}).status_code == 200
        assert client.get(url.replace("trace-key", "wrong-key")).status_code == 404
        assert server.stop() == 0, server.stderr()
        assert "Traceback" not in server.stderr() and "destroyed" not in server.stderr()
    text = trace.read_text()
    assert "trace-key" not in text and "wrong-key" not in text
    spans = [json.loads(line) for line in text.splitlines() if '"seq"' in line]
    assert [(s["seq"], s["method"], s["status"]) for s in spans] == [
        ("7", "GET", 200),
        ("8" * 32, "POST", 200),
        ("", "GET", 404),
    ]
    for span in spans:
        assert span["in"] <= span["out"] and span["cpu"] >= 0 and span["runq"] >= 0


def test_the_server_parses_http_with_httptools(tmp_path: Path) -> None:
    # h11 (pure Python) costs about 30 % more CPU per request; the C parser is what is measured
    with ServerProcess(tmp_path / "home") as server, server.client() as client:
        assert client.get("/health").status_code == 200
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
        assert "httptools" in maps


def test_an_unwritable_trace_file_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "trace.jsonl"
    command = [sys.executable, "-m", "kestra_git_tasks", "server", "--port", "0"]
    result = subprocess.run(
        [*command, "--home", str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KESTRA_GIT_SERVER_TRACE": str(missing)},
    )
    assert result.returncode != 0
    assert "KESTRA_GIT_SERVER_TRACE" in result.stderr and "writable" in result.stderr
    assert "Traceback" not in result.stderr
    assert not missing.exists()
