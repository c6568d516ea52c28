"""Symbolic links in the Git tree: followed inside the repository, skipped (with a warning
naming them) when they leave it, never read from the runner's disk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest
from pygit2.enums import FileMode

from kestra_git_tasks import RunContext, SyncFlows, SyncNamespaceFiles
from kestra_git_tasks.git.tree import walk_tree
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


def flow(flow_id: str, namespace: str = "anything") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


def commit_links(remote: BareRemote, files: dict[str, str], links: dict[str, str]) -> None:
    """Commit regular ``files`` and symbolic ``links`` (path -> target text) on main."""
    repo = remote.repo
    index = pygit2.Index()
    for path, content in files.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(content.encode()), FileMode.BLOB))
    for path, target in links.items():
        index.add(pygit2.IndexEntry(path, repo.create_blob(target.encode()), FileMode.LINK))
    tree = index.write_tree(repo)
    signature = pygit2.Signature("t", "t@example.com")
    repo.create_commit("refs/heads/main", signature, signature, "links", tree, [])


def run_sync(
    instance: Instance, tmp_path: Path, task: SyncFlows | SyncNamespaceFiles
) -> list[LogRecord]:
    ctx = RunContext.create(instance=instance, home=tmp_path / "home", flow_id="s", namespace="n")
    ctx.task_id = "sync"
    records: list[LogRecord] = []
    ctx.sinks.append(records.append)
    task.run(ctx)
    return records


def sync_flows(url: str, **properties: object) -> SyncFlows:
    return SyncFlows(
        id="sync",
        url=url,
        username=USER,
        password=PASSWORD,
        target_namespace="prod",
        **properties,
    )


def test_links_inside_the_repository_are_followed_file_and_folder(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote()
    commit_links(
        repo,
        {
            "shared/linked.yml": flow("linked"),
            "teams/team/a.yml": flow("a"),
            "_flows/plain.yml": flow("plain"),
        },
        {"_flows/linked.yml": "../shared/linked.yml", "_flows/team": "../teams/team"},
    )
    records = run_sync(any_instance, tmp_path, sync_flows(repo.url, include_child_namespaces=True))
    stored = {(r.namespace, r.id) for r in any_instance.list_flows("prod", include_children=True)}
    assert stored == {("prod", "plain"), ("prod", "linked"), ("prod.team", "a")}
    assert not [r for r in records if r.level == "WARN"]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("../../etc/passwd", "leaves the repository"),
        ("../../../../../../../../../../etc/passwd", "leaves the repository"),
        ("/etc/passwd", "absolute path"),
        ("missing.yml", "does not exist"),
        (".", "loop"),
        ("../_flows", "loop"),
        ("other.yml", "loop"),  # other.yml links back here
    ],
)
def test_links_leaving_the_repository_are_skipped_with_a_warning(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path, target: str, reason: str
) -> None:
    repo = remote()
    commit_links(
        repo,
        {"_flows/plain.yml": flow("plain")},
        {"_flows/evil.yml": target, "_flows/other.yml": "evil.yml"},
    )
    records = run_sync(any_instance, tmp_path, sync_flows(repo.url))
    assert {r.id for r in any_instance.list_flows("prod")} == {"plain"}
    warnings = [r.message for r in records if r.level == "WARN"]
    assert any("'_flows/evil.yml'" in w and reason in w for w in warnings), warnings


def test_an_absolute_link_never_reads_the_runners_disk(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    on_disk = tmp_path / "secret.yml"
    on_disk.write_text(flow("from_disk"))
    repo = remote()
    commit_links(
        repo, {"_flows/plain.yml": flow("plain")}, {"_flows/disk.yml": str(on_disk.resolve())}
    )
    run_sync(any_instance, tmp_path, sync_flows(repo.url))
    assert {r.id for r in any_instance.list_flows("prod")} == {"plain"}


def test_namespace_files_follow_links_too(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    repo = remote()
    commit_links(
        repo,
        {"lib/util.py": "print('x')\n"},
        {"_files/util.py": "../lib/util.py", "_files/lib": "../lib", "_files/x": "/etc"},
    )
    task = SyncNamespaceFiles(
        id="sync", url=repo.url, username=USER, password=PASSWORD, namespace="prod"
    )
    records = run_sync(any_instance, tmp_path, task)
    paths = sorted(record.path for record in any_instance.list_files("prod"))
    assert paths == ["/lib/util.py", "/util.py"]
    assert any("'_files/x'" in r.message for r in records if r.level == "WARN")


def test_without_a_root_links_are_left_out_as_before(remote: MakeRemote) -> None:
    repo = remote()
    commit_links(repo, {"a.yml": "x"}, {"b.yml": "a.yml"})
    head = repo.repo.references["refs/heads/main"].peel(pygit2.Commit)
    assert set(walk_tree(repo.repo, head.tree)) == {"a.yml"}
    skipped: list[str] = []
    assert set(walk_tree(repo.repo, head.tree, root=head.tree, skipped=skipped)) == {
        "a.yml",
        "b.yml",
    }
    assert skipped == []
