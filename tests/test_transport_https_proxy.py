"""HTTPS through a private CA (trusted per call, never process-wide) and an HTTP CONNECT proxy
(Debian's tinyproxy), against the real git HTTP server of tests/gitserver.py."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest
from gitserver import BareRemote, GitHttpServer
from pki import make_pki
from proxy import TinyProxy
from test_clone import commit_submodule

from kestra_git_tasks.errors import GitNetworkError
from kestra_git_tasks.git import RepoCache, TransportOptions, clone_repository
from kestra_git_tasks.git.push import Identity, Pusher


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[GitHttpServer, Path]]:
    ca, cert, key = make_pki(tmp_path / "pki")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with GitHttpServer(tmp_path / "root", username=None, ssl_context=context) as server:
        yield server, ca


def test_private_ca_is_trusted_for_fetch_push_and_clone(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    sha = bare.commit({"a.yml": "x"})
    options = TransportOptions(trusted_ca_pem_path=str(ca))
    me = Identity("t", "t@example.com")

    assert RepoCache(tmp_path / "c1").fetch_branch(bare.url, "main", None, options) == sha
    result = Pusher(RepoCache(tmp_path / "c2")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"pushed"},
        message="m", author=me, committer=me, options=options,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone", options=options)

    assert str(bare.repo.references["refs/heads/main"].target) == str(result.commit_id)
    assert (tmp_path / "clone" / "b.yml").read_text() == "pushed"


def test_trusting_a_ca_for_one_call_does_not_trust_it_for_the_next(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    bare.commit({"a.yml": "x"})
    RepoCache(tmp_path / "c1").fetch_branch(
        bare.url, "main", None, TransportOptions(trusted_ca_pem_path=str(ca))
    )

    with pytest.raises(GitNetworkError, match="trustedCaPemPath"):
        RepoCache(tmp_path / "c2").fetch_branch(bare.url, "main", None, TransportOptions())
    with pytest.raises(GitNetworkError, match="trustedCaPemPath"):
        clone_repository(bare.url, tmp_path / "clone", options=TransportOptions())


def test_wrong_ca_is_refused_naming_trusted_ca_pem_path(
    https_server: tuple[GitHttpServer, Path], tmp_path: Path
) -> None:
    server, _ = https_server
    other_ca, _, _ = make_pki(tmp_path / "other")
    bare = BareRemote(server, "repo")
    bare.commit({"a.yml": "x"})

    with pytest.raises(GitNetworkError, match=f"`trustedCaPemPath` '{other_ca}'"):
        RepoCache(tmp_path / "c").fetch_branch(
            bare.url, "main", None, TransportOptions(trusted_ca_pem_path=str(other_ca))
        )


@pytest.fixture
def tinyproxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TinyProxy]:
    reason = TinyProxy.available()
    if reason:
        pytest.skip(reason)  # scripts/setup installs it
    with TinyProxy(tmp_path / "proxy") as proxy:
        for name in ("no_proxy", "NO_PROXY", "HTTPS_PROXY", "HTTP_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("https_proxy", proxy.url)
        yield proxy


def test_https_proxy_carries_fetch_push_and_clone_unless_no_proxy(
    https_server: tuple[GitHttpServer, Path], tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    server, ca = https_server
    bare = BareRemote(server, "repo")
    sha = bare.commit({"a.yml": "x"})
    target = f"127.0.0.1:{server.port}"
    proxied = TransportOptions(trusted_ca_pem_path=str(ca))
    direct = TransportOptions(trusted_ca_pem_path=str(ca), no_proxy=True)
    me = Identity("t", "t@example.com")

    assert RepoCache(tmp_path / "c1").fetch_branch(bare.url, "main", None, proxied) == sha
    Pusher(RepoCache(tmp_path / "c2")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"1"},
        message="m", author=me, committer=me, options=proxied,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone", options=proxied)
    through = tinyproxy.connects()
    assert len(through) >= 3 and set(through) == {target}

    RepoCache(tmp_path / "c3").fetch_branch(bare.url, "main", None, direct)
    Pusher(RepoCache(tmp_path / "c4")).push_changes(
        bare.url, "main", lambda view: {"b.yml": b"2"},
        message="m", author=me, committer=me, options=direct,
    )  # fmt: skip
    clone_repository(bare.url, tmp_path / "clone2", options=direct)
    assert tinyproxy.connects() == through


@pytest.fixture
def global_gitconfig(tmp_path: Path) -> Iterator[Path]:
    """A global git config folder for libgit2 in this test (restored after)."""
    level = pygit2.enums.ConfigLevel.GLOBAL
    saved = pygit2.settings.search_path[level]
    folder = tmp_path / "global"
    folder.mkdir()
    pygit2.settings.search_path[level] = str(folder)
    try:
        yield folder / ".gitconfig"
    finally:
        pygit2.settings.search_path[level] = saved


def test_git_http_proxy_setting_is_honoured_unless_no_proxy(
    https_server: tuple[GitHttpServer, Path],
    tinyproxy: TinyProxy,
    global_gitconfig: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("https_proxy")
    global_gitconfig.write_text(f"[http]\n\tproxy = {tinyproxy.url}\n")
    server, ca = https_server
    bare = BareRemote(server, "repo")
    sha = bare.commit({"a.yml": "x"})

    options = TransportOptions(trusted_ca_pem_path=str(ca))
    assert RepoCache(tmp_path / "c1").fetch_branch(bare.url, "main", None, options) == sha
    assert tinyproxy.connects() == [f"127.0.0.1:{server.port}"]

    direct = TransportOptions(trusted_ca_pem_path=str(ca), no_proxy=True)
    assert RepoCache(tmp_path / "c2").fetch_branch(bare.url, "main", None, direct) == sha
    assert tinyproxy.connects() == [f"127.0.0.1:{server.port}"]


def test_submodules_get_the_private_ca_and_the_proxy(
    https_server: tuple[GitHttpServer, Path], tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    server, ca = https_server
    sub = BareRemote(server, "lib")
    sub_sha = sub.commit({"lib.py": "x = 1\n"})
    top = BareRemote(server, "top")
    top.commit({"app.py": "import lib\n"})
    commit_submodule(top, "lib", sub.url, sub_sha)
    options = TransportOptions(trusted_ca_pem_path=str(ca))

    clone_repository(top.url, tmp_path / "plain", options=options)
    parent_only = len(tinyproxy.connects())
    clone_repository(top.url, tmp_path / "clone", options=options, submodules=True)

    assert (tmp_path / "clone" / "lib" / "lib.py").read_text() == "x = 1\n"
    assert len(tinyproxy.connects()) > 2 * parent_only  # the submodule's fetch went through too
    direct = TransportOptions(trusted_ca_pem_path=str(ca), no_proxy=True)
    before = len(tinyproxy.connects())
    clone_repository(top.url, tmp_path / "direct", options=direct, submodules=True)
    assert (tmp_path / "direct" / "lib" / "lib.py").exists()
    assert len(tinyproxy.connects()) == before
    # (an untrusted certificate *through* the proxy is not asserted here: libgit2 1.9 then
    # blocks in git_remote_connect, with pygit2's own callback too; see docs/transports.md)
