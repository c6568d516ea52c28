"""Hostile trees and paths: '.git' components, '..', '.', names holding '/'.

Git refuses to create such trees, so the tests write tree objects byte by byte into a bare
repository served by the real HTTP server, then read them through the git layer (sync's
listing), the Clone task and push.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest
from pygit2.enums import FileMode, ObjectType

from kestra_git_tasks import Clone, LocalInstance, RunContext
from kestra_git_tasks.errors import GitError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.git import Credentials, RepoCache
from kestra_git_tasks.git.push import Identity, Pusher, TreeView
from kestra_git_tasks.git.tree import check_path, unsafe_reason
from kestra_git_tasks.tasks.git.push_namespace_files import PushNamespaceFiles

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
CREDS = Credentials(USER, PASSWORD)
ME = Identity("t", "t@example.com")


def raw_tree(
    repo: pygit2.Repository, entries: list[tuple[FileMode, bytes, pygit2.Oid]]
) -> pygit2.Oid:
    """A tree object written as bytes: no name check, unlike TreeBuilder and the index."""
    data = b"".join(b"%o %s\0" % (int(mode), name) + oid.raw for mode, name, oid in entries)
    return repo.odb.write(ObjectType.TREE, data)


def commit_tree(bare: BareRemote, tree: pygit2.Oid) -> str:
    repo = bare.repo
    sig = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    ref = repo.references.get("refs/heads/main")
    parents = [ref.target] if ref is not None else []
    return str(repo.create_commit("refs/heads/main", sig, sig, "crafted", tree, parents))


def crafted(remote: MakeRemote, inner: bytes, outer: bytes | None = None) -> BareRemote:
    """A remote whose tip holds ``ok.txt`` and ``[outer/]inner/pwned.txt``."""
    bare = remote()
    repo = bare.repo
    blob = repo.create_blob(b"pwned\n")
    tree = raw_tree(repo, [(FileMode.BLOB, b"pwned.txt", blob)])
    tree = raw_tree(repo, [(FileMode.TREE, inner, tree)])
    if outer is not None:
        tree = raw_tree(repo, [(FileMode.TREE, outer, tree)])
    top = raw_tree(repo, [(FileMode.BLOB, b"ok.txt", blob), (FileMode.TREE, b"sub", tree)])
    commit_tree(bare, top)
    return bare


UNSAFE_NAMES = [b".git", b".GIT", b".Git", b".git.", b".git ", b"git~1", b"..", b".", b"a/b"]


@pytest.mark.parametrize("name", UNSAFE_NAMES, ids=lambda n: n.decode())
def test_listing_a_tree_with_an_unsafe_entry_is_refused_naming_it(
    name: bytes, remote: MakeRemote, tmp_path: Path
) -> None:
    bare = crafted(remote, name)
    cache = RepoCache(tmp_path / "cache")
    sha = cache.fetch_branch(bare.url, "main", CREDS)

    with pytest.raises(GitError, match="unsafe path") as caught:
        cache.list_tree(bare.url, sha, "")

    assert f"sub/{name.decode()}" in str(caught.value)


def test_a_git_folder_deep_in_the_tree_is_refused_too(remote: MakeRemote, tmp_path: Path) -> None:
    bare = crafted(remote, b".Git", outer=b"deeper")
    cache = RepoCache(tmp_path / "cache")
    sha = cache.fetch_branch(bare.url, "main", CREDS)

    with pytest.raises(GitError, match=r"sub/deeper/\.Git"):
        cache.list_tree(bare.url, sha, "sub")


def test_names_that_only_look_like_git_are_listed(remote: MakeRemote, tmp_path: Path) -> None:
    bare = remote(files={".gitignore": "x", "a.git/b": "y", ".github/c": "z", "git~2": "w"})
    cache = RepoCache(tmp_path / "cache")
    sha = cache.fetch_branch(bare.url, "main", CREDS)

    assert sorted(cache.list_tree(bare.url, sha, "") or {}) == [
        ".github/c",
        ".gitignore",
        "a.git/b",
        "git~2",
    ]


@pytest.fixture
def clone_ctx(tmp_path: Path) -> Iterator[RunContext]:
    ctx = RunContext.create(home=tmp_path / "home")
    ctx.working_dir = tmp_path / "box" / "work"
    ctx.working_dir.mkdir(parents=True)
    ctx.task_id = "clone"
    yield ctx


@pytest.mark.parametrize(
    "name", [b"..", b".git", b".GIT", b"git~1", b"a/b"], ids=lambda n: n.decode()
)
def test_clone_of_a_tree_with_an_unsafe_entry_is_refused_and_writes_no_file(
    name: bytes, remote: MakeRemote, clone_ctx: RunContext, tmp_path: Path
) -> None:
    # sub/../../pwned.txt would land beside the clone folder, sub/.git/pwned.txt in its .git
    bare = crafted(remote, name, outer=b".." if name == b".." else None)
    work = clone_ctx.working_dir
    assert work is not None

    def outside() -> list[Path]:
        return sorted(
            p for p in tmp_path.rglob("*") if not p.is_relative_to(work) and "home" not in p.parts
        )

    before = outside()

    with pytest.raises(GitError, match="unsafe path"):
        Clone(id="clone", url=bare.url, username=USER, password=PASSWORD).run(clone_ctx)

    assert not (work / "ok.txt").exists()  # nothing checked out
    assert not list(tmp_path.rglob("pwned.txt"))
    assert outside() == before


def test_pushing_a_path_with_a_git_component_fails_and_pushes_nothing(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"README.md": "x"})
    tip = bare.head()
    pusher = Pusher(RepoCache(tmp_path / "cache"))

    for path in ("_files/.git/HEAD", ".GIT/config", "a/../b", "a//b", "x/git~1/hooks/pre-commit"):
        with pytest.raises(GitError, match="Refusing the path"):
            pusher.push_changes(
                bare.url, "main", _writes({"ok.txt": b"ok", path: b"evil"}),
                message="m", author=ME, committer=ME, credentials=CREDS,
            )  # fmt: skip

    assert bare.head() == tip


def test_push_namespace_files_of_a_dot_git_file_fails_with_a_clear_error(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"README.md": "x"})
    tip = bare.head()
    with LocalInstance(tmp_path / "home", validator=validate_source) as instance:
        instance.write_file("dev", "/.git/HEAD", b"ref: refs/heads/evil\n")
        instance.write_file("dev", "/fine.txt", b"fine\n")
        ctx = RunContext.create(instance=instance, home=tmp_path / "home", namespace="dev")
        ctx.task_id = "push"
        task = PushNamespaceFiles(
            id="push", url=bare.url, username=USER, password=PASSWORD, namespace="dev"
        )
        with pytest.raises(GitError, match=r"Refusing the path '_files/\.git/HEAD'.*'\.git'"):
            task.run(ctx)

    assert bare.head() == tip


@pytest.mark.parametrize(
    "name",
    [".git", ".GIT", ".git.", ".git ", ".git::$INDEX_ALLOCATION", "git~1", "GIT~1",
     ".g\u200cit", "..", ".", "", "a/b", "a\\b"],
)  # fmt: skip
def test_unsafe_names_have_a_reason(name: str) -> None:
    assert unsafe_reason(name) is not None


@pytest.mark.parametrize("name", [".gitignore", ".gitmodules", "a.git", ".github", "git~2", "..."])
def test_ordinary_names_are_safe(name: str) -> None:
    assert unsafe_reason(name) is None
    check_path(f"dir/{name}/file")


def test_a_push_may_replace_a_folder_with_a_file_of_the_same_name(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"x/a.txt": "old", "keep.txt": "k"})
    pusher = Pusher(RepoCache(tmp_path / "cache"))

    pusher.push_changes(
        bare.url, "main", _writes({"x/a.txt": None, "x": b"now a file"}),
        message="m", author=ME, committer=ME, credentials=CREDS,
    )  # fmt: skip

    assert bare.files() == {"x": b"now a file", "keep.txt": b"k"}


def _writes(changes: dict[str, bytes | None]) -> Callable[[TreeView], dict[str, bytes | None]]:
    """A ``push_changes`` callback writing (bytes) and deleting (None) these paths."""
    return lambda view: dict(changes)
