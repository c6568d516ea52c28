"""How many requests each case makes to the git server, and where the credentials go.

Counted by the real smart-HTTP server of tests/gitserver.py (it records every request). A
no-change sync or push is one request: the ref advertisement, credentials sent up front by
git/smart_http.py. That fast path never follows a redirect and steps aside (libgit2 asks, with
its own origin rules) whenever a proxy may apply or the answer is not a clean advertisement.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gitserver import BareRemote, GitHttpServer, RedirectServer
from proxy import TinyProxy

from kestra_git_tasks import LocalInstance, RunContext, SyncFlows
from kestra_git_tasks.errors import GitAuthError
from kestra_git_tasks.flow import validate_source
from kestra_git_tasks.git import Credentials, RepoCache, TransportOptions
from kestra_git_tasks.git.smart_http import _parse, proxy_may_apply
from kestra_git_tasks.tasks.git.push_flows import PushFlows

if TYPE_CHECKING:
    from conftest import MakeRemote

USER, PASSWORD = "git_user", "s3cr3t-token"
CREDS = Credentials(USER, PASSWORD)


def flow(flow_id: str, namespace: str = "anything", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


def made(server: GitHttpServer, repo: BareRemote) -> list[tuple[str, str, int]]:
    return [(r.method, r.endpoint, r.status) for r in server.requests.matching(repo=repo.name)]


def sync(instance: LocalInstance, home: Path, url: str, password: str = PASSWORD) -> None:
    task = SyncFlows(id="sync", url=url, username=USER, password=password, target_namespace="prod")
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="sync")
    task.run(ctx)


def push(instance: LocalInstance, home: Path, url: str) -> None:
    task = PushFlows(id="push", url=url, username=USER, password=PASSWORD, source_namespace="p")
    ctx = RunContext.create(instance=instance, home=home, namespace="system", flow_id="push")
    task.run(ctx)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[LocalInstance]:
    with LocalInstance(tmp_path / "home", validator=validate_source) as local:
        yield local


# -- the counts -----------------------------------------------------------------------------------
def test_a_no_change_sync_makes_one_request(
    remote: MakeRemote, instance: LocalInstance, tmp_path: Path, git_server: GitHttpServer
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, tmp_path / "home", repo.url)
    git_server.requests.reset()
    sync(instance, tmp_path / "home", repo.url)
    assert made(git_server, repo) == [("GET", "info/refs", 200)]


def test_a_one_change_sync_makes_two_requests_and_no_401_round_trip(
    remote: MakeRemote, instance: LocalInstance, tmp_path: Path, git_server: GitHttpServer
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, tmp_path / "home", repo.url)
    repo.commit({"_flows/a.yml": flow("a", message="changed")}, "change")
    git_server.requests.reset()
    sync(instance, tmp_path / "home", repo.url)
    # the advertisement, then one upload-pack POST (git/upload_pack.py); credentials up front
    assert made(git_server, repo) == [("GET", "info/refs", 200), ("POST", "git-upload-pack", 200)]


def test_a_no_change_push_makes_one_request(
    remote: MakeRemote, instance: LocalInstance, tmp_path: Path, git_server: GitHttpServer
) -> None:
    repo = remote(files={"README.md": "flows"})
    instance.put_flow(flow("a", "p"))
    push(instance, tmp_path / "home", repo.url)
    git_server.requests.reset()
    push(instance, tmp_path / "home", repo.url)
    assert made(git_server, repo) == [("GET", "info/refs", 200)]


# -- where the credentials go ---------------------------------------------------------------------
def test_a_redirect_is_not_followed_by_the_one_request_check(tmp_path: Path) -> None:
    with (
        GitHttpServer(tmp_path / "public", username=None, password=None) as public,
        RedirectServer(public.base_url) as redirect,
    ):
        sha = BareRemote(public, "mirror").commit({"a.txt": "1"})
        cache = RepoCache(tmp_path / "cache")
        url = redirect.url_for("mirror.git")
        assert cache.fetch_branch(url, "main", CREDS) == sha
        assert cache.fetch_branch(url, "main", CREDS) == sha  # the fast path is tried here
        assert [r.authorization for r in public.requests if r.authorization] == []
        # the credentials went to the origin of `url` only, which answered with a redirect
        assert any(a.startswith("Basic ") for a in redirect.authorizations)


def test_wrong_credentials_on_a_no_change_sync_fail_with_libgit2s_message(
    remote: MakeRemote, instance: LocalInstance, tmp_path: Path
) -> None:
    repo = remote(files={"_flows/a.yml": flow("a")})
    sync(instance, tmp_path / "home", repo.url)
    with pytest.raises(GitAuthError) as caught:
        sync(instance, tmp_path / "home", repo.url, password="wrong-token")
    assert "wrong-token" not in str(caught.value)


def test_a_proxy_in_the_environment_leaves_the_check_to_libgit2(
    remote: MakeRemote, tmp_path: Path, git_server: GitHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = TinyProxy.available()
    if reason:
        pytest.skip(reason)
    repo = remote(files={"a.txt": "1"})
    cache = RepoCache(tmp_path / "cache")
    cache.fetch_branch(repo.url, "main", CREDS)
    with TinyProxy(tmp_path / "proxy") as proxy:
        for name in ("no_proxy", "NO_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy.url)
        git_server.requests.reset()
        cache.fetch_branch(repo.url, "main", CREDS)
        assert [status for _, _, status in made(git_server, repo)] == [401, 200]  # libgit2's
        assert proxy_may_apply(TransportOptions(), False)
        assert not proxy_may_apply(TransportOptions(no_proxy=True), False)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not pkt-lines at all",
        b"001e# service=git-upload-pack\n0000",  # cut before the closing flush
        b"001e# service=git-receive-pack\n0000" + b"0000",
        b"001e# service=git-upload-pack\n0000" + b"0010short ref\n" + b"0000",
        b"001e# service=git-upload-pack\n0000" + b"ffff" + b"x" * 10,
    ],
    ids=["empty", "garbage", "truncated", "other-service", "bad-ref", "overlong"],
)
def test_a_malformed_advertisement_is_not_trusted(body: bytes) -> None:
    assert _parse(body) is None


def test_a_well_formed_advertisement_is_read() -> None:
    sha = "a" * 40
    first = f"{sha} HEAD\0multi_ack symref=HEAD:refs/heads/main\n".encode()
    second = f"{sha} refs/heads/main\n".encode()
    body = b"001e# service=git-upload-pack\n0000"
    for line in (first, second):
        body += f"{len(line) + 4:04x}".encode() + line
    assert _parse(body + b"0000") == {"HEAD": sha, "refs/heads/main": sha}
