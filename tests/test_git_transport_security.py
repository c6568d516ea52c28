"""Where credentials go, which transports submodules may use, what is stored on disk.

Real servers only: the smart-HTTP git server of tests/gitserver.py (a second one on another
port plays "another origin"), and a RedirectServer in front of them. Every server records the
Authorization header of each request, so a test can tell that a credential never reached it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest
from gitserver import BareRemote, GitHttpServer, RedirectServer
from pygit2.enums import FileMode

from kestra_git_tasks import Clone, RunContext
from kestra_git_tasks.errors import ConfigError, GitError
from kestra_git_tasks.git import Credentials, RepoCache
from kestra_git_tasks.git.submodules import LOCAL_SUBMODULES_ENV

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
CREDS = Credentials(USER, PASSWORD)


def secret_forms(secret: str) -> list[bytes]:
    """The secret as bytes, and inside the Basic header value a client would send."""
    pairs = [(USER, secret), (secret, ""), (secret, PASSWORD), ("", secret)]
    return [secret.encode()] + [base64.b64encode(f"{u}:{p}".encode()) for u, p in pairs]


def files_holding(root: Path, secret: str) -> list[Path]:
    forms = secret_forms(secret)
    return [
        p for p in root.rglob("*") if p.is_file() and any(form in p.read_bytes() for form in forms)
    ]


@pytest.fixture
def other_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A second git server, on another port: another origin, with the same account."""
    with GitHttpServer(tmp_path / "other-root") as server:
        yield server


@pytest.fixture
def public_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A git server on another port that asks for no credentials."""
    with GitHttpServer(tmp_path / "public-root", username=None, password=None) as server:
        yield server


def sent_authorization(server: GitHttpServer) -> list[str]:
    return [r.authorization for r in server.requests if r.authorization]


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("challenge_first", [False, True], ids=["anonymous", "after-auth"])
def test_a_redirect_to_another_port_gets_no_credentials(
    other_server: GitHttpServer, tmp_path: Path, challenge_first: bool
) -> None:
    target = BareRemote(other_server, "moved")
    target.commit({"a.txt": "1"})
    with RedirectServer(other_server.base_url, challenge_first=challenge_first) as redirect:
        url = redirect.url_for("moved.git")

        with pytest.raises(GitError) as caught:
            RepoCache(tmp_path / "cache").fetch_branch(url, "main", CREDS)

    assert sent_authorization(other_server) == []
    message = str(caught.value)
    assert other_server.url_for("moved.git") in message
    assert "only sent to the server of `url`" in message
    assert PASSWORD not in message


def test_a_redirect_to_another_host_gets_no_credentials(
    other_server: GitHttpServer, tmp_path: Path
) -> None:
    target = BareRemote(other_server, "moved")
    target.commit({"a.txt": "1"})
    elsewhere = f"http://localhost:{other_server.port}"
    moved = f"http://localhost:{other_server.port}/moved.git"
    with RedirectServer(elsewhere) as redirect, pytest.raises(GitError, match=moved):
        RepoCache(tmp_path / "cache").fetch_branch(redirect.url_for("moved.git"), "main", CREDS)

    assert sent_authorization(other_server) == []


def test_a_redirect_to_a_public_repository_is_followed_without_credentials(
    public_server: GitHttpServer, tmp_path: Path
) -> None:
    target = BareRemote(public_server, "mirror")
    sha = target.commit({"a.txt": "public"})
    with RedirectServer(public_server.base_url) as redirect:
        got = RepoCache(tmp_path / "cache").fetch_branch(
            redirect.url_for("mirror.git"), "main", CREDS
        )

    assert got == sha
    assert sent_authorization(public_server) == []


# -- submodules ---------------------------------------------------------------------------------


def commit_submodule(
    bare: BareRemote, path: str, url: str, sha: str | None, name: str = ""
) -> None:
    """Commit ``.gitmodules`` naming ``url`` and a gitlink at ``path`` to ``sha``."""
    repo = bare.repo
    ref = repo.references.get("refs/heads/main")
    index = pygit2.Index()
    parents: list[pygit2.Oid] = []
    if ref is not None:
        parent = repo[ref.target]
        assert isinstance(parent, pygit2.Commit)
        index.read_tree(parent.tree)
        parents.append(parent.id)
    modules = f'[submodule "{name or path}"]\n\tpath = {path}\n\turl = {url}\n'
    index.add(pygit2.IndexEntry(".gitmodules", repo.create_blob(modules), FileMode.BLOB))
    index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=sha or "1" * 40), FileMode.COMMIT))
    signature = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    repo.create_commit(
        "refs/heads/main", signature, signature, "submodule", index.write_tree(repo), parents
    )


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RunContext]:
    context = RunContext.create(home=tmp_path / "home")
    context.working_dir = tmp_path / "work"
    context.working_dir.mkdir()
    context.task_id = "clone"
    yield context


def clone(ctx: RunContext, url: str, **properties: object) -> Path:
    properties.setdefault("username", USER)
    properties.setdefault("password", PASSWORD)
    output = Clone(id="clone", url=url, **properties).run(ctx)  # type: ignore[arg-type, unused-ignore]
    assert isinstance(output, Clone.Output)
    return Path(output.directory)


def test_a_submodule_on_another_origin_gets_no_credentials(
    remote: MakeRemote, other_server: GitHttpServer, ctx: RunContext
) -> None:
    lib = BareRemote(other_server, "lib")
    lib_sha = lib.commit({"lib.txt": "lib"})
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", lib.url, lib_sha)

    with pytest.raises(GitError, match=f"{lib.url} asks for credentials, but they are only sent"):
        clone(ctx, top.url, clone_submodules=True)

    assert sent_authorization(other_server) == []


def test_a_public_submodule_on_another_origin_is_cloned_anonymously(
    remote: MakeRemote, public_server: GitHttpServer, ctx: RunContext
) -> None:
    lib = BareRemote(public_server, "lib")
    lib_sha = lib.commit({"lib.txt": "public lib"})
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", lib.url, lib_sha)

    folder = clone(ctx, top.url, clone_submodules=True)

    assert (folder / "lib" / "lib.txt").read_text() == "public lib"
    assert sent_authorization(public_server) == []


@pytest.fixture
def local_repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository on the runner's disk, which a submodule URL must not be able to read."""
    path = tmp_path / "runner-disk" / "private.git"
    repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
    blob = repo.create_blob(b"runner secret\n")
    builder = repo.TreeBuilder()
    builder.insert("secret.txt", blob, FileMode.BLOB)
    signature = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
    sha = repo.create_commit("refs/heads/main", signature, signature, "m", builder.write(), [])
    return path, str(sha)


@pytest.mark.parametrize("form", ["file-url", "path"])
def test_a_submodule_reading_the_runners_disk_is_refused(
    remote: MakeRemote, ctx: RunContext, local_repo: tuple[Path, str], form: str
) -> None:
    path, sha = local_repo
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", path.as_uri() if form == "file-url" else str(path), sha)

    with pytest.raises(GitError, match=f"reads the runner's own disk.*{LOCAL_SUBMODULES_ENV}"):
        clone(ctx, top.url, clone_submodules=True)

    assert not list(Path(ctx.working_dir or ".").rglob("secret.txt"))


def test_local_submodules_are_cloned_when_the_operator_allows_them(
    remote: MakeRemote,
    ctx: RunContext,
    local_repo: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, sha = local_repo
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", path.as_uri(), sha)
    ctx.environ[LOCAL_SUBMODULES_ENV] = "true"  # the run's environment, as run_flow gives it

    folder = clone(ctx, top.url, clone_submodules=True)

    assert (folder / "lib" / "secret.txt").read_text() == "runner secret\n"


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "fd::17", "git://127.0.0.1/x"])
def test_other_submodule_transports_are_refused(
    remote: MakeRemote, ctx: RunContext, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx.environ[LOCAL_SUBMODULES_ENV] = "true"  # never opens these
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", url, None)

    with pytest.raises(GitError, match=r"transport; submodules may use http, https or ssh"):
        clone(ctx, top.url, clone_submodules=True)


@pytest.mark.parametrize(("name", "path"), [("../../evil", "lib"), ("lib", "../../evil")])
def test_a_submodule_named_or_pathed_outside_the_clone_is_refused(
    remote: MakeRemote, ctx: RunContext, tmp_path: Path, name: str, path: str
) -> None:
    lib = remote(name="plain-lib", files={"lib.txt": "lib"})
    top = remote(files={"top.txt": "top"})
    commit_submodule(top, "lib", lib.url, lib.head(), name=name)
    if path != "lib":  # the .gitmodules entry points somewhere else than the gitlink
        repo = top.repo
        head = top.head()
        assert head is not None
        commit = repo[head]
        assert isinstance(commit, pygit2.Commit)
        modules = f'[submodule "{name}"]\n\tpath = {path}\n\turl = {lib.url}\n'
        index = pygit2.Index()
        index.read_tree(commit.tree)
        index.add(pygit2.IndexEntry(".gitmodules", repo.create_blob(modules), FileMode.BLOB))
        sig = pygit2.Signature("t", "t@example.com", 1_700_000_000, 0)
        repo.create_commit("refs/heads/main", sig, sig, "m", index.write_tree(repo), [commit.id])

    with pytest.raises(GitError, match="submodule"):
        clone(ctx, top.url, clone_submodules=True)

    assert not list(tmp_path.rglob("lib.txt"))


# -- secrets at rest ----------------------------------------------------------------------------


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[GitHttpServer]:
    """A server whose account is a token given as the user, with an empty password."""
    with GitHttpServer(tmp_path / "token-root", username="ghp_TOKEN4user", password="") as server:
        yield server


def test_a_token_given_as_the_url_user_is_not_stored_in_the_cache(
    token_server: GitHttpServer, tmp_path: Path
) -> None:
    bare = BareRemote(token_server, "tok")
    sha = bare.commit({"a.txt": "1"})
    url = f"http://ghp_TOKEN4user@127.0.0.1:{token_server.port}/tok.git"
    cache = RepoCache(tmp_path / "cache")

    assert cache.fetch_branch(url, "main") == sha

    assert files_holding(cache.root, "ghp_TOKEN4user") == []


def test_a_token_in_the_query_string_is_not_stored_in_the_cache(
    remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"a.txt": "1"})
    cache = RepoCache(tmp_path / "cache")

    cache.fetch_branch(f"{bare.url}?private_token=QUERYSECRET42", "main", CREDS)
    bare.commit({"b.txt": "2"})
    cache.fetch_branch(f"{bare.url}?private_token=QUERYSECRET42", "main", CREDS)

    assert files_holding(cache.root, "QUERYSECRET42") == []
    assert files_holding(cache.root, PASSWORD) == []


def test_a_token_given_as_the_url_user_is_not_stored_in_the_clone(
    token_server: GitHttpServer, ctx: RunContext
) -> None:
    bare = BareRemote(token_server, "tok")
    bare.commit({"a.txt": "1"})
    url = f"http://ghp_TOKEN4user@127.0.0.1:{token_server.port}/tok.git"

    folder = clone(ctx, url, username=None, password=None)

    assert (folder / "a.txt").read_text() == "1"
    assert files_holding(folder, "ghp_TOKEN4user") == []


@pytest.mark.parametrize(
    "template",
    [
        "http://git_user:tok/MALFORMED99@127.0.0.1:{port}/r.git",  # '/' in the password
        "http://git_user:tok#MALFORMED99@127.0.0.1:{port}/r.git",  # '#' in the password
        "http://git_user:MALFORMED99@[127.0.0.1:{port}/r.git",  # broken IPv6 brackets
        "http://git_user:MALFORMED99@127.0.0.1:{port}x/r.git",  # port that is no number
    ],
)
def test_a_malformed_credentialed_url_is_refused_before_writing_anything(
    git_server: GitHttpServer, ctx: RunContext, tmp_path: Path, template: str
) -> None:
    url = template.format(port=git_server.port)

    with pytest.raises(ConfigError, match="`url`") as caught:
        clone(ctx, url, username=None, password=None)

    assert "MALFORMED99" not in str(caught.value)
    assert files_holding(tmp_path, "MALFORMED99") == []
    assert list(Path(ctx.working_dir or ".").iterdir()) == []
