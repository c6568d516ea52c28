"""What PushFlows and PushNamespaceFiles may delete from Git.

* An empty source (an empty or misspelt namespace, globs matching nothing) never deletes what
  is in scope unless ``allowEmpty: true``; the error names ``allowEmpty``.
* Every deletion is a diff row and a WARN log line naming the path; nothing is deleted that is
  not a row: a file the new tree would have to drop to make room (a README under a folder named
  like a flow file, a file named like a child-namespace folder) stops the push instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kestra_git_tasks import RunContext
from kestra_git_tasks.errors import ConfigError
from kestra_git_tasks.instance.base import Instance, LogRecord
from kestra_git_tasks.tasks.git.push_flows import PushFlows
from kestra_git_tasks.tasks.git.push_namespace_files import PushNamespaceFiles

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


def flow(flow_id: str, namespace: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def run(
    task_class: type[PushFlows] | type[PushNamespaceFiles],
    instance: Instance,
    home: Path,
    url: str,
    logs: list[LogRecord] | None = None,
    **properties: Any,
) -> Any:
    task = task_class(id="push", url=url, username=USER, password=PASSWORD, **properties)
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="push")
    ctx.task_id = "push"
    if logs is not None:
        ctx.sinks.append(logs.append)
    return task.run(ctx)


def assert_rows_cover_every_change(
    before: dict[str, bytes], after: dict[str, bytes], rows: list[dict[str, str]]
) -> None:
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert changed == {row["file"] for row in rows}


GIT_FLOWS = {
    "_flows/a.yml": flow("a", "dev"),
    "_flows/b.yml": flow("b", "dev"),
    "README.md": "repo\n",
}


# -- an empty source ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "properties",
    [
        {"source_namespace": "dev"},  # empty
        {"source_namespace": "dve"},  # misspelt
        {"source_namespace": "prod", "flows": "[ab]"},  # globs matching no flow of prod
    ],
    ids=["empty", "misspelt", "no_glob_match"],
)
@pytest.mark.parametrize("dry_run", [False, True])
def test_push_flows_from_an_empty_source_refuses_to_delete_without_allow_empty(
    properties: dict[str, Any],
    dry_run: bool,
    remote: MakeRemote,
    instance: Instance,
    tmp_path: Path,
) -> None:
    instance.put_flow(flow("other", "prod"))
    repo = remote(files=GIT_FLOWS)
    head = repo.head("main")
    with pytest.raises(ConfigError, match=r"allowEmpty: true") as caught:
        run(PushFlows, instance, tmp_path / "home", repo.url, dry_run=dry_run, **properties)
    assert "2 file(s)" in str(caught.value)
    assert repo.head("main") == head


def test_push_flows_from_an_empty_source_deletes_with_allow_empty_and_warns_each_path(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files=GIT_FLOWS)
    before = repo.files("main")
    logs: list[LogRecord] = []
    output = run(
        PushFlows,
        instance,
        tmp_path / "home",
        repo.url,
        logs,
        source_namespace="dev",
        allow_empty=True,
    )
    after = repo.files("main")
    assert sorted(after) == ["README.md"]
    assert_rows_cover_every_change(before, after, output.flows)
    warnings = [log.message for log in logs if log.level == "WARN"]
    assert any("_flows/a.yml" in m for m in warnings)
    assert any("_flows/b.yml" in m for m in warnings)


def test_push_with_something_to_push_still_deletes_stale_files_and_warns(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files=GIT_FLOWS)
    logs: list[LogRecord] = []
    output = run(PushFlows, instance, tmp_path / "home", repo.url, logs, source_namespace="dev")
    assert sorted(repo.files("main")) == ["README.md", "_flows/a.yml"]
    assert [row["file"] for row in output.flows] == ["_flows/b.yml"]
    assert [log.message for log in logs if log.level == "WARN"] == [
        "deleted _flows/b.yml from branch 'main'"
    ]


@pytest.mark.parametrize("dry_run", [False, True])
def test_push_namespace_files_from_an_empty_namespace_refuses_without_allow_empty(
    dry_run: bool, remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"_files/a.txt": "a", "_files/sub/b.bin": b"\x00\xff"})
    head = repo.head("main")
    with pytest.raises(ConfigError, match=r"allowEmpty: true"):
        run(
            PushNamespaceFiles,
            instance,
            tmp_path / "home",
            repo.url,
            namespace="dve",
            dry_run=dry_run,
        )
    assert repo.head("main") == head
    output = run(
        PushNamespaceFiles,
        instance,
        tmp_path / "home",
        repo.url,
        namespace="dve",
        allow_empty=True,
    )
    assert repo.files("main") == {}
    assert sorted(row["file"] for row in output.files) == ["_files/a.txt", "_files/sub/b.bin"]


def test_an_empty_source_with_nothing_in_scope_is_not_an_error(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    repo = remote(files={"README.md": "x", "_flows/notes.txt": "not a flow"})
    output = run(PushFlows, instance, tmp_path / "home", repo.url, source_namespace="dev")
    assert output.commit_id is None and output.flows == []


# -- nothing deleted that is not a row ------------------------------------------------------
def assert_refused_and_untouched(repo: BareRemote, head: str | None, exc: ConfigError) -> None:
    assert repo.head("main") == head
    assert "would replace" in str(exc)


def test_a_readme_under_a_folder_named_like_a_flow_file_stops_the_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"_flows/a.yml/README": "notes about a\n"})
    head = repo.head("main")
    with pytest.raises(ConfigError) as caught:
        run(PushFlows, instance, tmp_path / "home", repo.url, source_namespace="dev")
    assert "_flows/a.yml/README" in str(caught.value) and "_flows/a.yml" in str(caught.value)
    assert_refused_and_untouched(repo, head, caught.value)


def test_a_file_named_like_a_child_namespace_folder_stops_the_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("x", "dev.team"))
    repo = remote(files={"_flows/team": "a file, not a folder\n"})
    head = repo.head("main")
    with pytest.raises(ConfigError) as caught:
        run(
            PushFlows,
            instance,
            tmp_path / "home",
            repo.url,
            source_namespace="dev",
            include_child_namespaces=True,
        )
    assert "_flows/team" in str(caught.value) and "_flows/team/x.yml" in str(caught.value)
    assert_refused_and_untouched(repo, head, caught.value)


def test_a_file_where_git_directory_should_be_stops_the_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"_flows": "a file named like gitDirectory\n"})
    head = repo.head("main")
    with pytest.raises(ConfigError) as caught:
        run(PushFlows, instance, tmp_path / "home", repo.url, source_namespace="dev")
    assert "'_flows'" in str(caught.value)
    assert_refused_and_untouched(repo, head, caught.value)


def test_a_namespace_file_replacing_a_git_folder_stops_the_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.write_file("dev", "/data", b"file")
    repo = remote(files={"_files/data/keep.csv": "a,b\n"})
    head = repo.head("main")
    with pytest.raises(ConfigError) as caught:
        run(
            PushNamespaceFiles, instance, tmp_path / "home", repo.url, namespace="dev", delete=False
        )
    assert "_files/data/keep.csv" in str(caught.value)
    assert_refused_and_untouched(repo, head, caught.value)


def test_push_flows_deletes_only_flow_files_of_namespaces_in_scope(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    instance.put_flow(flow("kept", "dev"))
    repo = remote(
        files={
            "_flows/kept.yml": flow("kept", "dev"),
            "_flows/gone.yml": flow("gone", "dev"),
            "_flows/team/README.md": "docs",
            "_flows/team/gone.yaml": flow("gone", "dev.team"),
            "_flows/Not A Namespace/x.yml": "not ours",
            "_flows/not a flow id.yml": "not ours",
        }
    )
    before = repo.files("main")
    output = run(
        PushFlows,
        instance,
        tmp_path / "home",
        repo.url,
        source_namespace="dev",
        include_child_namespaces=True,
    )
    after = repo.files("main")
    assert sorted(before.keys() - after.keys()) == ["_flows/gone.yml", "_flows/team/gone.yaml"]
    assert_rows_cover_every_change(before, after, output.flows)


def test_a_stale_flow_in_a_folder_named_like_a_new_flow_file_stops_the_push(
    remote: MakeRemote, instance: Instance, tmp_path: Path
) -> None:
    # `_flows/a.yml/b.yml` is a flow file of namespace dev.a.yml, gone from the instance
    instance.put_flow(flow("a", "dev"))
    repo = remote(files={"_flows/a.yml/b.yml": flow("b", "dev.a.yml")})
    head = repo.head("main")
    with pytest.raises(ConfigError) as caught:
        run(
            PushFlows,
            instance,
            tmp_path / "home",
            repo.url,
            source_namespace="dev",
            include_child_namespaces=True,
        )
    assert "_flows/a.yml/b.yml" in str(caught.value)
    assert_refused_and_untouched(repo, head, caught.value)
