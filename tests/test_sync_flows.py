"""SyncFlows against real repositories served by the real smart-HTTP git server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows, run_flow
from kestra_git_tasks.errors import (
    ConfigError,
    FlowFileError,
    FlowValidationError,
    GitAuthError,
    GitDirectoryNotFoundError,
    GitRefNotFoundError,
    KestraGitError,
)
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.flowfile import prepare_flow
from kestra_git_tasks.instance.base import Instance

if TYPE_CHECKING:
    from conftest import MakeRemote
    from fakekestra import FakeKestra
    from gitserver import GitHttpServer

    from kestra_git_tasks.instance.kestra import KestraInstance

USER, PASSWORD = "git_user", "s3cr3t-token"
ROOT = Path(__file__).resolve().parent.parent


def flow(flow_id: str, namespace: str = "anything", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    """The embedded instance, then the fake Kestra server (see conftest.any_instance)."""
    return any_instance


def sync(
    instance: LocalInstance,
    home: Path,
    url: str,
    *,
    running: tuple[str, str] = ("system", "sync"),
    **properties: Any,
) -> SyncFlows.Output:
    properties.setdefault("target_namespace", "prod")
    task = SyncFlows(id="sync", url=url, username=USER, password=PASSWORD, **properties)
    ctx = RunContext.create(instance=instance, home=home, namespace=running[0], flow_id=running[1])
    ctx.task_id = "sync"
    output = task.run(ctx)
    assert isinstance(output, SyncFlows.Output)
    return output


def states(output: SyncFlows.Output) -> list[tuple[str | None, str, str, str, int]]:
    return [
        (r["gitPath"], r["syncState"], r["namespace"], r["flowId"], r["revision"])
        for r in output.flows
    ]


def live_flows(instance: LocalInstance, namespace: str = "prod") -> dict[str, int]:
    return {
        f"{r.namespace}/{r.id}": r.revision
        for r in instance.list_flows(namespace, include_children=True)
    }


# -- adding, updating, unchanged ----------------------------------------------------------------
def test_sync_flows_adds_flows_into_target_namespace_rewriting_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a", "dev"), "_flows/b.yaml": flow("b", "other")})
    output = sync(instance, home, repo.url)
    assert states(output) == [
        ("_flows/a.yml", "ADDED", "prod", "a", 1),
        ("_flows/b.yaml", "ADDED", "prod", "b", 1),
    ]
    saved = instance.get_flow("prod", "a")
    assert saved is not None and saved.source == flow("a", "prod")
    assert output.commit_id == repo.head()


def test_second_sync_with_nothing_changed_rewrites_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path, git_server: GitHttpServer
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, home, repo.url)
    git_server.requests.reset()
    output = sync(instance, home, repo.url)
    assert states(output) == [("_flows/a.yml", "UNCHANGED", "prod", "a", 1)]
    assert len(instance.flow_revisions("prod", "a")) == 1
    assert git_server.requests.count(service="git-upload-pack", method="POST") == 0


def test_changed_flow_is_updated_and_keeps_history(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/b.yml": flow("b")})
    sync(instance, home, repo.url)
    repo.commit({"_flows/a.yml": flow("a", message="changed")}, "change a")
    output = sync(instance, home, repo.url)
    assert states(output) == [
        ("_flows/a.yml", "UPDATED", "prod", "a", 2),
        ("_flows/b.yml", "UNCHANGED", "prod", "b", 1),
    ]
    assert [r.revision for r in instance.flow_revisions("prod", "a")] == [1, 2]


def test_unchanged_remote_but_instance_edited_is_resynced(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, home, repo.url)
    instance.put_flow(flow("a", "prod", message="edited in the UI"))
    output = sync(instance, home, repo.url)
    assert states(output) == [("_flows/a.yml", "UPDATED", "prod", "a", 3)]
    assert output.drifted == ["prod/a"]
    revisions = instance.flow_revisions("prod", "a")
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert "edited in the UI" in revisions[1].source  # the drifted copy is kept in history
    assert instance.get_flow("prod", "a").source == flow("a", "prod")  # type: ignore[union-attr]


def test_flow_identity_comes_from_the_yaml_not_the_file_name(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/some-file-name.yml": flow("real_id")})
    output = sync(instance, home, repo.url)
    assert states(output) == [("_flows/some-file-name.yml", "ADDED", "prod", "real_id", 1)]


def test_two_files_declaring_the_same_flow_fail_before_any_write(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("same"), "_flows/b.yml": flow("same", message="2")})
    with pytest.raises(
        FlowFileError, match=r"_flows/b\.yml and _flows/a\.yml both declare flow prod/same"
    ):
        sync(instance, home, repo.url)
    assert live_flows(instance) == {}


# -- child namespaces and scope -----------------------------------------------------------------
def test_sub_folders_map_to_child_namespaces_with_include_child_namespaces(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(
        files={
            "_flows/top.yml": flow("top"),
            "_flows/team/a.yml": flow("a"),
            "_flows/team/deep/b.yml": flow("b"),
        }
    )
    output = sync(instance, home, repo.url, include_child_namespaces=True)
    assert states(output) == [
        ("_flows/team/a.yml", "ADDED", "prod.team", "a", 1),
        ("_flows/team/deep/b.yml", "ADDED", "prod.team.deep", "b", 1),
        ("_flows/top.yml", "ADDED", "prod", "top", 1),
    ]


def test_sub_folders_are_ignored_without_include_child_namespaces(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/top.yml": flow("top"), "_flows/team/a.yml": flow("a")})
    output = sync(instance, home, repo.url)
    assert states(output) == [("_flows/top.yml", "ADDED", "prod", "top", 1)]


def test_delete_scope_is_exact_without_children(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("old", "prod"))
    instance.put_flow(flow("child_old", "prod.team"))
    instance.put_flow(flow("neighbour", "production"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    output = sync(instance, home, repo.url, delete=True)
    assert states(output) == [
        (None, "DELETED", "prod", "old", 1),
        ("_flows/a.yml", "ADDED", "prod", "a", 1),
    ]
    assert set(live_flows(instance)) == {"prod/a", "prod.team/child_old"}
    assert instance.get_flow("production", "neighbour") is not None


def test_delete_scope_includes_children_with_include_child_namespaces(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("child_old", "prod.team"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    output = sync(instance, home, repo.url, delete=True, include_child_namespaces=True)
    assert (None, "DELETED", "prod.team", "child_old", 1) in states(output)
    assert set(live_flows(instance)) == {"prod/a"}
    assert [r.deleted for r in instance.flow_revisions("prod.team", "child_old")] == [False, True]


def test_without_delete_nothing_is_deleted(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("old", "prod"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, home, repo.url)
    assert set(live_flows(instance)) == {"prod/a", "prod/old"}


def test_running_flow_is_never_deleted(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("sync_from_git", "prod"))
    instance.put_flow(flow("other", "prod"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    output = sync(instance, home, repo.url, delete=True, running=("prod", "sync_from_git"))
    assert set(live_flows(instance)) == {"prod/a", "prod/sync_from_git"}
    assert [r["flowId"] for r in output.flows if r["syncState"] == "DELETED"] == ["other"]


def test_system_namespace_is_changed_only_when_it_is_the_target(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("old_system_flow", "system"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(
        instance,
        home,
        repo.url,
        delete=True,
        target_namespace="system",
        running=("system", "sync_from_git"),
    )
    assert live_flows(instance, "system") == {"system/a": 1}


def test_empty_git_side_does_not_delete_everything_unless_allow_empty(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("precious", "prod"))
    repo = remote(files={"_flows/.gitkeep": ""})
    with pytest.raises(ConfigError, match=r"refusing to delete all 1 item.*allowEmpty: true"):
        sync(instance, home, repo.url, delete=True)
    assert set(live_flows(instance)) == {"prod/precious"}
    output = sync(instance, home, repo.url, delete=True, allow_empty=True)
    assert states(output) == [(None, "DELETED", "prod", "precious", 1)]
    assert live_flows(instance) == {}


def test_missing_directory_with_fail_on_missing_directory_false_is_guarded_too(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("precious", "prod"))
    repo = remote(files={"README.md": "no flows here"})
    with pytest.raises(ConfigError, match="allowEmpty"):
        sync(instance, home, repo.url, delete=True, fail_on_missing_directory=False)
    assert set(live_flows(instance)) == {"prod/precious"}


# -- what counts as a flow, and .kestraignore --------------------------------------------------
def test_directory_with_readme_broken_flow_and_foreign_namespace(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    """SPEC: only .yml/.yaml are flows (the README is skipped); a broken flow fails the whole
    sync before any write, naming the file; a flow declaring another namespace lands in the
    target namespace."""
    files = {
        "_flows/README.md": "# Our flows\n",
        "_flows/broken.yml": "id: broken\nnamespace: x\ntasks: []\n",
        "_flows/foreign.yml": flow("foreign", "somewhere.else"),
    }
    repo = remote(files=files)
    with pytest.raises(FlowValidationError) as caught:
        sync(instance, home, repo.url)
    assert str(caught.value).startswith("Invalid flow imported from Git (_flows/broken.yml): ")
    assert "'tasks' must be a non-empty list" in str(caught.value)
    assert live_flows(instance) == {}
    output = sync(instance, home, repo.url, ignore_invalid_flows=True)
    assert states(output) == [("_flows/foreign.yml", "ADDED", "prod", "foreign", 1)]


def test_invalid_flow_skipped_with_ignore_invalid_flows_is_not_deleted(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("keep_me", "prod"))
    repo = remote(
        files={
            "_flows/keep_me.yml": "id: keep_me\nnamespace: prod\ntasks:\n  - id: bad id\n    type: x\n",
            "_flows/a.yml": flow("a"),
        }
    )
    output = sync(instance, home, repo.url, delete=True, ignore_invalid_flows=True)
    assert set(live_flows(instance)) == {"prod/a", "prod/keep_me"}
    assert all(r["syncState"] != "DELETED" for r in output.flows)


def test_flows_of_plugins_we_do_not_implement_are_synced(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    source = (
        "id: etl\nnamespace: x\ntasks:\n  - id: query\n"
        "    type: io.kestra.plugin.jdbc.postgresql.Query\n    sql: select 1\n"
    )
    repo = remote(files={"_flows/etl.yml": source})
    assert states(sync(instance, home, repo.url)) == [("_flows/etl.yml", "ADDED", "prod", "etl", 1)]


def test_kestraignore_at_the_root_of_git_directory_excludes_paths(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(
        files={
            "_flows/.kestraignore": "drafts/\n*.tmp.yml\n",
            "_flows/a.yml": flow("a"),
            "_flows/b.tmp.yml": flow("b"),
            "_flows/drafts/c.yml": flow("c"),
            "_flows/team/.gitignore": "x\n",
            "_flows/team/d.yml": flow("d"),
        }
    )
    output = sync(instance, home, repo.url, include_child_namespaces=True)
    assert [r["flowId"] for r in output.flows] == ["a", "d"]


def test_custom_git_directory_and_repository_root(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"flows/prod/a.yml": flow("a"), "root.yml": flow("r")})
    assert [
        r["gitPath"] for r in sync(instance, home, repo.url, git_directory="flows/prod/").flows
    ] == ["flows/prod/a.yml"]
    assert [
        r["gitPath"]
        for r in sync(instance, home, repo.url, git_directory=".", target_namespace="root").flows
    ] == ["root.yml"]


# -- errors -------------------------------------------------------------------------------------
def test_missing_directory_fails_with_kestras_text(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"other/a.yml": flow("a")})
    with pytest.raises(
        GitDirectoryNotFoundError,
        match=r"^The directory '_flows' was not found in the git repository\. Verify if the path exists in the specified branch 'main'\.",
    ):
        sync(instance, home, repo.url)


def test_git_directory_that_is_a_file_fails(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows": "not a folder"})
    with pytest.raises(GitDirectoryNotFoundError, match="exists but is a file, not a directory"):
        sync(instance, home, repo.url)


def test_missing_branch_is_an_error_naming_it(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    with pytest.raises(GitRefNotFoundError, match="'release'"):
        sync(instance, home, repo.url, branch="release")
    assert live_flows(instance) == {}


def test_wrong_password_fails_fast_and_changes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("old", "prod"))
    repo = remote(files={"_flows/a.yml": flow("a")})
    task = SyncFlows(
        id="sync",
        url=repo.url,
        username=USER,
        password="wrong-password",
        target_namespace="prod",
        delete=True,
    )
    ctx = RunContext.create(instance=instance, home=home)
    started = time.monotonic()
    with pytest.raises(GitAuthError) as caught:
        task.run(ctx)
    assert time.monotonic() - started < 2.0
    assert "wrong-password" not in str(caught.value)
    assert live_flows(instance) == {"prod/old": 1}


# -- dry run, outputs ---------------------------------------------------------------------------
def test_dry_run_reports_the_same_rows_and_writes_nothing(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    instance.put_flow(flow("old", "prod"))
    instance.put_flow(flow("a", "prod", message="before"))
    repo = remote(files={"_flows/a.yml": flow("a"), "_flows/b.yml": flow("b")})
    planned = sync(instance, home, repo.url, delete=True, dry_run=True)
    assert live_flows(instance) == {"prod/a": 1, "prod/old": 1}
    applied = sync(instance, home, repo.url, delete=True)
    assert planned.flows == applied.flows
    assert states(applied) == [
        (None, "DELETED", "prod", "old", 1),
        ("_flows/a.yml", "UPDATED", "prod", "a", 2),
        ("_flows/b.yml", "ADDED", "prod", "b", 1),
    ]


def test_diff_file_holds_the_rows_as_json_lines(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    output = sync(instance, home, repo.url)
    lines = Path(output.diff_file).read_text().splitlines()
    assert [json.loads(line) for line in lines] == output.flows
    assert list(output.flows[0]) == ["gitPath", "syncState", "flowId", "namespace", "revision"]


def test_rewrite_namespace_touches_only_the_top_level_key() -> None:
    source = (
        "id: parent\nnamespace:   old.ns   # where it lives\ntasks:\n  - id: call\n"
        "    type: io.kestra.plugin.core.flow.Subflow\n    namespace: other.ns\n    flowId: child\n"
    )
    rewritten = prepare_flow(source, "prod").source
    assert rewritten.splitlines()[1] == "namespace: prod   # where it lives"
    assert "    namespace: other.ns" in rewritten
    assert prepare_flow("id: a\ntasks: []\n", "prod").source == "id: a\ntasks: []\n"
    assert prepare_flow("id: a\r\nnamespace: x\r\n", "p").source == "id: a\r\nnamespace: p\r\n"


# -- all or nothing, even when killed -----------------------------------------------------------
KILL_SCRIPT = """
import sys
from pathlib import Path
from kestra_git_tasks import LocalInstance, RunContext, SyncFlows
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.instance.base import Instance

home, url = Path(sys.argv[1]), sys.argv[2]
with LocalInstance(home, validator=validate_source) as instance:
    ctx = RunContext.create(instance=instance, home=home)
    ctx.sinks.append(lambda log: print(log.message, flush=True))
    SyncFlows(id="sync", url=url, username="git_user", password="s3cr3t-token",
              target_namespace="prod", delete=True).run(ctx)
print("finished", flush=True)
"""


def test_sync_killed_during_apply_leaves_the_instance_as_it_was(
    remote: MakeRemote, home: Path, tmp_path: Path
) -> None:
    files = {f"_flows/f{i:04d}.yml": flow(f"f{i:04d}", message="x" * 2000) for i in range(3000)}
    repo = remote(files=files)
    with LocalInstance(home, validator=validate_source) as instance:
        instance.put_flow(flow("old", "prod"))
    script = tmp_path / "sync_child.py"
    script.write_text(KILL_SCRIPT)
    with subprocess.Popen(
        [sys.executable, str(script), str(home), repo.url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("applying"):
                time.sleep(0.01)  # the transaction is open and being written (3,000 puts: ~40 ms)
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    with LocalInstance(home, validator=validate_source) as instance:
        assert live_flows(instance) == {"prod/old": 1}
        assert len(instance.flow_revisions("prod", "f0000")) == 0
    with sqlite3.connect(home / "instance.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finished = subprocess.run(
        [sys.executable, str(script), str(home), repo.url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    with LocalInstance(home) as instance:
        flows = live_flows(instance)
    assert len(flows) == 3000 and "prod/old" not in flows


# -- the seed document's flows, unchanged except the url ----------------------------------------
@pytest.fixture
def seed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    from gitserver import GitHttpServer

    server = GitHttpServer(
        tmp_path_factory.mktemp("seed") / "repos",
        username="git_username",
        password="ghp_seed-token-123",
    )
    yield server
    server.close()


def seed_flow(name: str, original_url: str, url: str, tmp_path: Path) -> Path:
    text = (ROOT / "flows" / name).read_text()
    assert original_url in text
    path = tmp_path / name
    path.write_text(text.replace(original_url, url))
    return path


@pytest.mark.parametrize(
    ("name", "original_url", "directory", "expected"),
    [
        (
            "sync_flows.yml",
            "https://github.com/kestra/scripts",
            "your_git_dir",
            {"git/hello", "git.team/child"},
        ),
        ("sync_flows_webhook.yml", "https://github.com/kestra/scripts", "_flows", {"git/hello"}),
    ],
)
def test_seed_sync_flows_examples_run_unchanged_except_url(
    seed_server: GitHttpServer,
    tmp_path: Path,
    home: Path,
    name: str,
    original_url: str,
    directory: str,
    expected: set[str],
) -> None:
    from gitserver import BareRemote

    repo = BareRemote(seed_server, f"seed-{name}")
    repo.commit(
        {f"{directory}/hello.yml": flow("hello"), f"{directory}/team/child.yml": flow("child")},
        "flows",
    )
    path = seed_flow(name, original_url, repo.url, tmp_path)
    with LocalInstance(home, validator=validate_source) as instance:
        execution = run_flow(
            path,
            instance=instance,
            home=home,
            secrets={"GITHUB_ACCESS_TOKEN": "ghp_seed-token-123", "WEBHOOK_KEY": "k"},
        )
        assert execution.state == "SUCCESS", execution.error
        assert set(live_flows(instance, "git")) == expected
    assert "ghp_seed-token-123" not in json.dumps(execution.to_dict())
    for file in home.rglob("*"):
        if file.is_file():
            assert b"ghp_seed-token-123" not in file.read_bytes(), file


def test_seed_sync_namespace_files_example_runs_unchanged_except_url(
    seed_server: GitHttpServer, tmp_path: Path, home: Path
) -> None:
    from gitserver import BareRemote

    repo = BareRemote(seed_server, "seed-files")
    repo.commit({"_files/scripts/etl.py": "print('etl')\n", "_files/data.csv": "a,b\n"}, "files")
    path = seed_flow(
        "sync_namespace_files.yml", "https://github.com/kestra-io/flows", repo.url, tmp_path
    )
    with LocalInstance(home, validator=validate_source) as instance:
        execution = run_flow(
            path,
            instance=instance,
            home=home,
            secrets={"GITHUB_ACCESS_TOKEN": "ghp_seed-token-123"},
        )
        assert execution.state == "SUCCESS", execution.error
        assert [f.path for f in instance.list_files("prod")] == ["/data.csv", "/scripts/etl.py"]
        assert instance.read_file("prod", "/scripts/etl.py") == b"print('etl')\n"


def test_seed_example_without_the_secret_fails_with_one_clear_line(
    seed_server: GitHttpServer, tmp_path: Path, home: Path
) -> None:
    path = seed_flow(
        "sync_flows.yml",
        "https://github.com/kestra/scripts",
        seed_server.url_for("nothing"),
        tmp_path,
    )
    execution = run_flow(path, home=home, environ={})
    assert execution.state == "FAILED"
    assert (
        execution.error is not None
        and "Cannot find secret for key 'GITHUB_ACCESS_TOKEN'." in execution.error
    )


# -- all or nothing on a Kestra server ----------------------------------------------------------
@pytest.mark.parametrize("failing_write", [1, 2, 4])
def test_sync_failing_part_way_on_a_server_restores_the_state_before_the_apply(
    remote: MakeRemote,
    fake_kestra: FakeKestra,
    kestra_instance: KestraInstance,
    home: Path,
    failing_write: int,
) -> None:
    for flow_id in ("keep", "change", "drop"):
        kestra_instance.put_flow(flow(flow_id, "prod"))
    before = fake_kestra.live_flows()
    repo = remote(
        files={
            "_flows/keep.yml": flow("keep"),
            "_flows/change.yml": flow("change", message="changed"),
            "_flows/new1.yml": flow("new1"),
            "_flows/new2.yml": flow("new2"),
        }
    )
    fake_kestra.fail_write(failing_write)
    task = SyncFlows(
        id="sync",
        url=repo.url,
        username=USER,
        password=PASSWORD,
        target_namespace="prod",
        delete=True,
    )
    with pytest.raises(KestraGitError) as caught:
        task.run(RunContext.create(instance=kestra_instance, home=home))
    assert fake_kestra.live_flows() == before
    if failing_write > 1:
        assert "restored" in str(caught.value)
    # the next sync completes
    task.run(RunContext.create(instance=kestra_instance, home=home))
    assert set(fake_kestra.live_flows()) == {
        ("prod", "keep"),
        ("prod", "change"),
        ("prod", "new1"),
        ("prod", "new2"),
    }


# -- incremental re-plans give the same result as full plans --------------------------------------
HISTORY: list[tuple[dict[str, str], list[str]]] = [
    (
        {
            "_flows/a.yml": flow("a"),
            "_flows/b.yml": flow("b"),
            "_flows/team/c.yml": flow("c"),
            "_flows/README.md": "docs",
        },
        [],
    ),
    ({"_flows/a.yml": flow("a", message="edited")}, []),
    ({"_flows/d.yml": flow("d")}, ["_flows/b.yml"]),
    ({"_flows/renamed.yml": flow("d")}, ["_flows/d.yml"]),
    ({"_flows/a.yml": flow("a2")}, []),
    ({"_flows/team/deeper/e.yml": flow("e"), "_flows/README.md": "more docs"}, []),
    ({"_flows/team/moved.yml": flow("c", message="moved")}, ["_flows/team/c.yml"]),
    ({}, ["_flows/renamed.yml", "_flows/team/deeper/e.yml"]),
]


@pytest.mark.parametrize("delete", [True, False])
def test_incremental_replan_matches_a_full_plan_over_a_history(
    remote: MakeRemote, tmp_path: Path, delete: bool
) -> None:
    repo = remote(files=HISTORY[0][0])
    homes = {"incremental": tmp_path / "incremental", "full": tmp_path / "full"}
    with (
        LocalInstance(homes["incremental"], validator=validate_source) as incremental,
        LocalInstance(homes["full"], validator=validate_source) as full,
    ):
        for step, (files, removed) in enumerate(HISTORY):
            if step:
                repo.commit(files, f"step {step}", delete=removed)
            shutil.rmtree(homes["full"] / "sync-state", ignore_errors=True)  # forget: full plan
            outputs = {
                name: sync(
                    instance, homes[name], repo.url, delete=delete, include_child_namespaces=True
                )
                for name, instance in (("incremental", incremental), ("full", full))
            }
            assert outputs["incremental"].flows == outputs["full"].flows, f"step {step}"
            assert live_flows(incremental) == live_flows(full), f"step {step}"


def test_incremental_replan_reads_only_the_changed_files(
    remote: MakeRemote, instance: LocalInstance, home: Path
) -> None:
    repo = remote(files={f"_flows/f{i}.yml": flow(f"f{i}") for i in range(30)})
    sync(instance, home, repo.url)
    repo.commit({"_flows/f7.yml": flow("f7", message="changed")}, "one change")
    task = SyncFlows(
        id="sync", url=repo.url, username=USER, password=PASSWORD, target_namespace="prod"
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    messages: list[str] = []
    ctx.sinks.append(lambda log: messages.append(log.message))
    output = task.run(ctx)
    assert [r["flowId"] for r in output.flows if r["syncState"] == "UPDATED"] == ["f7"]
    assert len(output.flows) == 30
    assert "1 changed and 0 removed file(s) in Git" in messages
