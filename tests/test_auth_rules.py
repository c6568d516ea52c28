"""Kestra's ``auth`` rules, with its messages, on every Git task; Clone accepts ``kestraUrl``
and ``auth`` as upstream's does (it does not talk to Kestra)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kestra_git_tasks import Clone, RunContext
from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.flow import validate_source

if TYPE_CHECKING:
    from conftest import MakeRemote

BOTH = "Cannot use both API Token authentication and HTTP Basic authentication"
PAIR = "Both username and password are required for HTTP Basic authentication"


def git_flow(task_type: str, auth: str) -> str:
    extra = "    targetNamespace: prod\n" if "Sync" in task_type else ""
    return (
        f"id: f\nnamespace: n\ntasks:\n  - id: g\n    type: io.kestra.plugin.git.{task_type}\n"
        f"    url: https://example.com/r.git\n{extra}    kestraUrl: http://localhost:8080\n"
        f"    auth: {auth}\n"
    )


@pytest.mark.parametrize("task_type", ["Clone", "SyncFlows", "PushFlows", "PushNamespaceFiles"])
@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("{apiToken: t, username: u, password: p}", BOTH),
        ("{apiToken: t, password: p}", BOTH),
        ("{apiToken: '', username: u, password: p}", BOTH),
        ("{username: u}", PAIR),
        ("{password: p}", PAIR),
        ("{apiToken: t}", None),
        ("{username: u, password: p}", None),
        ("{auto: false}", None),
    ],
)
def test_auth_combinations_follow_kestras_rules(
    task_type: str, auth: str, message: str | None
) -> None:
    problems = validate_source(git_flow(task_type, auth))
    if message is None:
        assert problems == []
    else:
        assert len(problems) == 1 and message in problems[0] and "property 'auth'" in problems[0]
        assert "Value error" not in problems[0]


def test_clone_accepts_kestra_url_and_auth_and_still_clones(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"app.py": "v = 1\n"})
    ctx = RunContext.create(home=tmp_path / "home")
    ctx.working_dir = tmp_path / "work"
    ctx.working_dir.mkdir()
    ctx.task_id = "clone"
    task = Clone(
        id="clone",
        url=bare.url,
        username="git_user",
        password="s3cr3t-token",
        kestra_url="http://127.0.0.1:9",  # never contacted
        auth={"username": "admin@example.com", "password": "pw"},
    )
    output = task.run(ctx)
    assert isinstance(output, Clone.Output)
    assert (Path(output.directory) / "app.py").read_text() == "v = 1\n"


def test_a_task_built_in_python_gets_the_same_rule() -> None:
    with pytest.raises(ConfigError, match=PAIR):
        Clone(id="c", url="https://example.com/r.git", auth={"username": "u"})
