"""The Python API as documented: `LocalInstance` takes a str or a Path, tasks take snake_case
(and camelCase from a mapping), one task runs with `RunContext.create`, and each task's `run`
returns its own `Output` class."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeRemote
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME

from kestra_git_tasks import (
    ConfigError,
    LocalInstance,
    Log,
    RunContext,
    ShellCommands,
    SyncFlows,
)
from kestra_git_tasks.flow import validate_source

LOG = "io.kestra.plugin.core.log.Log"
FLOW = f"id: hello\nnamespace: prod\ntasks:\n  - id: say\n    type: {LOG}\n    message: hi\n"


def test_local_instance_takes_a_str_or_a_path(tmp_path: Path) -> None:
    with LocalInstance(str(tmp_path / "a")) as by_text:
        by_text.write_file("dev", "/x.txt", b"x")
    with LocalInstance(tmp_path / "a") as by_path:
        assert by_path.read_file("dev", "/x.txt") == b"x"
    assert (tmp_path / "a" / "instance.db").is_file()


def test_tasks_take_snake_case_and_camel_case_alike() -> None:
    snake = SyncFlows(
        id="s", url="https://example.com/r.git", target_namespace="prod", dry_run=True
    )
    camel = SyncFlows(
        **{"id": "s", "url": "https://example.com/r.git", "targetNamespace": "prod", "dryRun": True}
    )
    assert snake == camel and snake.target_namespace == "prod" and snake.dry_run


@pytest.mark.parametrize("key", ["targetNamespce", "target_namespce", "TARGETNAMESPACE"])
def test_a_misspelt_python_keyword_is_a_config_error_with_a_hint(key: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown property '{key}'"):
        SyncFlows(**{"id": "s", "url": "https://example.com/r.git", key: "prod"})


def test_one_task_runs_from_python_with_a_typed_output(tmp_path: Path, remote: MakeRemote) -> None:
    repo = remote(files={"flows/hello.yml": FLOW})
    home = tmp_path / "home"
    with (
        LocalInstance(str(home), validator=validate_source) as instance,
        RunContext.create(instance=instance, home=str(home)) as ctx,
    ):
        sync = SyncFlows(
            id="sync",
            url=repo.url,
            username=DEFAULT_USERNAME,
            password=DEFAULT_PASSWORD,
            git_directory="flows",
            target_namespace="prod",
        )
        output = sync.run(ctx)
        assert type(output) is SyncFlows.Output
        assert [(r["flowId"], r["syncState"]) for r in output.flows] == [("hello", "ADDED")]
        assert output.commit_id == repo.head("main")
        saved = instance.get_flow("prod", "hello")
        assert saved is not None and saved.source == FLOW


def test_each_task_returns_its_own_output_class(tmp_path: Path) -> None:
    with RunContext.create(home=tmp_path / "home") as ctx:
        assert Log(id="say", message="hi").run(ctx) is None  # type: ignore[func-returns-value]
        output = ShellCommands(id="sh", commands=["echo hi"]).run(ctx)
        assert type(output) is ShellCommands.Output
        assert output.exit_code == 0
