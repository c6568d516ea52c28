"""Clone against real repositories served by the real smart-HTTP git server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2
import pytest
from pygit2.enums import FileMode, ObjectType

from kestra_git_tasks import Clone, RunContext
from kestra_git_tasks.errors import ConfigError, GitAuthError, GitRefNotFoundError
from kestra_git_tasks.instance.base import LogRecord

if TYPE_CHECKING:
    from conftest import MakeRemote
    from gitserver import BareRemote, GitHttpServer

USER, PASSWORD = "git_user", "s3cr3t-token"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def logs() -> list[LogRecord]:
    return []


@pytest.fixture
def ctx(tmp_path: Path, workdir: Path, logs: list[LogRecord]) -> Iterator[RunContext]:
    context = RunContext.create(home=tmp_path / "home")
    context.working_dir = workdir
    context.task_id = "clone"
    context.sinks.append(logs.append)
    yield context


def clone(ctx: RunContext, url: str, **properties: Any) -> Path:
    properties.setdefault("username", USER)
    properties.setdefault("password", PASSWORD)
    output = Clone(id="clone", url=url, **properties).run(ctx)
    assert isinstance(output, Clone.Output)
    return Path(output.directory)


def opened(folder: Path) -> pygit2.Repository:
    return pygit2.Repository(str(folder))


def history_length(repo: pygit2.Repository) -> int:
    return sum(1 for _ in repo.walk(repo.head.target))


def tag_annotated(bare: BareRemote, name: str, sha: str) -> None:
    signature = pygit2.Signature(bare.AUTHOR_NAME, bare.AUTHOR_EMAIL, 1_700_000_000, 0)
    bare.repo.create_tag(name, pygit2.Oid(hex=sha), ObjectType.COMMIT, signature, f"release {name}")


def commit_submodule(bare: BareRemote, path: str, url: str, sha: str) -> str:
    """Commit a gitlink at ``path`` to ``sha`` of the repository at ``url`` (with .gitmodules)."""
    repo = bare.repo
    ref_name = f"refs/heads/{bare.default_branch}"
    ref = repo.references.get(ref_name)
    index = pygit2.Index()
    parents: list[pygit2.Oid] = []
    if ref is not None:
        parent = repo[ref.target]
        assert isinstance(parent, pygit2.Commit)
        index.read_tree(parent.tree)
        parents.append(parent.id)
    modules = f'[submodule "{path}"]\n\tpath = {path}\n\turl = {url}\n'
    index.add(pygit2.IndexEntry(".gitmodules", repo.create_blob(modules), FileMode.BLOB))
    index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=sha), FileMode.COMMIT))
    signature = pygit2.Signature(bare.AUTHOR_NAME, bare.AUTHOR_EMAIL, 1_700_000_000, 0)
    tree = index.write_tree(repo)
    return str(repo.create_commit(ref_name, signature, signature, "add submodule", tree, parents))


def three_commits(remote: MakeRemote) -> tuple[BareRemote, list[str]]:
    bare = remote(files={"app.py": "v = 1\n"})
    first = bare.head()
    assert first is not None
    second = bare.commit({"app.py": "v = 2\n"})
    third = bare.commit({"app.py": "v = 3\n", "README.md": "hi\n"})
    return bare, [first, second, third]


# -- branches and depth -------------------------------------------------------------------------
def test_clone_checks_out_the_default_branch_with_one_commit_of_history(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, shas = three_commits(remote)
    folder = clone(ctx, bare.url)
    assert folder == workdir.resolve()
    assert (folder / "app.py").read_text() == "v = 3\n"
    repo = opened(folder)
    assert repo.head.shorthand == "main" and str(repo.head.target) == shas[2]
    assert repo.is_shallow and history_length(repo) == 1
    assert repo.branches.local["main"].upstream_name == "refs/remotes/origin/main"


def test_depth_fetches_that_many_commits(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    repo = opened(clone(ctx, bare.url, depth=2))
    assert repo.is_shallow and history_length(repo) == 2


def test_depth_larger_than_history_is_a_full_clone(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    repo = opened(clone(ctx, bare.url, depth=50))
    assert history_length(repo) == 3


def test_branch_is_checked_out_and_tracks_origin(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    dev = bare.commit({"dev.txt": "dev\n"}, branch="dev")
    folder = clone(ctx, bare.url, branch="dev")
    repo = opened(folder)
    assert repo.head.shorthand == "dev" and str(repo.head.target) == dev
    assert (folder / "dev.txt").exists() and not (folder / "README.md").exists()
    assert "refs/remotes/origin/main" in repo.references  # all branches fetched by default


def test_missing_branch_names_it_and_the_existing_ones(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(GitRefNotFoundError, match=r"Branch 'nope' does not exist .*'main'"):
        clone(ctx, bare.url, branch="nope")


def test_single_branch_fetches_only_that_branch(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    bare.commit({"dev.txt": "dev\n"}, branch="dev")
    repo = opened(clone(ctx, bare.url, branch="dev", clone_all_branches=False))
    remotes = sorted(r for r in repo.references if r.startswith("refs/remotes/"))
    assert remotes == ["refs/remotes/origin/dev"]
    assert repo.config["remote.origin.fetch"] == "+refs/heads/dev:refs/remotes/origin/dev"


def test_clone_all_branches_false_without_branch_is_a_config_error(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(ConfigError, match=r"`cloneAllBranches` is false, `branch` must be set"):
        clone(ctx, bare.url, clone_all_branches=False)
    assert list(workdir.iterdir()) == []


# -- default branch -----------------------------------------------------------------------------
def test_default_branch_comes_from_the_remote_head(remote: MakeRemote, ctx: RunContext) -> None:
    bare = remote(files={"t.txt": "trunk\n"}, branch="trunk")
    bare.commit({"m.txt": "main\n"}, branch="main")
    repo = opened(clone(ctx, bare.url))
    assert repo.head.shorthand == "trunk"


@pytest.mark.parametrize(
    ("branches", "expected"), [(["dev", "master", "main"], "main"), (["dev", "master"], "master")]
)
def test_default_branch_falls_back_to_main_then_master(
    remote: MakeRemote, ctx: RunContext, branches: list[str], expected: str
) -> None:
    bare = remote(files={"first.txt": "x\n"}, branch=branches[0])
    for branch in branches[1:]:
        bare.commit({f"{branch}.txt": branch}, branch=branch)
    bare.repo.references.create("HEAD", "refs/heads/unborn", force=True)  # HEAD not advertised
    assert opened(clone(ctx, bare.url)).head.shorthand == expected


def test_no_default_branch_asks_for_branch(remote: MakeRemote, ctx: RunContext) -> None:
    bare = remote(files={"x.txt": "x\n"}, branch="dev")
    bare.repo.references.create("HEAD", "refs/heads/unborn", force=True)
    with pytest.raises(GitRefNotFoundError, match=r"specify the 'branch' property.*'dev'"):
        clone(ctx, bare.url)


def test_empty_remote_gives_an_empty_repository(
    remote: MakeRemote, ctx: RunContext, logs: list[LogRecord]
) -> None:
    bare = remote()
    folder = clone(ctx, bare.url)
    assert opened(folder).head_is_unborn
    assert any("empty repository" in log.message for log in logs)


# -- tags and commits ---------------------------------------------------------------------------
def test_lightweight_tag_is_checked_out_detached_with_full_history(
    remote: MakeRemote, ctx: RunContext
) -> None:
    bare, shas = three_commits(remote)
    bare.repo.references.create("refs/tags/v1", pygit2.Oid(hex=shas[0]))
    folder = clone(ctx, bare.url, tag="v1")
    repo = opened(folder)
    assert repo.head_is_detached and str(repo.head.target) == shas[0]
    assert (folder / "app.py").read_text() == "v = 1\n"
    assert not repo.is_shallow  # depth is ignored for a tag


def test_annotated_tag_is_peeled_to_its_commit(remote: MakeRemote, ctx: RunContext) -> None:
    bare, shas = three_commits(remote)
    tag_annotated(bare, "v2.0", shas[1])
    folder = clone(ctx, bare.url, tag="v2.0", depth=1)
    repo = opened(folder)
    assert repo.head_is_detached and str(repo.head.target) == shas[1]
    assert (folder / "app.py").read_text() == "v = 2\n"


def test_missing_tag_names_it(remote: MakeRemote, ctx: RunContext) -> None:
    bare, shas = three_commits(remote)
    bare.repo.references.create("refs/tags/v1", pygit2.Oid(hex=shas[0]))
    with pytest.raises(GitRefNotFoundError, match=r"Cannot resolve tag 'v9'.*Existing tags: 'v1'"):
        clone(ctx, bare.url, tag="v9")


def test_tag_with_no_tags_is_a_config_error(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(ConfigError, match=r"`tag` cannot be used with `noTags: true`"):
        clone(ctx, bare.url, tag="v1", no_tags=True)


@pytest.mark.parametrize("length", [40, 7])
def test_commit_full_or_short_sha_is_checked_out_detached(
    remote: MakeRemote, ctx: RunContext, length: int
) -> None:
    bare, shas = three_commits(remote)
    folder = clone(ctx, bare.url, commit=shas[1][:length])
    repo = opened(folder)
    assert repo.head_is_detached and str(repo.head.target) == shas[1]
    assert (folder / "app.py").read_text() == "v = 2\n"
    assert not repo.is_shallow and history_length(repo) == 2


def test_commit_on_another_branch_is_found(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    dev = bare.commit({"dev.txt": "dev\n"}, branch="dev")
    repo = opened(clone(ctx, bare.url, commit=dev))
    assert str(repo.head.target) == dev


def test_unknown_commit_names_it(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(GitRefNotFoundError, match=r"Cannot resolve commit SHA 'deadbeef'"):
        clone(ctx, bare.url, commit="deadbeef")


def test_commit_that_is_not_a_sha_is_a_config_error(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(ConfigError, match=r"`commit` 'main' is not a commit SHA"):
        clone(ctx, bare.url, commit="main")


def test_commit_takes_precedence_over_tag(
    remote: MakeRemote, ctx: RunContext, logs: list[LogRecord]
) -> None:
    bare, shas = three_commits(remote)
    bare.repo.references.create("refs/tags/v1", pygit2.Oid(hex=shas[0]))
    repo = opened(clone(ctx, bare.url, commit=shas[2], tag="v1"))
    assert str(repo.head.target) == shas[2]
    assert any(log.level == "WARN" and "`tag` 'v1' is ignored" in log.message for log in logs)


def test_tags_are_fetched_by_default_and_not_with_no_tags(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, shas = three_commits(remote)
    tag_annotated(bare, "v1", shas[0])
    with_tags = opened(clone(ctx, bare.url, directory="with"))
    assert "refs/tags/v1" in with_tags.references
    without = opened(clone(ctx, bare.url, directory="without", no_tags=True))
    assert not [r for r in without.references if r.startswith("refs/tags/")]
    assert without.config["remote.origin.tagopt"] == "--no-tags"


# -- submodules ---------------------------------------------------------------------------------
def test_submodules_are_cloned_recursively_with_the_same_credentials(
    remote: MakeRemote, ctx: RunContext, git_server: GitHttpServer
) -> None:
    leaf = remote(name="leaf-module", files={"leaf.txt": "leaf\n"})
    middle = remote(name="middle-module", files={"middle.txt": "middle\n"})
    commit_submodule(middle, "deps/leaf", leaf.url, str(leaf.head()))  # absolute URL
    top = remote(name="top-project", files={"top.txt": "top\n"})
    commit_submodule(top, "lib", "../middle-module.git", str(middle.head()))  # relative URL
    folder = clone(ctx, top.url, clone_submodules=True)
    assert (folder / "top.txt").read_text() == "top\n"
    assert (folder / "lib" / "middle.txt").read_text() == "middle\n"
    assert (folder / "lib" / "deps" / "leaf" / "leaf.txt").read_text() == "leaf\n"
    for config in folder.rglob("config"):
        assert PASSWORD not in config.read_text(errors="replace"), config


def test_submodules_are_not_cloned_by_default(remote: MakeRemote, ctx: RunContext) -> None:
    sub = remote(name="lonely-module", files={"s.txt": "s\n"})
    top = remote(files={"top.txt": "top\n"})
    commit_submodule(top, "sub", sub.url, str(sub.head()))
    folder = clone(ctx, top.url)
    assert (folder / "sub").is_dir() and not (folder / "sub" / "s.txt").exists()


# -- target folder ------------------------------------------------------------------------------
def test_non_empty_folder_keeps_its_files_and_the_repository_wins(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, _ = three_commits(remote)
    (workdir / "input.json").write_text("{}")
    (workdir / "README.md").write_text("local copy\n")
    folder = clone(ctx, bare.url)
    assert (folder / "input.json").read_text() == "{}"
    assert (folder / "README.md").read_text() == "hi\n"
    assert (folder / "app.py").read_text() == "v = 3\n"
    assert opened(folder).head.shorthand == "main"


def test_directory_is_relative_to_the_working_directory(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, _ = three_commits(remote)
    folder = clone(ctx, bare.url, directory="src/repo")
    assert folder == (workdir / "src" / "repo").resolve()
    assert (folder / "app.py").exists()


@pytest.mark.parametrize("directory", ["../outside", "/tmp/absolute"])
def test_directory_outside_the_working_directory_is_refused(
    remote: MakeRemote, ctx: RunContext, directory: str
) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(ConfigError, match=r"`directory` .* must be a relative path inside"):
        clone(ctx, bare.url, directory=directory)


def test_directory_that_is_a_file_is_a_config_error(
    remote: MakeRemote, ctx: RunContext, workdir: Path
) -> None:
    bare, _ = three_commits(remote)
    (workdir / "taken").write_text("a file")
    with pytest.raises(ConfigError, match=r"it is a file, not a folder"):
        clone(ctx, bare.url, directory="taken")


def test_without_working_directory_clones_into_a_new_folder(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare, _ = three_commits(remote)
    ctx = RunContext.create(home=tmp_path / "home")
    folder = clone(ctx, bare.url)
    try:
        assert (folder / "app.py").exists()
    finally:
        shutil.rmtree(folder)


def test_git_config_is_written_into_the_clone(
    remote: MakeRemote, ctx: RunContext, logs: list[LogRecord]
) -> None:
    bare, _ = three_commits(remote)
    config = {"User.name": "Robot", "core.autocrlf": False, "bad": "skipped", "x.list": [1, 2]}
    repo = opened(clone(ctx, bare.url, git_config=config))
    assert repo.config["user.name"] == "Robot"
    assert repo.config.get_bool("core.autocrlf") is False
    assert list(repo.config.get_multivar("x.list")) == ["1", "2"]
    assert any("skipped key 'bad'" in log.message for log in logs)


# -- credentials --------------------------------------------------------------------------------
def test_wrong_password_fails_after_one_attempt(
    remote: MakeRemote, ctx: RunContext, git_server: GitHttpServer
) -> None:
    bare, _ = three_commits(remote)
    git_server.requests.reset()
    with pytest.raises(GitAuthError, match="rejected the credentials") as caught:
        clone(ctx, bare.url, password="wrong-password")
    assert "wrong-password" not in str(caught.value)
    assert git_server.requests.count(repo=bare.name) == 2  # anonymous probe + one attempt


def test_missing_credentials_is_an_auth_error(remote: MakeRemote, ctx: RunContext) -> None:
    bare, _ = three_commits(remote)
    with pytest.raises(GitAuthError, match="no credentials were given"):
        Clone(id="clone", url=bare.url).run(ctx)


@pytest.mark.parametrize("in_url", [False, True])
def test_no_password_in_git_config_or_logs(
    remote: MakeRemote, ctx: RunContext, logs: list[LogRecord], in_url: bool
) -> None:
    bare, _ = three_commits(remote)
    if in_url:
        folder = clone(ctx, bare.authenticated_url, username=None, password=None)
    else:
        folder = clone(ctx, bare.url)
    config = (folder / ".git" / "config").read_text()
    assert PASSWORD not in config
    assert f"url = {bare.url}" in config or f"url = http://{USER}@" in config
    assert all(PASSWORD not in log.message for log in logs)
