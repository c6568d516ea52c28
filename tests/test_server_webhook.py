"""Kestra's webhook trigger on ``kestra-git server``: keys, URLs, ``trigger.*``, wait, GitHub."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from conftest import MakeRemote
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from serverproc import ServerProcess, deploy, executions, secret_env, wait_execution

from kestra_git_tasks.instance.local import LocalInstance

ROOT = Path(__file__).resolve().parent.parent
KEY = "webhook-key-0123456789"
ECHO_FLOW = """
id: echo
namespace: company.team
tasks:
  - id: body
    type: io.kestra.plugin.core.log.Log
    message: "ref={{ trigger.body.ref }} agent={{ trigger.headers['x-agent'][0] }} p={{ trigger.parameters.p }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: "{{ secret('WEBHOOK_KEY') }}"
"""
WAIT_FLOW = """
id: waiter
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: waited
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: wait-key-123
    wait: true
"""


def _seed_webhook_flow(repo_url: str) -> str:
    source = (ROOT / "flows" / "sync_flows_webhook.yml").read_text()
    source = source.replace("https://github.com/kestra/scripts", repo_url)
    return source.replace("username: git_username", f"username: {DEFAULT_USERNAME}")


def test_the_seed_webhook_sync_flows_example_syncs_a_repository(
    tmp_path: Path, remote: MakeRemote
) -> None:
    repo = remote(
        files={
            "_flows/hello.yml": "id: hello\nnamespace: dev\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
        }
    )
    home = tmp_path / "home"
    deploy(home, _seed_webhook_flow(repo.url))
    env = secret_env(WEBHOOK_KEY=KEY, GITHUB_ACCESS_TOKEN=DEFAULT_PASSWORD)
    with ServerProcess(home, env=env) as server, server.client() as client:
        response = client.post(f"/api/v1/main/executions/webhook/system/sync_from_git/{KEY}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["namespace"] == "system" and body["flowId"] == "sync_from_git"
        assert body["state"]["current"] in ("CREATED", "RUNNING", "SUCCESS")
        execution = wait_execution(home, body["id"])
    assert execution.state == "SUCCESS", execution.error
    with LocalInstance(home) as instance:
        synced = instance.get_flow("git", "hello")
    assert synced is not None and "message: hi" in synced.source
    assert DEFAULT_PASSWORD not in server.stderr()
    assert KEY not in json.dumps(execution.to_dict())


def test_a_wrong_key_and_an_unknown_flow_give_the_same_404_and_no_execution(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deploy(home, ECHO_FLOW)
    with ServerProcess(home, env=secret_env(WEBHOOK_KEY=KEY)) as server, server.client() as client:
        wrong = client.post("/api/v1/main/executions/webhook/company.team/echo/not-the-key")
        unknown = client.post(f"/api/v1/main/executions/webhook/company.team/nope/{KEY}")
        prefix = client.post(f"/api/v1/main/executions/webhook/company.team/echo/{KEY[:-1]}")
        other_tenant = client.post(f"/api/v1/other/executions/webhook/company.team/echo/{KEY}")
        for response in (wrong, unknown, prefix, other_tenant):
            assert response.status_code == 404
            assert response.content == wrong.content
        traversal = client.post("/api/v1/main/executions/webhook/company.team/echo/..%2F..%2Fx")
        assert traversal.status_code == 404
        long_key = client.post(f"/api/v1/executions/webhook/company.team/echo/{'k' * 5000}")
        assert long_key.status_code == 404
    assert executions(home) == []


def test_a_missing_key_secret_opens_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, ECHO_FLOW)
    with ServerProcess(home) as server, server.client() as client:
        response = client.post("/api/v1/executions/webhook/company.team/echo/")
        assert response.status_code == 404
        response = client.post("/api/v1/executions/webhook/company.team/echo/%20")
        assert response.status_code == 404
    assert executions(home) == []


def test_trigger_body_headers_and_parameters_reach_templates_on_every_url_and_method(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    deploy(home, ECHO_FLOW)
    with ServerProcess(home, env=secret_env(WEBHOOK_KEY=KEY)) as server, server.client() as client:
        ids = []
        for method, prefix in (("POST", "/api/v1/main"), ("PUT", "/api/v1"), ("GET", "/api/v1")):
            response = client.request(
                method,
                f"{prefix}/executions/webhook/company.team/echo/{KEY}?p=1&p=2",
                content=json.dumps({"ref": "refs/heads/main"}) if method != "GET" else None,
                headers={"X-Agent": "tester", "Authorization": "Bearer private-token-1"},
            )
            assert response.status_code == 200, (method, response.text)
            ids.append(response.json()["id"])
        assert (
            client.delete(f"/api/v1/executions/webhook/company.team/echo/{KEY}").status_code == 405
        )
    records = [wait_execution(home, execution_id) for execution_id in ids]
    assert records[0].logs[0].message == 'ref=refs/heads/main agent=tester p=["1","2"]'
    assert records[2].trigger is not None and records[2].trigger["variables"]["body"] is None
    trigger = records[0].trigger
    assert trigger is not None
    assert trigger["variables"]["parameters"] == {"p": ["1", "2"]}
    assert "authorization" not in trigger["variables"]["headers"]
    assert "private-token-1" not in json.dumps(trigger)


def test_a_body_that_is_not_json_is_given_as_text(tmp_path: Path) -> None:
    home = tmp_path / "home"
    message = "ref={{ trigger.body.ref }} agent={{ trigger.headers['x-agent'][0] }} p={{ trigger.parameters.p }}"
    deploy(
        home,
        ECHO_FLOW.replace(
            message, "ref={{ trigger.body }} agent={{ trigger.headers['x-agent'][0] }}"
        ),
    )
    with ServerProcess(home, env=secret_env(WEBHOOK_KEY=KEY)) as server, server.client() as client:
        response = client.post(
            f"/api/v1/executions/webhook/company.team/echo/{KEY}",
            content=b"plain {{ 7*7 }} \xff",
            headers={"X-Agent": "a"},
        )
        execution = wait_execution(home, response.json()["id"])
    assert execution.state == "SUCCESS"
    assert execution.logs[0].message.startswith("ref=plain {{ 7*7 }} \ufffd agent=a")


def test_wait_answers_when_the_execution_has_ended(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, WAIT_FLOW)
    deploy(
        home,
        WAIT_FLOW.replace("waiter", "outputs").replace(
            "wait: true", "wait: true\n    returnOutputs: true"
        ),
    )
    with ServerProcess(home) as server, server.client() as client:
        response = client.post("/api/v1/executions/webhook/company.team/waiter/wait-key-123")
        assert response.status_code == 200
        assert response.json()["state"]["current"] == "SUCCESS"
        assert response.json()["state"]["endDate"]
        outputs = client.post("/api/v1/executions/webhook/company.team/outputs/wait-key-123")
        assert outputs.status_code == 200 and outputs.json() == {"say": {}}


def _signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_github_signed_request_is_accepted_and_a_tampered_one_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, ECHO_FLOW)
    env = secret_env(WEBHOOK_KEY=KEY, GITHUB_WEBHOOK_SECRET="gh-hook-secret-42")
    url = f"/api/v1/executions/webhook/company.team/echo/{KEY}"
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    with ServerProcess(home, env=env) as server, server.client() as client:
        signed = client.post(
            url,
            content=body,
            headers={
                "X-Hub-Signature-256": _signature("gh-hook-secret-42", body),
                "X-Agent": "GitHub-Hookshot",
            },
        )
        assert signed.status_code == 200
        tampered = client.post(
            url,
            content=body.replace(b"main", b"evil"),
            headers={"X-Hub-Signature-256": _signature("gh-hook-secret-42", body)},
        )
        wrong_secret = client.post(
            url, content=body, headers={"X-Hub-Signature-256": _signature("guess", body)}
        )
        garbage = client.post(url, content=body, headers={"X-Hub-Signature-256": "sha256=zz"})
        for response in (tampered, wrong_secret, garbage):
            assert response.status_code == 403
            assert "gh-hook-secret-42" not in response.text
        wait_execution(home, signed.json()["id"])
    assert [r.id for r in executions(home)] == [signed.json()["id"]]
    assert "gh-hook-secret-42" not in server.stderr()


def test_a_disabled_flow_answers_409_only_to_the_right_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    deploy(home, WAIT_FLOW + "disabled: true\n")
    with ServerProcess(home) as server, server.client() as client:
        assert client.post("/api/v1/executions/webhook/company.team/waiter/nope").status_code == 404
        response = client.post("/api/v1/executions/webhook/company.team/waiter/wait-key-123")
        assert response.status_code == 409
    assert executions(home) == []
