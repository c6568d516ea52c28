"""NamespaceSync both ways, on both backends, against the real smart-HTTP git server.

Ported from upstream's NamespaceSyncTest: kestraToGit_dryRun_diff, kestraToGit_apply_writesIntoGit,
gitToKestra_keepMissing (kestraToGit_apply_excludesDraftFlows does not apply: the instances here
have no drafts). The rest covers the issue's list: DELETE/KEEP/FAIL each way, protected
namespaces, dry runs, the round trip, and hostile repositories.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from backends import run_flow_on
from gitserver import DEFAULT_PASSWORD, DEFAULT_USERNAME
from pygit2.enums import FileMode

from kestra_git_tasks import RunContext
from kestra_git_tasks.errors import ConfigError, FlowFileError, GitError
from kestra_git_tasks.instance.base import Instance
from kestra_git_tasks.tasks.git.namespace_sync import NamespaceSync

if TYPE_CHECKING:
    from conftest import MakeRemote

README = b"# flows\n"


def flow(flow_id: str, namespace: str = "dev", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def instance(any_instance: Instance) -> Instance:
    return any_instance


def sync(instance: Instance, home: Path, url: str, **properties: Any) -> NamespaceSync.Output:
    properties.setdefault("namespace", "dev")
    properties.setdefault("branch", "main")
    task = NamespaceSync(
        id="sync", url=url, username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD, **properties
    )
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="ops")
    ctx.task_id = "sync"
    output = task.run(ctx)
    assert isinstance(output, NamespaceSync.Output)
    return output


def flows_of(instance: Instance, namespace: str = "dev") -> dict[str, str]:
    return {record.id: record.source for record in instance.list_flows(namespace)}


def files_of(instance: Instance, namespace: str = "dev") -> dict[str, bytes]:
    return {
        record.path: instance.read_file(namespace, record.path)
        for record in instance.list_files(namespace)
    }


def seed(instance: Instance) -> None:
    instance.put_flow(flow("a"))
    instance.put_flow(flow("b"))
    instance.write_file("dev", "/scripts/run.py", b"print('x')\n")
    instance.write_file("dev", "/data.bin", bytes(range(256)))


# -- KESTRA -> Git ------------------------------------------------------------------------------
def test_kestra_to_git_commits_the_namespace_layout_once_and_leaves_other_files(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    seed(instance)
    instance.put_flow(flow("other", "dev.child"))
    repo = remote(files={"README.md": README, "kestra/prod/flows/p.yaml": flow("p", "prod")})
    before = repo.head("main")

    output = sync(
        instance, home, repo.url, gitDirectory="kestra", authorName="Ada", authorEmail="a@x.io"
    )

    assert repo.files("main") == {
        "README.md": README,
        "kestra/prod/flows/p.yaml": flow("p", "prod").encode(),
        "kestra/dev/flows/a.yaml": flow("a").encode(),
        "kestra/dev/flows/b.yaml": flow("b").encode(),
        "kestra/dev/files/scripts/run.py": b"print('x')\n",
        "kestra/dev/files/data.bin": bytes(range(256)),
    }
    commit = repo.head_commit("main")
    assert str(commit.parent_ids[0]) == before
    assert commit.message == "Namespace sync from Kestra"
    assert commit.author.name == "Ada" and commit.author.email == "a@x.io"
    assert output.commit_id == repo.head("main")
    assert output.commit_url is None  # a commit page only for known hosts (github.com...)
    assert {row["file"] for row in output.diff} == {
        "kestra/dev/flows/a.yaml",
        "kestra/dev/flows/b.yaml",
        "kestra/dev/files/scripts/run.py",
        "kestra/dev/files/data.bin",
    }
    assert all(isinstance(row["additions"], int) for row in output.diff)
    lines = Path(output.diff_file).read_text().splitlines()
    assert [json.loads(line) for line in lines] == output.diff


def test_kestra_to_git_strips_revision_and_makes_no_commit_when_nothing_changed(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow("revision: 3\n" + flow("a"))
    repo = remote(files={"README.md": README})
    first = sync(instance, home, repo.url)
    assert repo.files("main")["dev/flows/a.yaml"] == flow("a").encode()
    again = sync(instance, home, repo.url)
    assert again.commit_id is None and again.commit_url is None and again.diff == []
    assert repo.head("main") == first.commit_id


def test_kestra_to_git_delete_removes_stale_files_and_keep_leaves_them(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("a"))
    stale = {"dev/flows/gone.yml": flow("gone"), "dev/files/old.txt": "old\n"}
    keep_repo = remote(files={"README.md": README, **stale})
    kept = sync(instance, home, keep_repo.url, whenMissingInSource="KEEP")
    assert set(keep_repo.files("main")) == {"README.md", "dev/flows/a.yaml", *stale}
    assert [row["file"] for row in kept.diff] == ["dev/flows/a.yaml"]

    delete_repo = remote(files={"README.md": README, **stale})
    deleted = sync(instance, home, delete_repo.url, dryRun=True)
    assert sorted((row["file"], row["action"]) for row in deleted.diff) == [
        ("dev/files/old.txt", "DELETED_GIT"),
        ("dev/flows/a.yaml", "ADDED"),
        ("dev/flows/gone.yml", "DELETED_GIT"),
    ]
    sync(instance, home, delete_repo.url)
    assert set(delete_repo.files("main")) == {"README.md", "dev/flows/a.yaml"}


def test_kestra_to_git_fail_names_what_git_has_and_pushes_nothing(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("a"))
    repo = remote(files={"dev/flows/gone.yaml": flow("gone")})
    before = repo.head("main")
    with pytest.raises(ConfigError, match=r"FLOW dev:gone \(missing in KESTRA"):
        sync(instance, home, repo.url, whenMissingInSource="FAIL")
    assert repo.head("main") == before


def test_kestra_to_git_updates_a_changed_flow_in_its_existing_yml_file(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("a", message="new"))
    repo = remote(files={"dev/flows/a.yml": flow("a", message="old")})
    output = sync(instance, home, repo.url, dryRun=True)
    assert output.diff == [
        {"file": "dev/flows/a.yml", "key": "dev:a", "kind": "FLOW", "action": "UPDATED_GIT"}
    ]
    sync(instance, home, repo.url)
    assert repo.files("main") == {"dev/flows/a.yml": flow("a", message="new").encode()}


# -- GIT -> instance ----------------------------------------------------------------------------
def test_git_to_instance_adds_updates_and_deletes_all_at_once(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("a", message="old"))
    instance.put_flow(flow("stale"))
    instance.write_file("dev", "/stale.txt", b"x")
    repo = remote(
        files={
            "dev/flows/a.yaml": flow("a", message="new"),
            "dev/flows/b.yml": flow("b"),
            "dev/flows/sub/ignored.yaml": "not: a flow\n",
            "dev/files/conf/app.json": "{}\n",
            "prod/flows/p.yaml": flow("p", "prod"),
        }
    )
    output = sync(instance, home, repo.url, source_of_truth="GIT")

    assert flows_of(instance) == {"a": flow("a", message="new"), "b": flow("b")}
    assert files_of(instance) == {"/conf/app.json": b"{}\n"}
    assert flows_of(instance, "prod") == {}
    assert output.diff == [
        {"file": "dev/flows/a.yaml", "key": "dev:a", "kind": "FLOW", "action": "UPDATED_KES"},
        {"file": "dev/flows/b.yml", "key": "dev:b", "kind": "FLOW", "action": "ADDED"},
        {
            "file": "dev/flows/stale.yaml",
            "key": "dev:stale",
            "kind": "FLOW",
            "action": "DELETED_KES",
        },
        {
            "file": "dev/files/conf/app.json",
            "key": "dev:conf/app.json",
            "kind": "FILE",
            "action": "ADDED",
        },
        {
            "file": "dev/files/stale.txt",
            "key": "dev:stale.txt",
            "kind": "FILE",
            "action": "DELETED_KES",
        },
    ]
    assert output.commit_id is None


def test_git_to_instance_keep_leaves_instance_only_items(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("extra"))
    instance.write_file("dev", "/extra.txt", b"x")
    repo = remote(files={"dev/flows/base.yaml": flow("base")})
    sync(instance, home, repo.url, source_of_truth="GIT", whenMissingInSource="KEEP")
    assert set(flows_of(instance)) == {"base", "extra"}
    assert files_of(instance) == {"/extra.txt": b"x"}


def test_git_to_instance_fail_changes_nothing_and_names_every_missing_item(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("extra"))
    instance.write_file("dev", "/extra.txt", b"x")
    repo = remote(files={"dev/flows/base.yaml": flow("base")})
    with pytest.raises(ConfigError) as raised:
        sync(instance, home, repo.url, source_of_truth="GIT", whenMissingInSource="FAIL")
    message = str(raised.value)
    assert "FLOW dev:extra (missing in Git" in message
    assert "FILE dev:extra.txt (missing in Git" in message
    assert "Nothing was changed" in message
    assert set(flows_of(instance)) == {"extra"}  # base was not added either


def test_protected_namespaces_are_never_deleted_from_either_way(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("kept"))
    repo = remote(files={"dev/flows/base.yaml": flow("base"), "dev/files/f.txt": "f\n"})
    protected = ["system", "dev"]
    sync(instance, home, repo.url, source_of_truth="GIT", protectedNamespaces=protected)
    assert set(flows_of(instance)) == {"base", "kept"}

    instance.delete_flow("dev", "base")
    instance.delete_file("dev", "/f.txt")
    sync(instance, home, repo.url, protectedNamespaces=protected)
    assert set(repo.files("main")) == {
        "dev/flows/base.yaml",
        "dev/flows/kept.yaml",
        "dev/files/f.txt",
    }


def test_a_protected_child_namespace_is_protected_by_its_parent(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("kept", "system.team"))
    repo = remote(files={"system.team/flows/base.yaml": flow("base", "system.team")})
    sync(instance, home, repo.url, namespace="system.team", source_of_truth="GIT")
    assert set(flows_of(instance, "system.team")) == {"base", "kept"}


def test_dry_run_changes_nothing_either_way(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    seed(instance)
    repo = remote(files={"dev/flows/new.yaml": flow("new"), "dev/files/x.txt": "x\n"})
    before, flows_before, files_before = repo.head("main"), flows_of(instance), files_of(instance)

    to_git = sync(instance, home, repo.url, dryRun=True)
    to_instance = sync(instance, home, repo.url, source_of_truth="GIT", dryRun=True)

    assert repo.head("main") == before
    assert (flows_of(instance), files_of(instance)) == (flows_before, files_before)
    assert to_git.commit_id is None and len(to_git.diff) == 6
    assert {row["action"] for row in to_instance.diff} == {"ADDED", "DELETED_KES"}


def test_the_running_flow_is_never_deleted_from_the_instance(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("ops", "system"))
    repo = remote(files={"system/flows/other.yaml": flow("other", "system")})
    sync(
        instance, home, repo.url, namespace="system", source_of_truth="GIT", protectedNamespaces=[]
    )
    assert set(flows_of(instance, "system")) == {"ops", "other"}


def test_an_empty_source_deletes_nothing_without_allow_empty(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README})
    with pytest.raises(ConfigError, match="allowEmpty: true"):
        sync(instance, home, repo.url, source_of_truth="GIT", gitDirectory="kestr")
    assert len(flows_of(instance)) == 2
    sync(instance, home, repo.url, source_of_truth="GIT", allowEmpty=True)
    assert flows_of(instance) == {} and files_of(instance) == {}


# -- the round trip -----------------------------------------------------------------------------
def test_round_trip_kestra_to_git_then_git_into_an_empty_instance_is_byte_for_byte(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    from kestra_git_tasks.flow import validate_source
    from kestra_git_tasks.instance.local import LocalInstance

    seed(instance)
    instance.put_flow(flow("crlf").replace("\n", "\r\n"))
    instance.write_file("dev", "/empty.txt", b"")
    instance.write_file("dev", "/deep/er/ünï.txt", "ü\n".encode())
    repo = remote(files={"README.md": README})
    sync(instance, home, repo.url, gitDirectory="gitops")

    with LocalInstance(tmp_path / "fresh", validator=validate_source) as fresh:
        output = sync(
            fresh, tmp_path / "fresh-home", repo.url, gitDirectory="gitops", source_of_truth="GIT"
        )
        assert flows_of(fresh) == flows_of(instance)
        assert files_of(fresh) == files_of(instance)
        assert {row["action"] for row in output.diff} == {"ADDED"}
        assert (
            sync(
                fresh,
                tmp_path / "fresh-home",
                repo.url,
                gitDirectory="gitops",
                source_of_truth="GIT",
            ).diff
            == []
        )


# -- hostile repositories -----------------------------------------------------------------------
def test_a_flow_claiming_another_namespace_is_refused_and_nothing_is_written(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(
        files={"dev/flows/ok.yaml": flow("ok"), "dev/flows/evil.yaml": flow("evil", "prod")}
    )
    with pytest.raises(FlowFileError) as raised:
        sync(instance, home, repo.url, source_of_truth="GIT")
    assert "dev/flows/evil.yaml" in str(raised.value)
    assert "declares namespace 'prod'" in str(raised.value)
    assert flows_of(instance) == {} and flows_of(instance, "prod") == {}

    sync(instance, home, repo.url, source_of_truth="GIT", onInvalidSyntax="SKIP")
    assert set(flows_of(instance)) == {"ok"} and flows_of(instance, "prod") == {}


def test_a_flow_whose_id_is_not_its_file_name_is_refused(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(files={"dev/flows/a.yaml": flow("b")})
    with pytest.raises(FlowFileError, match="declares id 'b'"):
        sync(instance, home, repo.url, source_of_truth="GIT")
    out = sync(instance, home, repo.url, source_of_truth="GIT", onInvalidSyntax="WARN")
    assert flows_of(instance) == {} and out.diff == []


def test_an_invalid_flow_fails_the_whole_sync_before_any_write(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    repo = remote(
        files={
            "dev/flows/good.yaml": flow("good"),
            "dev/flows/bad.yaml": "id: bad\nnamespace: dev\ntasks: []\n",
            "dev/files/f.txt": "f\n",
        }
    )
    with pytest.raises(FlowFileError, match="Invalid syntax for FLOW dev:bad"):
        sync(instance, home, repo.url, source_of_truth="GIT")
    assert flows_of(instance) == {} and files_of(instance) == {}


def test_a_dot_git_path_in_the_repository_is_refused(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    from test_git_paths import commit_tree, raw_tree

    bare = remote()
    raw = bare.repo
    blob = raw.create_blob(b"[core]\n")
    hooks = raw_tree(raw, [(FileMode.BLOB, b"config", blob)])
    files = raw_tree(raw, [(FileMode.TREE, b".GIT", hooks)])
    dev = raw_tree(raw, [(FileMode.TREE, b"files", files)])
    commit_tree(bare, raw_tree(raw, [(FileMode.TREE, b"dev", dev)]))

    with pytest.raises(GitError, match=r"\.GIT"):
        sync(instance, home, bare.url, source_of_truth="GIT")
    with pytest.raises(GitError, match=r"\.GIT"):
        sync(instance, home, bare.url)
    assert files_of(instance) == {}


def test_a_parent_path_as_git_directory_or_namespace_is_refused(
    remote: MakeRemote, instance: Instance, home: Path
) -> None:
    instance.put_flow(flow("a"))
    repo = remote(files={"README.md": README})
    with pytest.raises(ConfigError, match="inside the repository"):
        sync(instance, home, repo.url, gitDirectory="../outside")
    with pytest.raises(ConfigError):
        sync(instance, home, repo.url, namespace="../dev")
    assert repo.files("main") == {"README.md": README}


# -- through a flow file ------------------------------------------------------------------------
def test_an_example_flow_runs_both_ways_against_the_git_server(
    remote: MakeRemote, instance: Instance, home: Path, tmp_path: Path
) -> None:
    seed(instance)
    repo = remote(files={"README.md": README})
    flow_file = tmp_path / "gitops.yml"
    flow_file.write_text(
        f"""id: gitops
namespace: system
tasks:
  - id: to_git
    type: io.kestra.plugin.git.NamespaceSync
    namespace: dev
    url: {repo.url}
    branch: main
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
  - id: back
    type: io.kestra.plugin.git.NamespaceSync
    namespace: dev
    sourceOfTruth: GIT
    url: {repo.url}
    branch: main
    username: {DEFAULT_USERNAME}
    password: "{{{{ secret('GITHUB_ACCESS_TOKEN') }}}}"
"""
    )
    execution = run_flow_on(
        instance, flow_file, home=home, secrets={"GITHUB_ACCESS_TOKEN": DEFAULT_PASSWORD}
    )
    assert execution.state == "SUCCESS", execution.error
    assert execution.outputs["to_git"]["commitId"] == repo.head("main")
    assert execution.outputs["back"]["diff"] == []
    assert DEFAULT_PASSWORD not in json.dumps(execution.outputs)
