"""Tasks read the environment through their RunContext, never from the process: the context
holds the environ it was created with, and the Kestra tenant read from it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_httpserver import HTTPServer

from kestra_git_tasks import RunContext, ShellCommands, SyncFlows
from kestra_git_tasks.tasks.git._kestra_api import KestraAuth

if TYPE_CHECKING:
    import pytest
    from conftest import MakeRemote

from fakekestra import FakeKestra

FLOW = "id: hello\nnamespace: x\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def test_commands_get_the_contexts_environment_not_the_process_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONLY_IN_PROCESS", "process")
    environ = {"PATH": os.environ["PATH"], "ONLY_IN_CTX": "ctx", "SECRET_X": "eA=="}
    ctx = RunContext.create(home=tmp_path / "home", environ=environ)
    ctx.task_id = "cmd"
    script = (
        'echo "::{\\"outputs\\":{\\"c\\":\\"${ONLY_IN_CTX:-}\\",\\"p\\":\\"${ONLY_IN_PROCESS:-}\\",'
        '\\"s\\":\\"${SECRET_X:-}\\"}}::"'
    )
    output = ShellCommands(id="cmd", commands=[script]).run(ctx)
    assert isinstance(output, ShellCommands.Output)
    assert output.vars == {"c": "ctx", "p": "", "s": ""}


def test_tenant_comes_from_the_contexts_environment(tmp_path: Path) -> None:
    assert RunContext.create(home=tmp_path, environ={}).tenant == "main"
    assert RunContext.create(home=tmp_path, environ={"KESTRA_TENANT": "acme"}).tenant == "acme"
    assert RunContext.create(home=tmp_path, environ={"KESTRA_TENANT": ""}).tenant is None


def test_kestra_url_task_uses_the_tenant_of_its_context(
    tmp_path: Path, httpserver: HTTPServer, remote: MakeRemote
) -> None:
    fake = FakeKestra(tenant="acme").install(httpserver)
    repo = remote(files={"_flows/hello.yml": FLOW})
    ctx = RunContext.create(home=tmp_path / "home", environ={"KESTRA_TENANT": "acme"})
    ctx.task_id = "sync"
    auth = KestraAuth(username=fake.username, password=fake.password)
    task = SyncFlows(
        id="sync",
        url=repo.url,
        username="git_user",
        password="s3cr3t-token",
        target_namespace="prod",
        kestra_url=fake.url,
        auth=auth,
    )
    task.run(ctx)
    httpserver.check_handler_errors()
    assert set(fake.live_flows()) == {("prod", "hello")}
    assert any(path.startswith("/api/v1/acme/") for _, path in fake.requests)
