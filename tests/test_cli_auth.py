"""A refused login says how to fix it where it was given: `--server-*` flags only for `--server`.

The instance layer's message names the credentials in general; the CLI adds the flags when the
server came from `--server`. A task's own `kestraUrl` + `auth` is fixed in the flow, so its 401
must not send the user to `--server-user`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from fakekestra import FakeKestra
from pytest_httpserver import HTTPServer

from kestra_git_tasks.cli import cli

if TYPE_CHECKING:
    from conftest import MakeRemote

LOG = "io.kestra.plugin.core.log.Log"
FLAGS = "--server-user"
NEUTRAL = "check the credentials for this server"


def invoke(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={"KESTRA_GIT_HOME": str(home)})
    return result.exit_code, result.stdout, result.stderr


def server_args(fake: FakeKestra, password: str) -> list[str]:
    return [
        "--server",
        fake.url,
        "--server-user",
        fake.username or "",
        "--server-password",
        password,
    ]


def sync_flow(tmp_path: Path, repo_url: str, kestra: tuple[str, str, str] | None = None) -> Path:
    """A SyncFlows flow file; ``kestra`` = (kestraUrl, username, password) of the task."""
    text = (
        "id: sync\nnamespace: system\ntasks:\n  - id: git\n    type: io.kestra.plugin.git.SyncFlows\n"
        f"    url: {repo_url}\n    username: git_user\n    password: s3cr3t-token\n"
        "    targetNamespace: prod\n"
    )
    if kestra:
        url, user, password = kestra
        text += (
            f"    kestraUrl: {url}\n    auth:\n      username: {user}\n      password: {password}\n"
        )
    path = tmp_path / "sync.yml"
    path.write_text(text)
    return path


@pytest.fixture
def other_kestra() -> Iterator[FakeKestra]:
    """A second fake Kestra server, on its own port."""
    server = HTTPServer()
    server.start()
    fake = FakeKestra().install(server)
    yield fake
    server.check_handler_errors()
    server.stop()


def test_a_refused_server_flag_names_the_flags(tmp_path: Path, fake_kestra: FakeKestra) -> None:
    code, _, err = invoke(
        tmp_path / "home", "flows", "list", *server_args(fake_kestra, "wrong-password")
    )
    assert code == 1 and err.count("\n") == 1
    assert "401" in err and NEUTRAL in err and FLAGS in err and "--server-token" in err
    assert "wrong-password" not in err


def test_run_against_a_refusing_server_flag_names_the_flags(
    tmp_path: Path, fake_kestra: FakeKestra, remote: MakeRemote
) -> None:
    repo = remote(
        files={
            "_flows/hello.yml": f"id: hello\nnamespace: x\ntasks:\n  - id: l\n    type: {LOG}\n    message: hi\n"
        }
    )
    flow_file = sync_flow(tmp_path, repo.url)
    code, _, err = invoke(
        tmp_path / "home",
        "run",
        str(flow_file),
        "--quiet",
        *server_args(fake_kestra, "wrong-password"),
    )
    assert code == 1
    assert "401" in err and FLAGS in err and "wrong-password" not in err


def test_a_task_kestra_url_refused_does_not_name_the_cli_flags(
    tmp_path: Path, fake_kestra: FakeKestra, remote: MakeRemote
) -> None:
    repo = remote(
        files={
            "_flows/hello.yml": f"id: hello\nnamespace: x\ntasks:\n  - id: l\n    type: {LOG}\n    message: hi\n"
        }
    )
    kestra = (fake_kestra.url, fake_kestra.username or "", "wrong-password")
    code, _, err = invoke(
        tmp_path / "home", "run", str(sync_flow(tmp_path, repo.url, kestra)), "-q"
    )
    assert code == 1
    assert "401" in err and NEUTRAL in err
    assert FLAGS not in err and "--server" not in err and "wrong-password" not in err


def test_a_task_kestra_url_refused_under_run_server_does_not_name_the_flags(
    tmp_path: Path, fake_kestra: FakeKestra, other_kestra: FakeKestra, remote: MakeRemote
) -> None:
    """`--server` works, the task's own server refuses: the flags would not fix it."""
    repo = remote(
        files={
            "_flows/hello.yml": f"id: hello\nnamespace: x\ntasks:\n  - id: l\n    type: {LOG}\n    message: hi\n"
        }
    )
    kestra = (other_kestra.url, other_kestra.username or "", "wrong-password")
    code, _, err = invoke(
        tmp_path / "home",
        "run",
        str(sync_flow(tmp_path, repo.url, kestra)),
        "-q",
        *server_args(fake_kestra, fake_kestra.password or ""),
    )
    assert code == 1
    assert "401" in err and other_kestra.url in err and NEUTRAL in err
    assert FLAGS not in err
