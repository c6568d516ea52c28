"""``gitConfig`` and ``cloneSubmodules`` on sync and push: a push's commit identity comes from
``user.name``/``user.email`` when ``authorName``/``authorEmail`` are not set, as a commit in
upstream's configured clone does; what a task without a work tree does not apply is warned
about."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kestra_git_tasks import PushFlows, RunContext, SyncFlows
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote


def push(instance: Instance, tmp_path: Path, url: str, **properties: Any) -> None:
    instance.put_flow(
        "id: a\nnamespace: dev\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
        f"    message: {len(properties)}\n"
    )
    task = PushFlows(
        id="push",
        url=url,
        username="git_user",
        password="s3cr3t-token",
        source_namespace="dev",
        **properties,
    )
    ctx = RunContext.create(instance=instance, home=tmp_path / "home", flow_id="p")
    ctx.task_id = "push"
    task.run(ctx)


def last_author(repo: BareRemote, tmp_path: Path) -> str:
    target = tmp_path / f"back-{len(list(tmp_path.iterdir()))}"
    subprocess.run(
        ["git", "clone", "-q", repo.authenticated_url, str(target)], check=True, capture_output=True
    )
    return subprocess.run(
        ["git", "-C", str(target), "log", "-1", "--format=%an <%ae>|%cn <%ce>"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_git_config_user_sets_the_commit_identity(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    push(
        any_instance,
        tmp_path,
        repo.url,
        git_config={"user.name": "Release Bot", "User.Email": "bot@example.com"},
    )
    assert (
        last_author(repo, tmp_path) == "Release Bot <bot@example.com>|Release Bot <bot@example.com>"
    )


def test_author_properties_win_over_git_config(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    push(
        any_instance,
        tmp_path,
        repo.url,
        author_name="Ada",
        author_email="ada@example.com",
        git_config={"user.name": "Bot", "user.email": "bot@example.com"},
    )
    assert last_author(repo, tmp_path).startswith("Ada <ada@example.com>")


def test_a_git_config_without_an_email_keeps_the_neutral_identity(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    push(any_instance, tmp_path, repo.url, git_config={"user.name": "Bot", "user.email": "  "})
    assert last_author(repo, tmp_path).startswith("kestra-git <kestra-git@localhost>")


def test_what_a_push_does_not_apply_is_warned_about(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x"})
    any_instance.put_flow(
        "id: a\nnamespace: dev\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: hi\n"
    )
    task = PushFlows(
        id="push",
        url=repo.url,
        username="git_user",
        password="s3cr3t-token",
        source_namespace="dev",
        clone_submodules=True,
        git_config={"user.email": "bot@example.com", "core.fileMode": False},
    )
    ctx = RunContext.create(instance=any_instance, home=tmp_path / "home", flow_id="p")
    ctx.task_id = "push"
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    task.run(ctx)
    warnings = [r.message for r in records if r.level == "WARN"]
    assert not any("cloneSubmodules" in w for w in warnings)  # honoured since (issue 13)
    assert any(w.startswith("gitConfig key 'core.fileMode' is not applied") for w in warnings)
    assert not any("user.email" in w for w in warnings)


def test_what_a_sync_does_not_apply_is_warned_about(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/README.md": "x"})
    task = SyncFlows(
        id="sync",
        url=repo.url,
        username="git_user",
        password="s3cr3t-token",
        target_namespace="prod",
        clone_submodules=True,
        git_config={"http.extraHeader": "X: y"},
    )
    ctx = RunContext.create(instance=any_instance, home=tmp_path / "home", flow_id="s")
    ctx.task_id = "sync"
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    task.run(ctx)
    warnings = [r.message for r in records if r.level == "WARN"]
    assert not any("cloneSubmodules" in w for w in warnings)  # honoured since (issue 13)
    assert any(w.startswith("gitConfig key 'http.extraHeader' is not applied") for w in warnings)
