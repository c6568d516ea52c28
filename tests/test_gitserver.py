"""The test infrastructure itself: the smart-HTTP git server, the remote factory, isolation."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2
import pytest
from gitserver import GitHttpServer, install_hook
from pygit2.enums import ConfigLevel

if TYPE_CHECKING:
    from conftest import IsolatedEnv, MakeRemote


def _callbacks(server: GitHttpServer) -> pygit2.RemoteCallbacks:
    assert server.username is not None and server.password is not None
    return pygit2.RemoteCallbacks(credentials=pygit2.UserPass(server.username, server.password))


def _git(
    *args: str, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=CLI Test", "-c", "user.email=cli@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _request(
    server: GitHttpServer,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


# -- serving pygit2 --------------------------------------------------------------------------


def test_pygit2_clones_with_basic_auth(
    git_server: GitHttpServer, remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"_flows/a.yml": "id: a\n", "README.md": b"hello\n"})

    clone = pygit2.clone_repository(
        bare.url, str(tmp_path / "clone"), callbacks=_callbacks(git_server)
    )

    assert str(clone.head.target) == bare.head()
    assert (tmp_path / "clone" / "_flows" / "a.yml").read_bytes() == b"id: a\n"
    assert git_server.requests.count(repo=bare.name, status=401) == 1


def test_pygit2_push_of_a_few_hundred_kb_is_dechunked(
    git_server: GitHttpServer, remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"README.md": "start\n"})
    clone = pygit2.clone_repository(
        bare.url, str(tmp_path / "clone"), callbacks=_callbacks(git_server)
    )
    payload = os.urandom(300 * 1024)  # incompressible, so the pack stays a few hundred KB
    (tmp_path / "clone" / "big.bin").write_bytes(payload)
    clone.index.add("big.bin")
    clone.index.write()
    signature = pygit2.Signature("Pusher", "pusher@example.com")
    commit = clone.create_commit(
        "HEAD", signature, signature, "Add big file", clone.index.write_tree(), [clone.head.target]
    )

    clone.remotes["origin"].push(
        ["refs/heads/main:refs/heads/main"], callbacks=_callbacks(git_server)
    )

    assert bare.head() == str(commit)
    assert bare.files()["big.bin"] == payload
    (push,) = git_server.requests.matching(repo=bare.name, endpoint="git-receive-pack")
    assert push.chunked
    assert push.body_bytes > 300 * 1024
    assert push.status == 200


# -- serving the git CLI -----------------------------------------------------------------------


def test_git_cli_clones_and_pushes(
    git_server: GitHttpServer, remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"a.txt": "one\n"})
    work = tmp_path / "work"
    _git("clone", bare.authenticated_url, str(work))
    assert (work / "a.txt").read_text() == "one\n"

    (work / "b.bin").write_bytes(os.urandom(2 * 1024 * 1024))  # above http.postBuffer: chunked
    _git("add", "b.bin", cwd=work)
    _git("commit", "-m", "Add b", cwd=work)
    _git("push", "origin", "main", cwd=work)

    assert bare.head() == _git("rev-parse", "HEAD", cwd=work).stdout.strip()
    assert git_server.requests.count(repo=bare.name, service="git-receive-pack", status=200) >= 2


def test_git_cli_without_credentials_is_refused(remote: MakeRemote, tmp_path: Path) -> None:
    bare = remote(files={"a.txt": "one\n"})

    result = _git("clone", bare.url, str(tmp_path / "work"), check=False)

    assert result.returncode != 0
    assert "Authentication failed" in result.stderr or "could not read Username" in result.stderr


def test_pre_receive_hook_rejects_push(remote: MakeRemote, tmp_path: Path) -> None:
    bare = remote(files={"a.txt": "one\n"})
    before = bare.head()
    install_hook(bare.path, "pre-receive", "#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
    work = tmp_path / "work"
    _git("clone", bare.authenticated_url, str(work))
    (work / "a.txt").write_text("two\n")
    _git("commit", "-am", "Change a", cwd=work)

    result = _git("push", "origin", "main", cwd=work, check=False)

    assert result.returncode != 0
    assert "rejected by policy" in result.stderr
    assert bare.head() == before


# -- HTTP details ----------------------------------------------------------------------------


def test_wrong_password_gets_401_with_basic_challenge(
    git_server: GitHttpServer, remote: MakeRemote
) -> None:
    bare = remote(files={"a.txt": "one\n"})

    status, headers, _ = _request(
        git_server,
        "GET",
        f"/{bare.name}/info/refs?service=git-upload-pack",
        {"Authorization": _basic("git_user", "wrong")},
    )

    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="git"'


def test_gzip_request_body_is_inflated(git_server: GitHttpServer, remote: MakeRemote) -> None:
    bare = remote(files={"a.txt": "one\n"})
    want = f"want {bare.head()}\n".encode()
    body = b"%04x" % (len(want) + 4) + want + b"0000" + b"0009done\n"

    status, _, answer = _request(
        git_server,
        "POST",
        f"/{bare.name}/git-upload-pack",
        {
            "Authorization": _basic("git_user", "s3cr3t-token"),
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        body=gzip.compress(body),
    )

    assert status == 200
    assert b"PACK" in answer
    (record,) = git_server.requests.matching(repo=bare.name, endpoint="git-upload-pack")
    assert record.gzipped
    assert record.body_bytes == len(body)


def test_cgi_status_header_sets_the_response_status(git_server: GitHttpServer) -> None:
    status, _, _ = _request(
        git_server,
        "GET",
        "/no-such-repo.git/info/refs?service=git-upload-pack",
        {"Authorization": _basic("git_user", "s3cr3t-token")},
    )

    assert status == 404


def test_request_log_counts_per_repo_and_service(
    git_server: GitHttpServer, remote: MakeRemote, tmp_path: Path
) -> None:
    bare = remote(files={"a.txt": "one\n"})
    other = remote(files={"b.txt": "two\n"})

    pygit2.clone_repository(bare.url, str(tmp_path / "clone"), callbacks=_callbacks(git_server))

    assert git_server.requests.count(repo=other.name) == 0
    assert git_server.requests.count(repo=bare.name, endpoint="info/refs") == 2  # 401, then 200
    assert git_server.requests.count(repo=bare.name, service="git-upload-pack", method="POST") >= 1


def test_server_listens_on_loopback_only(git_server: GitHttpServer) -> None:
    assert git_server.base_url.startswith("http://127.0.0.1:")
    assert git_server.url_for("x.git") == f"{git_server.base_url}/x.git"
    assert "s3cr3t-token" not in git_server.url_for("x.git")


def test_server_without_auth_accepts_anonymous_clone(tmp_path: Path) -> None:
    with GitHttpServer(tmp_path / "root", username=None, password=None) as server:
        repo = pygit2.init_repository(str(tmp_path / "root" / "open.git"), bare=True)
        tree = repo.TreeBuilder().write()
        signature = pygit2.Signature("A", "a@example.com", 1_700_000_000, 0)
        repo.create_commit("refs/heads/master", signature, signature, "empty", tree, [])

        clone = pygit2.clone_repository(server.url_for("open.git"), str(tmp_path / "clone"))

        assert clone.head.shorthand == "master"


@pytest.mark.parametrize("nodelay", [True, False])
def test_accepted_connections_get_tcp_nodelay_unless_turned_off(
    tmp_path: Path, nodelay: bool
) -> None:
    with GitHttpServer(tmp_path / "root", nodelay=nodelay) as server:
        assert server.nodelay is nodelay
        _request(server, "GET", "/x.git/info/refs?service=git-upload-pack", {})

        [record] = server.requests.all()

    assert record.status == 401
    assert record.nodelay is nodelay


def test_server_sets_tcp_nodelay_by_default(git_server: GitHttpServer) -> None:
    git_server.requests.reset()
    _request(git_server, "GET", "/x.git/info/refs?service=git-upload-pack", {})

    assert [r.nodelay for r in git_server.requests.all()] == [True]


# -- the remote factory ----------------------------------------------------------------------


def test_remote_commits_files_deletes_and_branches(remote: MakeRemote) -> None:
    bare = remote(files={"_flows/a.yml": "id: a\n", "_flows/sub/b.yml": b"id: b\n"})
    first = bare.head()

    second = bare.commit({"c.txt": "c"}, "Add c", delete=["_flows/sub"])
    on_dev = bare.commit({"d.txt": "d"}, "On dev", branch="dev")

    assert first != second
    assert bare.head() == second
    assert bare.files() == {"_flows/a.yml": b"id: a\n", "c.txt": b"c"}
    assert bare.head("dev") == on_dev
    assert bare.head("missing") is None
    commit = bare.repo[second]
    assert isinstance(commit, pygit2.Commit)
    assert commit.author.name == "Kestra Test"
    assert commit.committer.email == "test@kestra.io"


def test_remote_without_files_is_empty(remote: MakeRemote) -> None:
    bare = remote(branch="trunk")

    assert bare.head("trunk") is None
    assert bare.repo.head_is_unborn


# -- isolation -------------------------------------------------------------------------------


def test_isolated_env_gives_an_empty_home_and_git_config(isolated_env: IsolatedEnv) -> None:
    assert os.environ["HOME"] == str(isolated_env.home)
    assert os.environ["GIT_CONFIG_NOSYSTEM"] == "1"
    assert os.environ["KESTRA_GIT_HOME"] == str(isolated_env.kestra_git_home)
    assert not [n for n in os.environ if n.upper().startswith(("SECRET_", "ENV_"))]
    assert not [n for n in os.environ if n.lower() in {"http_proxy", "https_proxy", "all_proxy"}]
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        assert pygit2.settings.search_path[level] == str(isolated_env.home)
    assert _git("config", "--global", "--list", check=False).stdout == ""


@pytest.mark.parametrize("name", ["SECRET_TOKEN", "https_proxy", "GIT_DIR"])
def test_isolated_env_does_not_leak_variables_between_tests(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Variables set by one test are undone by monkeypatch; none are there at the start.
    assert name not in os.environ
    monkeypatch.setenv(name, "leak")
