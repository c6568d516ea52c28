"""``cloneSubmodules: true`` on the sync tasks: a submodule's files are synced as upstream's
checkout with submodules would hold them, fetched at the gitlink commit into the repository
cache, with Clone's rules for URLs and credentials. Real git servers only (a second one plays
another origin); every server records the Authorization header of each request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from gitserver import BareRemote, GitHttpServer
from pygit2.enums import FileMode

from kestra_git_tasks import RunContext, SyncFlows, SyncNamespaceFiles
from kestra_git_tasks.errors import GitError, GitRefNotFoundError
from kestra_git_tasks.git.submodule_tree import MAX_DEPTH
from kestra_git_tasks.git.submodules import LOCAL_SUBMODULES_ENV
from kestra_git_tasks.instance.base import Instance, LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"


def flow(flow_id: str, namespace: str = "dev") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )


def add_submodules(
    bare: BareRemote, links: dict[str, tuple[str, str | None]], names: dict[str, str] | None = None
) -> str:
    """Commit ``.gitmodules`` naming each ``path: (url, sha)`` and a gitlink per path."""
    repo = bare.repo
    ref = repo.references.get("refs/heads/main")
    index = pygit2.Index()
    parents: list[pygit2.Oid] = []
    if ref is not None:
        parent = repo[ref.target]
        assert isinstance(parent, pygit2.Commit)
        index.read_tree(parent.tree)
        parents.append(parent.id)
    modules = "".join(
        f'[submodule "{(names or {}).get(path, path)}"]\n\tpath = {path}\n\turl = {url}\n'
        for path, (url, _) in links.items()
    )
    index.add(pygit2.IndexEntry(".gitmodules", repo.create_blob(modules), FileMode.BLOB))
    for path, (_, sha) in links.items():
        index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=sha or "1" * 40), FileMode.COMMIT))
    signature = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    tree = index.write_tree(repo)
    return str(repo.create_commit("refs/heads/main", signature, signature, "sub", tree, parents))


@pytest.fixture
def other_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A second git server, on another port: another origin, with the same account."""
    with GitHttpServer(tmp_path / "other-root") as server:
        yield server


@pytest.fixture
def public_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path / "public-root", username=None, password=None) as server:
        yield server


def sent_authorization(server: GitHttpServer) -> list[str]:
    return [r.authorization for r in server.requests if r.authorization]


def make_ctx(instance: Instance, tmp_path: Path, records: list[LogRecord]) -> RunContext:
    ctx = RunContext.create(instance=instance, home=tmp_path / "home", flow_id="s")
    ctx.task_id = "sync"
    ctx.sinks.append(records.append)
    return ctx


def sync(instance: Instance, tmp_path: Path, url: str, **properties: Any) -> list[LogRecord]:
    properties.setdefault("target_namespace", "prod")
    properties.setdefault("include_child_namespaces", True)  # a submodule is a sub-folder
    records: list[LogRecord] = []
    task = SyncFlows(id="sync", url=url, username=USER, password=PASSWORD, **properties)
    task.run(make_ctx(instance, tmp_path, records))
    return records


def flow_ids(instance: Instance) -> list[str]:
    return sorted(r.id for r in instance.list_flows("prod", include_children=True))


# -- the content of submodules ------------------------------------------------------------------
def test_a_submodules_flows_are_synced_with_clone_submodules(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team"), "deep/ops.yml": flow("ops")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())})

    records = sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == ["main", "ops", "team"]
    assert not [r.message for r in records if r.level == "WARN"]


def test_without_clone_submodules_a_gitlink_stays_skipped(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())})

    sync(any_instance, tmp_path, top.url)

    assert flow_ids(any_instance) == ["main"]


def test_the_gitlink_commit_is_synced_not_the_submodules_branch_tip(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"old.yml": flow("old")})
    pinned = lib.head()
    lib.commit({"new.yml": flow("new")}, delete=["old.yml"])
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": ("../" + lib.name, pinned)})  # relative URL

    sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == ["main", "old"]


def test_nested_submodules_are_followed(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    leaf = remote(files={"leaf.yml": flow("leaf")})
    middle = remote(files={"middle.yml": flow("middle")})
    add_submodules(middle, {"inner": (leaf.url, leaf.head())})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/mid": (middle.url, middle.head())})

    sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == ["leaf", "main", "middle"]


def test_git_directory_inside_a_submodule_is_read_from_it(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"_flows/team.yml": flow("team"), "other.yml": flow("other")})
    top = remote(files={"README.md": "top"})
    add_submodules(top, {"vendor/lib": (lib.url, lib.head())})

    sync(any_instance, tmp_path, top.url, clone_submodules=True, git_directory="vendor/lib/_flows")

    assert flow_ids(any_instance) == ["team"]


def test_namespace_files_of_a_submodule_are_synced(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"query.sql": "select 1\n"})
    top = remote(files={"_files/run.sh": "echo hi\n"})
    add_submodules(top, {"_files/sql": (lib.url, lib.head())})
    records: list[LogRecord] = []
    task = SyncNamespaceFiles(
        id="sync", url=top.url, username=USER, password=PASSWORD, namespace="prod",
        clone_submodules=True,
    )  # fmt: skip

    task.run(make_ctx(any_instance, tmp_path, records))

    assert any_instance.read_file("prod", "/sql/query.sql") == b"select 1\n"
    assert any_instance.read_file("prod", "/run.sh") == b"echo hi\n"


def test_a_missing_gitlink_commit_names_the_submodule_and_its_url(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, "2" * 40)})

    with pytest.raises(GitRefNotFoundError, match=f"'_flows/lib'.*{'2' * 40}.*{lib.url}"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == []


def test_a_gitlink_without_a_gitmodules_entry_is_named(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())}, names={"_flows/lib": "x"})
    top.commit({".gitmodules": '[submodule "x"]\n\tpath = elsewhere\n\turl = ../x.git\n'})

    with pytest.raises(GitRefNotFoundError, match=r"'_flows/lib'.*no URL in \.gitmodules"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)


def test_submodules_nested_deeper_than_the_bound_are_refused(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    deepest = remote(files={"x.yml": flow("x")})
    for level in range(MAX_DEPTH + 1):
        above = remote(files={"README.md": str(level)})
        add_submodules(above, {"s": (deepest.url, deepest.head())})
        deepest = above
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/s": (deepest.url, deepest.head())})

    with pytest.raises(GitError, match=f"more than {MAX_DEPTH} levels deep"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)


def test_the_shared_cache_holds_no_submodule_configuration(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())})

    sync(any_instance, tmp_path, top.url, clone_submodules=True)

    for config in (tmp_path / "home" / "repos").glob("*.git/config"):
        text = config.read_text()
        assert "submodule" not in text and "url" not in text and PASSWORD not in text


# -- hostile: credentials, transports, names ----------------------------------------------------
def test_a_submodule_on_another_origin_gets_no_credentials(
    any_instance: Instance, remote: MakeRemote, other_server: GitHttpServer, tmp_path: Path
) -> None:
    lib = BareRemote(other_server, "lib")
    lib_sha = lib.commit({"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib_sha)})

    with pytest.raises(GitError, match=lib.url):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert other_server.requests.count() > 0  # it was asked, without credentials
    assert sent_authorization(other_server) == []
    assert flow_ids(any_instance) == []


def test_a_public_submodule_on_another_origin_is_read_anonymously(
    any_instance: Instance, remote: MakeRemote, public_server: GitHttpServer, tmp_path: Path
) -> None:
    lib = BareRemote(public_server, "lib")
    lib_sha = lib.commit({"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib_sha)})

    sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == ["main", "team"]
    assert sent_authorization(public_server) == []


@pytest.fixture
def runner_repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository on the runner's disk, which a submodule URL must not be able to read."""
    path = tmp_path / "runner-disk" / "private.git"
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    builder = repo.TreeBuilder()
    builder.insert("secret.yml", repo.create_blob(flow("secret").encode()), FileMode.BLOB)
    signature = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    sha = repo.create_commit("refs/heads/main", signature, signature, "m", builder.write(), [])
    return path, str(sha)


@pytest.mark.parametrize("form", ["file-url", "path"])
def test_a_submodule_reading_the_runners_disk_is_refused(
    any_instance: Instance,
    remote: MakeRemote,
    tmp_path: Path,
    runner_repo: tuple[Path, str],
    form: str,
) -> None:
    path, sha = runner_repo
    url = path.as_uri() if form == "file-url" else str(path)
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (url, sha)})

    with pytest.raises(GitError, match=f"reads the runner's own disk.*{LOCAL_SUBMODULES_ENV}"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == []


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "fd::17", "git://127.0.0.1/x"])
def test_other_submodule_transports_are_refused(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path, url: str
) -> None:
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (url, None)})

    with pytest.raises(GitError, match=r"transport; submodules may use http, https or ssh"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)


def test_a_submodule_name_that_escapes_is_refused(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())}, names={"_flows/lib": "../../x"})

    with pytest.raises(GitError, match=r"Refusing submodule '../../x' of .gitmodules"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)


def test_a_gitmodules_including_another_file_is_refused(
    any_instance: Instance, remote: MakeRemote, tmp_path: Path
) -> None:
    lib = remote(files={"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib.head())})
    modules = top.files()[".gitmodules"].decode()
    top.commit({".gitmodules": f"[include]\n\tpath = /etc/gitconfig\n{modules}"})

    with pytest.raises(GitError, match=r"\[include\]"):
        sync(any_instance, tmp_path, top.url, clone_submodules=True)


def test_a_cached_gitlink_commit_is_not_fetched_again(
    any_instance: Instance, remote: MakeRemote, public_server: GitHttpServer, tmp_path: Path
) -> None:
    lib = BareRemote(public_server, "lib")
    lib_sha = lib.commit({"team.yml": flow("team")})
    top = remote(files={"_flows/main.yml": flow("main")})
    add_submodules(top, {"_flows/lib": (lib.url, lib_sha)})
    sync(any_instance, tmp_path, top.url, clone_submodules=True)
    asked = len(public_server.requests)
    top.commit({"_flows/second.yml": flow("second")})

    sync(any_instance, tmp_path, top.url, clone_submodules=True)

    assert flow_ids(any_instance) == ["main", "second", "team"]
    assert len(public_server.requests) == asked  # the submodule's server was not asked again
