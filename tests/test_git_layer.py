"""The git layer (kestra_git_tasks.git) against real bare repositories and the real HTTP server."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest
from gitserver import BareRemote, GitHttpServer

from kestra_git_tasks.errors import (
    ConfigError,
    GitAuthError,
    GitDirectoryNotFoundError,
    GitError,
    GitNetworkError,
    GitRefNotFoundError,
)
from kestra_git_tasks.git import Credentials, RepoCache, TransportOptions, redact_url
from kestra_git_tasks.git.cache import CACHE_REF_PREFIX
from kestra_git_tasks.git.push import Identity, Pusher
from kestra_git_tasks.git.remote import Advertised, Connection, check_branch_name
from kestra_git_tasks.git.transport import resolve_credentials

if TYPE_CHECKING:
    from conftest import MakeRemote

PASSWORD = "s3cr3t-token"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FLOWS: dict[str, bytes | str] = {
    "_flows/hello.yml": "id: hello\nnamespace: company.team\n",
    "_flows/nested/deep/world.yaml": b"id: world\r\nnamespace: x\r\n",
    "_flows/binary.bin": bytes(range(256)),
    "README.md": "# repo\n",
}


@pytest.fixture
def cache(tmp_path: Path) -> RepoCache:
    return RepoCache(tmp_path / "cache")


@pytest.fixture
def creds() -> Credentials:
    return Credentials(username="git_user", password=PASSWORD)


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


# -- reading refs through the git layer (what the tasks never need, the tests do) ----------


def advertised(
    cache: RepoCache,
    url: str,
    credentials: Credentials | None = None,
    options: TransportOptions | None = None,
) -> Advertised:
    """The remote's refs, through one connection of the cache's repository."""
    clean_url, creds = resolve_credentials(url, credentials)
    repo = cache.repository(clean_url)
    return Connection.open(repo, clean_url, creds, options or TransportOptions()).refs


def ls_remote(
    cache: RepoCache,
    url: str,
    credentials: Credentials | None = None,
    options: TransportOptions | None = None,
) -> dict[str, str]:
    """``{ref name: sha}`` of every advertised ref, ``HEAD`` included."""
    return {
        name: str(head.oid)
        for name, head in advertised(cache, url, credentials, options).heads.items()
    }


def remote_head(
    cache: RepoCache,
    url: str,
    branch: str,
    credentials: Credentials | None = None,
    options: TransportOptions | None = None,
) -> str | None:
    """The remote's commit of ``branch``, None when the branch is missing."""
    check_branch_name(branch)
    return ls_remote(cache, url, credentials, options).get(f"refs/heads/{branch}")


def default_branch(
    cache: RepoCache, url: str, credentials: Credentials | None = None
) -> str | None:
    return advertised(cache, url, credentials).default_branch()


def cached_head(cache: RepoCache, url: str, branch: str) -> str | None:
    """The commit the cache holds for ``branch`` (no network), None when it holds none."""
    if not (cache.path_for(url) / "HEAD").exists():
        return None
    ref = cache.repository(url).references.get(f"{CACHE_REF_PREFIX}{branch}")
    return None if ref is None else str(ref.target)


def _all_cache_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


# -- fetching --------------------------------------------------------------------------------


def test_fetch_branch_returns_remote_head_and_reads_exact_bytes(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)

    sha = cache.fetch_branch(bare.url, "main", creds)

    assert sha == bare.head()
    tree = cache.list_tree(bare.url, sha, "_flows")
    assert tree is not None
    assert sorted(tree) == ["binary.bin", "hello.yml", "nested/deep/world.yaml"]
    assert cache.read_blob(bare.url, tree["hello.yml"]) == b"id: hello\nnamespace: company.team\n"
    assert (
        cache.read_blob(bare.url, tree["nested/deep/world.yaml"])
        == b"id: world\r\nnamespace: x\r\n"
    )
    assert cache.read_blob(bare.url, tree["binary.bin"]) == bytes(range(256))
    assert cached_head(cache, bare.url, "main") == sha


def test_fetch_branch_is_shallow_by_default(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    bare.commit({"a.txt": "2"})

    cache.fetch_branch(bare.url, "main", creds)

    assert pygit2.Repository(str(cache.path_for(bare.url))).is_shallow


def test_fetch_branch_with_depth_none_fetches_all_history(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    first = bare.head()
    bare.commit({"a.txt": "2"})
    assert first is not None

    cache.fetch_branch(bare.url, "main", creds, depth=None)

    tree = cache.list_tree(bare.url, first, "")
    assert tree is not None
    assert cache.read_blob(bare.url, tree["a.txt"]) == b"1"


def test_fetch_branch_unchanged_costs_only_the_ref_advertisement(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    first = cache.fetch_branch(bare.url, "main", creds)
    first_fetch = git_server.requests.matching(repo=bare.name)
    git_server.requests.reset()

    second = cache.fetch_branch(bare.url, "main", creds)

    assert second == first
    unchanged = git_server.requests.matching(repo=bare.name)
    assert [(r.method, r.endpoint, r.status) for r in unchanged] == [
        ("GET", "info/refs", 200),  # credentials sent up front (git/smart_http.py): no 401
    ]
    assert [r.endpoint for r in first_fetch].count("git-upload-pack") >= 1


def test_fetch_branch_fetches_a_new_commit_incrementally(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    old = cache.fetch_branch(bare.url, "main", creds)
    new_commit = bare.commit(
        {"_flows/new.yml": "id: new\n"}, "Add new", delete=["_flows/binary.bin"]
    )
    git_server.requests.reset()

    new = cache.fetch_branch(bare.url, "main", creds)

    assert new == new_commit != old
    tree = cache.list_tree(bare.url, new, "_flows")
    assert tree is not None
    assert sorted(tree) == ["hello.yml", "nested/deep/world.yaml", "new.yml"]
    assert cache.read_blob(bare.url, tree["new.yml"]) == b"id: new\n"
    assert cache.list_tree(bare.url, old, "_flows") is not None  # the old commit is still there
    assert git_server.requests.count(repo=bare.name, endpoint="git-upload-pack") >= 1
    assert cached_head(cache, bare.url, "main") == new


def test_fetch_branch_reuses_objects_already_cached_for_another_branch(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    sha = cache.fetch_branch(bare.url, "main", creds)
    bare.commit({"b.txt": "2"}, branch="other")  # "other" starts from nothing: a new root
    repo = bare.repo
    repo.references.create("refs/heads/same", pygit2.Oid(hex=sha))
    git_server.requests.reset()

    assert cache.fetch_branch(bare.url, "same", creds) == sha
    assert git_server.requests.count(repo=bare.name, endpoint="git-upload-pack") == 0


def test_fetch_branch_only_fetches_the_branch_asked_for(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    other = bare.commit({"secret-branch.txt": "x"}, branch="other")

    cache.fetch_branch(bare.url, "main", creds)

    repo = pygit2.Repository(str(cache.path_for(bare.url)))
    assert other not in repo
    assert [r for r in repo.references if r.startswith("refs/remotes/")] == [
        "refs/remotes/cache/main"
    ]


def test_remote_head_returns_sha_or_none(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    dev = bare.commit({"b.txt": "2"}, branch="dev")

    assert remote_head(cache, bare.url, "main", creds) == bare.head()
    assert remote_head(cache, bare.url, "dev", creds) == dev
    assert remote_head(cache, bare.url, "missing", creds) is None


def test_remote_head_is_one_ref_advertisement(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})

    remote_head(cache, bare.url, "main", creds)

    assert git_server.requests.count(repo=bare.name) == 2  # 401 challenge + the advertisement
    assert git_server.requests.count(repo=bare.name, endpoint="git-upload-pack") == 0


def test_default_branch_follows_the_remote_head(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"}, branch="develop")
    bare.commit({"b.txt": "2"}, branch="main")

    assert default_branch(cache, bare.url, creds) == "develop"


def test_default_branch_of_an_empty_repository_is_none(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote()

    assert default_branch(cache, bare.url, creds) is None


def test_ls_remote_lists_branches(remote: MakeRemote, cache: RepoCache, creds: Credentials) -> None:
    bare = remote(files={"a.txt": "1"})
    dev = bare.commit({"b.txt": "2"}, branch="dev")

    refs = ls_remote(cache, bare.url, creds)

    assert refs["refs/heads/main"] == bare.head()
    assert refs["refs/heads/dev"] == dev
    assert refs["HEAD"] == bare.head()


# -- missing things --------------------------------------------------------------------------


def test_missing_branch_raises_ref_not_found_naming_branch_and_url(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})

    with pytest.raises(GitRefNotFoundError) as caught:
        cache.fetch_branch(bare.url, "feature/x", creds)

    message = str(caught.value)
    assert "Branch 'feature/x' does not exist in " + bare.url in message
    assert "'main'" in message  # the branches that do exist


def test_invalid_branch_name_is_a_config_error(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})

    with pytest.raises(ConfigError, match="`branch`"):
        cache.fetch_branch(bare.url, "bad..name", creds)


def test_missing_repository_raises_git_error_naming_the_url(
    git_server: GitHttpServer, cache: RepoCache, creds: Credentials
) -> None:
    url = git_server.url_for("no-such-repo.git")

    with pytest.raises(GitError, match=r"No Git repository at .*no-such-repo\.git") as caught:
        cache.fetch_branch(url, "main", creds)

    assert isinstance(caught.value.__cause__, pygit2.GitError)


def test_list_tree_returns_none_for_a_missing_directory(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    sha = cache.fetch_branch(bare.url, "main", creds)

    assert cache.list_tree(bare.url, sha, "_files") is None
    assert cache.list_tree(bare.url, sha, "_flows/nope") is None


def test_list_tree_on_a_file_raises_kestras_message(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    sha = cache.fetch_branch(bare.url, "main", creds)

    with pytest.raises(GitDirectoryNotFoundError) as caught:
        cache.list_tree(bare.url, sha, "README.md")

    assert str(caught.value) == (
        "The path 'README.md' exists but is a file, not a directory. "
        "Sync tasks require a directory to process files."
    )


@pytest.mark.parametrize("root", ["", ".", "/", "./"])
def test_list_tree_of_the_root_lists_every_file(
    root: str, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    sha = cache.fetch_branch(bare.url, "main", creds)

    tree = cache.list_tree(bare.url, sha, root)

    assert tree is not None
    assert sorted(tree) == sorted(FLOWS)


@pytest.mark.parametrize("directory", ["_flows/nested", "./_flows/nested/", "/_flows/nested"])
def test_list_tree_paths_are_relative_to_the_directory(
    directory: str, remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    sha = cache.fetch_branch(bare.url, "main", creds)

    assert list(cache.list_tree(bare.url, sha, directory) or {}) == ["deep/world.yaml"]


def test_reading_before_fetching_raises_ref_not_found(
    cache: RepoCache, git_server: GitHttpServer
) -> None:
    with pytest.raises(GitRefNotFoundError, match="fetch_branch"):
        cache.list_tree(git_server.url_for("never.git"), "0" * 40, "")


def test_read_blob_of_an_unknown_sha_raises_ref_not_found(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"})
    sha = cache.fetch_branch(bare.url, "main", creds)

    with pytest.raises(GitRefNotFoundError):
        cache.read_blob(bare.url, "1" * 40)
    with pytest.raises(GitRefNotFoundError):
        cache.read_blob(bare.url, sha)  # a commit, not a blob
    with pytest.raises(GitRefNotFoundError):
        cache.list_tree(bare.url, "2" * 40, "")


# -- authentication --------------------------------------------------------------------------


def test_wrong_password_raises_auth_error_after_one_attempt(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache
) -> None:
    bare = remote(files={"a.txt": "1"})
    wrong = Credentials(username="git_user", password="not-the-token")

    started = time.monotonic()
    with pytest.raises(GitAuthError) as caught:
        cache.fetch_branch(bare.url, "main", wrong)
    elapsed = time.monotonic() - started

    assert elapsed < 5  # sanity bound only; libgit2's 15 replays would still be fast locally
    # git/smart_http.py's GET (credentials up front, refused), then libgit2's anonymous probe
    # and its one attempt
    assert git_server.requests.count(repo=bare.name) == 3
    assert git_server.requests.count(repo=bare.name, status=401) == 3
    message = str(caught.value)
    assert "username" in message and "password" in message
    assert "not-the-token" not in message


def test_missing_credentials_raise_auth_error(
    git_server: GitHttpServer, remote: MakeRemote, cache: RepoCache
) -> None:
    bare = remote(files={"a.txt": "1"})

    with pytest.raises(GitAuthError, match="no credentials were given"):
        cache.fetch_branch(bare.url, "main")
    assert git_server.requests.count(repo=bare.name) == 1


def test_username_without_password_raises_auth_error(remote: MakeRemote, cache: RepoCache) -> None:
    bare = remote(files={"a.txt": "1"})

    with pytest.raises(GitAuthError, match="`password`"):
        remote_head(cache, bare.url, "main", Credentials(username="git_user"))


def test_password_without_username_raises_auth_error(remote: MakeRemote, cache: RepoCache) -> None:
    bare = remote(files={"a.txt": "1"})

    with pytest.raises(GitAuthError, match="set `username` too"):
        remote_head(cache, bare.url, "main", Credentials(password=PASSWORD))


def test_password_in_the_url_is_used_but_never_stored(remote: MakeRemote, cache: RepoCache) -> None:
    bare = remote(files=FLOWS)

    sha = cache.fetch_branch(bare.authenticated_url, "main")

    assert sha == bare.head()
    # The same cache entry serves the URL with and without the password.
    assert cache.path_for(bare.authenticated_url) == cache.path_for(bare.url)
    assert cached_head(cache, bare.url, "main") == sha
    for path, content in _all_cache_bytes(cache.root):
        assert PASSWORD.encode() not in content, path
    fetch_head = (cache.path_for(bare.url) / "FETCH_HEAD").read_text()
    assert f"of {bare.url}" in fetch_head


def test_cache_files_never_contain_the_password(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files=FLOWS)
    cache.fetch_branch(bare.url, "main", creds)
    bare.commit({"x.txt": "x"})
    cache.fetch_branch(bare.url, "main", creds)

    repo_dir = cache.path_for(bare.url)
    config = (repo_dir / "config").read_text()
    assert "remote" not in config and "url" not in config
    for path, content in _all_cache_bytes(cache.root):
        assert PASSWORD.encode() not in content, path


# -- network failures ------------------------------------------------------------------------


def test_unreachable_port_raises_network_error(
    closed_port: int, cache: RepoCache, creds: Credentials
) -> None:
    url = f"http://127.0.0.1:{closed_port}/repo.git"

    with pytest.raises(GitNetworkError, match="Cannot connect to") as caught:
        cache.fetch_branch(url, "main", creds)

    assert isinstance(caught.value.__cause__, pygit2.GitError)
    assert url in str(caught.value)


def test_silent_server_times_out_as_network_error(
    silent_port: int, cache: RepoCache, creds: Credentials
) -> None:
    options = TransportOptions(connect_timeout_ms=500, read_timeout_ms=300)

    with pytest.raises(GitNetworkError, match="readTimeout"):
        remote_head(cache, f"http://127.0.0.1:{silent_port}/repo.git", "main", creds, options)


def test_unknown_host_raises_network_error(cache: RepoCache, creds: Credentials) -> None:
    with pytest.raises(GitNetworkError, match=r"resolve|connect"):
        remote_head(cache, "http://no-such-host.invalid/repo.git", "main", creds)


def test_tls_failure_raises_network_error_mentioning_trusted_ca(
    git_server: GitHttpServer, cache: RepoCache, creds: Credentials
) -> None:
    url = f"https://127.0.0.1:{git_server.port}/repo.git"  # TLS to a plain-HTTP port

    with pytest.raises(GitNetworkError, match="trustedCaPemPath"):
        remote_head(cache, url, "main", creds)


def test_proxy_is_auto_detected_unless_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
    git_server: GitHttpServer,
    cache: RepoCache,
    creds: Credentials,
) -> None:
    # libgit2 sends only https:// through a proxy (CONNECT); plain http:// always goes direct.
    url = f"https://127.0.0.1:{git_server.port}/repo.git"
    direct = TransportOptions(no_proxy=True, connect_timeout_ms=1000, read_timeout_ms=300)
    proxied = TransportOptions(no_proxy=False, connect_timeout_ms=1000, read_timeout_ms=300)
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(8)
        proxy.settimeout(0.2)
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.getsockname()[1]}")

        with pytest.raises(GitNetworkError, match="TLS"):
            remote_head(cache, url, "main", creds, direct)
        with pytest.raises(socket.timeout):
            proxy.accept()

        with pytest.raises(GitNetworkError, match="readTimeout"):
            remote_head(cache, url, "main", creds, proxied)
        connection, _ = proxy.accept()
        with connection:
            assert connection.recv(100).startswith(f"CONNECT 127.0.0.1:{git_server.port}".encode())


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[GitHttpServer, Path]]:
    """An HTTPS git server with a certificate from a fresh private CA; yields (server, CA file).

    Each test gets its own CA, so trusting one (process-wide, see apply_process_wide_settings)
    never makes another test's certificate trusted.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    d = tmp_path / "pki"
    d.mkdir()
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for args in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=kestra-git test CA"],
        ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext"],
    ):  # fmt: skip
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "server.pem", d / "server.key")
    with GitHttpServer(tmp_path / "tls-root", ssl_context=context) as server:
        yield server, d / "ca.pem"


def test_private_ca_is_rejected_until_trusted_ca_pem_path_names_it(
    tls_server: tuple[GitHttpServer, Path], cache: RepoCache, creds: Credentials
) -> None:
    server, ca_file = tls_server
    bare = BareRemote(server, "tls")
    sha = bare.commit({"a.txt": "over TLS"})

    with pytest.raises(GitNetworkError, match="trustedCaPemPath") as caught:
        cache.fetch_branch(bare.url, "main", creds)
    assert isinstance(caught.value.__cause__, pygit2.GitError)

    trusted = TransportOptions(trusted_ca_pem_path=str(ca_file))
    assert cache.fetch_branch(bare.url, "main", creds, trusted) == sha


def test_missing_trusted_ca_file_is_a_config_error(
    remote: MakeRemote, cache: RepoCache, creds: Credentials, tmp_path: Path
) -> None:
    bare = remote(files={"a.txt": "1"})
    options = TransportOptions(trusted_ca_pem_path=str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigError, match="trustedCaPemPath"):
        remote_head(cache, bare.url, "main", creds, options)


@pytest.mark.parametrize("value", [0, -5, True])
def test_transport_options_reject_non_positive_timeouts(value: int) -> None:
    with pytest.raises(ConfigError, match="connect_timeout_ms"):
        TransportOptions(connect_timeout_ms=value)


# -- concurrency -----------------------------------------------------------------------------


def test_concurrent_processes_share_the_cache_without_corrupting_it(
    remote: MakeRemote, cache: RepoCache, tmp_path: Path
) -> None:
    bare = remote(files=FLOWS)
    bare.commit({f"_flows/f{i}.yml": f"id: f{i}\n" for i in range(50)})
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from kestra_git_tasks.git import Credentials, RepoCache
        cache = RepoCache(Path({str(cache.root)!r}))
        sha = cache.fetch_branch({bare.url!r}, "main", Credentials("git_user", {PASSWORD!r}))
        print(sha, len(cache.list_tree({bare.url!r}, sha, "_flows") or {{}}))
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=PROJECT_ROOT,  # so the checkout's package is imported, installed or not
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]

    assert [w.returncode for w in workers] == [0, 0, 0, 0], [err for _, err in results]
    assert {out.strip() for out, _ in results} == {f"{bare.head()} 53"}
    fsck = subprocess.run(
        ["git", "--git-dir", str(cache.path_for(bare.url)), "fsck", "--no-dangling"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stderr


# -- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@github.com/org/repo.git", "https://user@github.com/org/repo.git"),
        ("https://user:p%40ss@host:8443/r.git", "https://user@host:8443/r.git"),
        ("http://:tok@host/r.git", "http://host/r.git"),
        ("https://user@github.com/org/repo.git", "https://user@github.com/org/repo.git"),
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("ssh://git:pw@host:22/org/repo.git", "ssh://git@host:22/org/repo.git"),
        ("/local/path/repo.git", "/local/path/repo.git"),
        ("https://user:tok@host/r.git?x=1#frag", "https://user@host/r.git?x=1#frag"),
    ],
)
def test_redact_url_strips_the_password(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials(
        username="me", password="pw-123", private_key="-----KEY-----", passphrase="pp"
    )

    shown = repr(creds) + str(creds)

    assert "me" in shown
    for secret in ("pw-123", "-----KEY-----", "pp'"):
        assert secret not in shown
    assert repr(Credentials()) == (
        "Credentials(username=None, password=None, private_key=None, passphrase=None)"
    )


# -- the default-branch rule (git/remote.py), as push uses it ----------------------------------


def test_push_to_a_new_branch_refuses_to_guess_a_default_branch(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"}, branch="dev")
    bare.repo.references.create("HEAD", "refs/heads/unborn", force=True)  # HEAD not advertised
    me = Identity("t", "t@example.com")

    with pytest.raises(GitRefNotFoundError, match=r"Cannot create branch 'feature'.*'dev'"):
        Pusher(cache).push_changes(
            bare.url, "feature", lambda view: {"b.txt": b"2"},
            message="m", author=me, committer=me, credentials=creds,
        )  # fmt: skip

    assert bare.head("feature") is None


def test_push_to_a_new_branch_starts_from_the_remote_heads_branch(
    remote: MakeRemote, cache: RepoCache, creds: Credentials
) -> None:
    bare = remote(files={"a.txt": "1"}, branch="trunk")
    me = Identity("t", "t@example.com")

    result = Pusher(cache).push_changes(
        bare.url, "feature", lambda view: {"b.txt": b"2"},
        message="m", author=me, committer=me, credentials=creds,
    )  # fmt: skip

    assert result.base_commit == bare.head("trunk") and result.created_branch
    assert sorted(bare.files("feature")) == ["a.txt", "b.txt"]
